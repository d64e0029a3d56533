"""Zarr v2 mags (``dataFormat: "zarr"``): a `.zarray` and one file per chunk (`0/0/0/0`).

Zarr v2 has no sharding, so a mag's shard shape is its chunk shape. The chunk files are
read and written by `ZarrArray` (`wkpy.storage._zarr_array`), exactly as unsharded Zarr v3
chunks; this module adds the `.zarray` side (`wkpy.storage._zarr2_meta`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wkpy.errors import DataMismatchError, InvalidRequestError, UnsupportedError
from wkpy.storage._zarr2_meta import ZARRAY, parse_zarray_doc, zarray_document
from wkpy.storage._zarr3_meta import CXYZ, DTYPES, ArrayMeta
from wkpy.storage._zarr_array import ZarrArray
from wkpy.storage.array import ArrayInfo

__all__ = ["Zarr2Array"]


class Zarr2Array(ZarrArray):
    """One Zarr v2 mag folder (the `Array` interface of `wkpy.storage.array`)."""

    META_FILE = ZARRAY
    WHAT = "Zarr v2"

    @classmethod
    def parse_doc(cls, file: Path, doc: Any, axes: Sequence[str] | None = None,
                  ranks: Sequence[int] | None = None) -> ArrayMeta:
        return parse_zarray_doc(file, doc, axes)

    def _info(self, meta: ArrayMeta) -> ArrayInfo:
        chunk = meta.pick(meta.chunk, meta.canonical[1:4])
        return ArrayInfo("zarr", meta.dtype, meta.num_channels, chunk, chunk, meta.compressed,  # type: ignore[arg-type]
                         axes=None if meta.names == CXYZ else meta.names)

    @classmethod
    def create(cls, path: Path, info: ArrayInfo) -> Zarr2Array:
        """Create an empty mag (shape 0 but along c) with the `.zarray` webknossos writes:
        chunks of all channels by `info.chunk_shape` (and by 1 along additional axes,
        `info.axes`), Fortran order, zstd level 5 if `info.compression`.

        Raises
        ------
        InvalidRequestError
            `info.shard_shape` differs from `info.chunk_shape` (Zarr v2 has no sharding; a
            `ValueError` and an `AssertionError`, as webknossos raises).
        DataMismatchError
            Several channels without a c axis.
        UnsupportedError, PropertiesError
            A dtype wkpy does not store, or a Zarr3 codec configuration; axes that repeat
            a name, lack x, y or z, or number more than 8.
        """
        dtype = np.dtype(info.dtype)
        if dtype.name not in DTYPES:
            raise UnsupportedError(f"Zarr cannot store {dtype}; use one of {list(DTYPES)}")
        if tuple(info.shard_shape) != tuple(info.chunk_shape):
            raise InvalidRequestError(f"Zarr (version 2) has no sharding: shard_shape {tuple(info.shard_shape)} "
                                      f"must equal chunk_shape {tuple(info.chunk_shape)}; use zarr3 for shards")
        if info.zarr3_config is not None:
            raise UnsupportedError("a Zarr3Config configures zarr3 mags, not Zarr (version 2) ones")
        axes = tuple(info.axes or CXYZ)
        if "c" not in axes and info.num_channels != 1:
            raise DataMismatchError(f"axes {axes} have no c axis for {info.num_channels} channels")
        doc = zarray_document(dtype, info.num_channels, info.chunk_shape, info.compression, axes)
        return cls._create_from_doc(path, doc, axes)  # type: ignore[no-any-return]
