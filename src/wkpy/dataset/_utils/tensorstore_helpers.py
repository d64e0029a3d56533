"""Whole Zarr v3 arrays read and written in one call, under the module path and names of
webknossos 4.3.3 (``webknossos.dataset._utils.tensorstore_helpers``), on wkpy's own
Zarr3 storage: no tensorstore is involved. Local paths only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from wkpy._urls import local_path
from wkpy.storage._zarr3_meta import MAX_NDIM
from wkpy.storage.zarr3 import Zarr3Array, write_whole_array

__all__ = ["read_zarr3_array", "write_zarr3_array"]


def _local(path: str | os.PathLike[str]) -> Path:
    return local_path(path, "Zarr array")


def read_zarr3_array(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole Zarr v3 array at `path` (1 to 8 dimensions), shaped as its `zarr.json` says.

    Raises
    ------
    PropertiesError
        `zarr.json` is missing or malformed.
    UnsupportedError
        A codec, type or rank wkpy does not read, or a URL.
    CorruptFileError
        A damaged chunk file.
    """
    return Zarr3Array.open(_local(path), ranks=range(1, MAX_NDIM + 1)).read_all()


def write_zarr3_array(path: str | os.PathLike[str], data: np.ndarray, *, target_chunk_size_bytes: int,
                      target_shard_size_bytes: int) -> None:
    """Write `data` (1-D or 2-D) as a new sharded Zarr v3 array at `path`, split along the
    first axis into chunks and shards of about the target sizes (as webknossos 4.3.3).

    Raises
    ------
    UnsupportedError
        Data of another rank or type, or a URL.
    AttachmentExistsError
        Something exists at `path` (also a `FileExistsError`).
    """
    write_whole_array(_local(path), data, target_chunk_bytes=target_chunk_size_bytes,
                      target_shard_bytes=target_shard_size_bytes)
