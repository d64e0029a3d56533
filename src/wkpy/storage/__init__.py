"""Storage backends behind one small array interface (`Array`), one class per format, each
reading and writing its bytes through a `Store` (`wkpy.storage.store`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wkpy.errors import UnsupportedError
from wkpy.storage.array import Array, ArrayInfo
from wkpy.storage.store import LocalStore, Store
from wkpy.storage.wkw import WkwArray
from wkpy.storage.zarr2 import Zarr2Array
from wkpy.storage.zarr3 import Zarr3Array, Zarr3Config

__all__ = ["Array", "ArrayInfo", "open_array", "create_array", "FORMATS", "METADATA_FILES", "LocalStore", "Store",
           "Zarr2Array", "Zarr3Array", "Zarr3Config"]

FORMATS = {"wkw": WkwArray, "zarr": Zarr2Array, "zarr3": Zarr3Array}
METADATA_FILES = {"wkw": "header.wkw", "zarr": Zarr2Array.META_FILE, "zarr3": Zarr3Array.META_FILE}
"""The file that makes a folder a mag of each format (what `open_array` reads first)."""


def _cls(data_format: str) -> Any:
    try:
        return FORMATS[data_format]
    except KeyError:
        raise UnsupportedError(f"data format {data_format!r} is not supported; use one of {sorted(FORMATS)}") from None


def open_array(path: Path | Store, data_format: str, axes: Sequence[str] | None = None) -> Array:
    """Open the mag folder `path` (a folder, or a `Store` holding it) written in `data_format`.

    `axes` are the layer's axis names in array order when it has additional axes (see
    `LayerProperties.array_axes`); they name a Zarr array's axes.

    Raises
    ------
    UnsupportedError
        An unknown format, or additional axes for WKW (which has none).
    """
    cls = _cls(data_format)
    extra = [a for a in axes or () if a not in ("c", "x", "y", "z")]
    if cls is not WkwArray:
        return cls.open(path, axes)  # type: ignore[no-any-return]
    if extra:
        raise UnsupportedError(f"{path}: a {data_format} mag cannot hold the additional axes {extra} "
                               "of its layer; n-d layers need data_format='zarr3' or 'zarr'")
    return cls.open(path)  # type: ignore[no-any-return, return-value]


def create_array(path: Path | Store, info: ArrayInfo) -> Array:
    """Create an empty mag folder at `path` (a folder, or a `Store`) with the layout `info`."""
    return _cls(info.data_format).create(path, info)  # type: ignore[no-any-return]
