"""Zarr v3 mags: a `zarr.json` and chunk files (`c/0/0/0/0`), sharded or not.

The chunk files are read and written by `ZarrArray` (`wkpy.storage._zarr_array`); this
module adds the `zarr.json` side: its parser (`wkpy.storage._zarr3_meta`) and the document
webknossos writes for a new mag, of any axis order and with additional axes (n-d layers).

The same class holds the plain 1-D and 2-D arrays of segmentation-layer attachments
(`write_whole_array`, `Zarr3Array.open(path, ranks=...)`, `read_all`), seen in their own
axis order only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wkpy.errors import AttachmentExistsError, DataMismatchError, UnsupportedError
from wkpy.storage._zarr3_meta import (
    CXYZ,
    DTYPES,
    ZARR_JSON,
    ArrayMeta,
    Zarr3Config,
    array_document,
    default_codecs,
    dumps_array,
    parse_array_doc,
    plain_array_document,
    write_json_atomic,
)
from wkpy.storage._zarr_array import ZarrArray, shard_spec
from wkpy.storage.array import ArrayInfo

__all__ = ["ROW_CODECS", "Zarr3Array", "Zarr3ArrayInfo", "Zarr3Config", "row_chunking", "write_whole_array"]


@dataclass(frozen=True)
class Zarr3ArrayInfo(ArrayInfo):
    """The `ArrayInfo` of an opened Zarr3 mag (as webknossos 4.3.3's ``Zarr3ArrayInfo``):
    also its chunk codecs and chunk-key encoding, as `zarr.json` holds them."""

    @property
    def codecs(self) -> tuple[dict[str, Any], ...]:
        """The codecs of the (inner) chunks, e.g. ``({"name": "bytes", ...}, {"name": "zstd", ...})``."""
        return tuple(self.zarr3_config.codecs or ()) if self.zarr3_config else ()  # type: ignore[arg-type]

    @property
    def chunk_key_encoding(self) -> dict[str, Any]:
        """The ``chunk_key_encoding`` object, e.g. ``{"name": "default", "configuration": {"separator": "/"}}``."""
        encoding = self.zarr3_config.chunk_key_encoding if self.zarr3_config else None
        return dict(encoding) if encoding is not None else {"name": "default"}


class Zarr3Array(ZarrArray):
    """One Zarr v3 mag folder (the `Array` interface of `wkpy.storage.array`).

    Boxes are along (x, y, z, additional axes in the array's order) and arrays are
    (c, x, y, z, additional axes); `info.extra_axes` names the additional axes.
    """

    META_FILE = ZARR_JSON
    WHAT = "Zarr v3"

    @classmethod
    def parse_doc(cls, file: Path, doc: Any, axes: Sequence[str] | None = None,
                  ranks: Sequence[int] | None = None) -> ArrayMeta:
        return parse_array_doc(file, doc, axes, ranks)

    def _info(self, meta: ArrayMeta) -> ArrayInfo:
        xyz = meta.canonical[1:4]
        return Zarr3ArrayInfo("zarr3", meta.dtype, meta.num_channels, meta.pick(meta.chunk, xyz),  # type: ignore[arg-type]
                         meta.pick(meta.shard, xyz), meta.compressed,  # type: ignore[arg-type]
                         Zarr3Config(tuple(meta.inner_codecs), meta.doc["chunk_key_encoding"]),
                         axes=None if meta.names == CXYZ else meta.names)

    @classmethod
    def create(cls, path: Path, info: ArrayInfo) -> Zarr3Array:
        """Create an empty mag (shape 0 but along c) with webknossos' metadata for `info`.

        `info.zarr3_config` overrides the chunk codecs and key encoding; without it the
        codecs are webknossos' defaults (zstd only if `info.compression`). `info.axes`
        gives the axis order (default (c, x, y, z)); an array without c holds one channel.

        Raises
        ------
        DataMismatchError
            A shard shape that is not a multiple of the chunk shape, or several channels
            without a c axis.
        UnsupportedError, PropertiesError
            A dtype Zarr3 cannot store; axes that repeat a name, lack x, y or z, or number
            more than 8.
        """
        dtype = np.dtype(info.dtype)
        if dtype.name not in DTYPES:
            raise UnsupportedError(f"Zarr3 cannot store {dtype}; use one of {list(DTYPES)}")
        cls._check_shapes(info)
        axes = tuple(info.axes or CXYZ)
        if "c" not in axes and info.num_channels != 1:
            raise DataMismatchError(f"axes {axes} have no c axis for {info.num_channels} channels")
        config = info.zarr3_config or Zarr3Config()
        codecs = list(config.codecs) if config.codecs is not None else default_codecs(info.compression, len(axes))
        doc = array_document(dtype, info.num_channels, info.chunk_shape, info.shard_shape, codecs,
                             config.chunk_key_encoding, axes)
        return cls._create_from_doc(path, doc)  # type: ignore[no-any-return]


# bytes in little-endian order, then zstd level 5 with checksum, inside `sharding_indexed`:
# the codecs webknossos writes the arrays of attachments with
ROW_CODECS = ({"name": "bytes", "configuration": {"endian": "little"}},
              {"name": "zstd", "configuration": {"level": 5, "checksum": True}})


def row_chunking(shape: Sequence[int], itemsize: int, target_chunk_bytes: int, target_shard_bytes: int,
                 ) -> tuple[list[int], list[int]]:
    """Chunk and shard shapes that split an array along its first axis only, about
    `target_chunk_bytes` per chunk and `target_shard_bytes` per shard, shards a whole
    number of chunks, chunks no longer than the array (one row at least): webknossos'
    rule for the arrays of attachments."""
    rest = [max(1, s) for s in shape[1:]]      # chunk sides are >= 1, also for an axis of length 0
    row_bytes = itemsize * math.prod(rest)
    rows = max(1, shape[0])
    chunk = max(1, min(rows, target_chunk_bytes // row_bytes))
    shard = max(chunk, min(rows, target_shard_bytes // row_bytes))
    shard = -(-shard // chunk) * chunk
    return [chunk, *rest], [shard, *rest]


def write_whole_array(path: Path, data: np.ndarray, *, target_chunk_bytes: int, target_shard_bytes: int,
                      ) -> Zarr3Array:
    """Create the Zarr v3 array folder `path` (new, its parent existing) holding `data`
    (1-D or 2-D) as webknossos writes the arrays of attachments: `zarr.json` as
    tensorstore writes it (no dimension names, fill value 0), `ROW_CODECS` inside
    ``sharding_indexed``, chunks and shards by `row_chunking`. The array is plain (see
    `Zarr3Array.open`), of `data`'s rank.

    Raises
    ------
    UnsupportedError
        `data` has a rank other than 1 or 2 or a type Zarr3 cannot store.
    AttachmentExistsError
        Something exists at `path` (also a `FileExistsError`).
    """
    data = np.asarray(data)
    dtype = data.dtype.newbyteorder("=")
    if data.ndim not in (1, 2):
        raise UnsupportedError(f"{path}: whole-array writes take 1-D or 2-D data, not {data.ndim}-D")
    if dtype.name not in DTYPES:
        raise UnsupportedError(f"Zarr3 cannot store {dtype}; use one of {list(DTYPES)}")
    chunk, shard = row_chunking(data.shape, dtype.itemsize, target_chunk_bytes, target_shard_bytes)
    path = Path(path)
    file = path / ZARR_JSON
    doc = plain_array_document(dtype, data.shape, chunk, shard, ROW_CODECS)
    meta = parse_array_doc(file, doc, ranks=(data.ndim,))
    shard_spec(meta)
    try:
        path.mkdir()
    except FileExistsError:
        raise AttachmentExistsError(f"{path} exists already") from None
    write_json_atomic(file, dumps_array(doc))
    array = Zarr3Array(path, meta)
    if data.size:
        array._write_view((0,) * data.ndim, np.asarray(data, dtype))
    return array
