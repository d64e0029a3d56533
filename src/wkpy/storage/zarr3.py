"""Zarr v3 mags: a `zarr.json` and chunk files (`c/0/0/0/0`), sharded or not.

The chunk files are read and written by `ZarrArray` (`wkpy.storage._zarr_array`); this
module adds the `zarr.json` side: its parser (`wkpy.storage._zarr3_meta`) and the document
webknossos writes for a new mag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wkpy.errors import UnsupportedError
from wkpy.storage._zarr3_meta import (
    DTYPES,
    ZARR_JSON,
    ArrayMeta,
    Zarr3Config,
    array_document,
    default_codecs,
    parse_array,
    parse_array_doc,
)
from wkpy.storage._zarr_array import ZarrArray
from wkpy.storage.array import ArrayInfo

__all__ = ["Zarr3Array", "Zarr3Config"]


class Zarr3Array(ZarrArray):
    """One Zarr v3 mag folder (the `Array` interface of `wkpy.storage.array`)."""

    META_FILE = ZARR_JSON

    @classmethod
    def parse_file(cls, file: Path) -> ArrayMeta:
        return parse_array(file)

    @classmethod
    def parse_doc(cls, file: Path, doc: Any) -> ArrayMeta:
        return parse_array_doc(file, doc)

    def _info(self, meta: ArrayMeta) -> ArrayInfo:
        return ArrayInfo("zarr3", meta.dtype, meta.shape[0], meta.chunk[1:], meta.shard[1:],  # type: ignore[arg-type]
                         meta.compressed, Zarr3Config(tuple(meta.inner_codecs), meta.doc["chunk_key_encoding"]))

    @classmethod
    def create(cls, path: Path, info: ArrayInfo) -> Zarr3Array:
        """Create an empty mag (shape (c, 0, 0, 0)) with webknossos' metadata for `info`.

        `info.zarr3_config` overrides the chunk codecs and key encoding; without it the
        codecs are webknossos' defaults (zstd only if `info.compression`).

        Raises
        ------
        UnsupportedError
            A dtype Zarr v3 cannot store, or codecs wkpy cannot write.
        DataMismatchError
            `info.shard_shape` is not a multiple of `info.chunk_shape`.
        """
        dtype = np.dtype(info.dtype)
        if dtype.name not in DTYPES:
            raise UnsupportedError(f"Zarr3 cannot store {dtype}; use one of {list(DTYPES)}")
        cls._check_shapes(info)
        config = info.zarr3_config or Zarr3Config()
        codecs = list(config.codecs) if config.codecs is not None else default_codecs(info.compression)
        doc = array_document(dtype, info.num_channels, info.chunk_shape, info.shard_shape, codecs,
                             config.chunk_key_encoding)
        return cls._create_from_doc(path, doc)  # type: ignore[no-any-return]
