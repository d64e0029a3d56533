"""`.zarray` of Zarr v2 arrays: parse and check it, and write it as webknossos does.

webknossos 4.3.3 writes a new Zarr v2 mag through tensorstore's ``zarr`` driver: chunks of
all channels by the mag's chunk shape (no sharding in Zarr v2), Fortran order, the
dtype's numpy spelling (``|u1``, ``<u2``), fill value 0, no filters, ``/`` as the chunk-key
separator, and zstd level 5 as the compressor if the mag is compressed (else none). The
text is compact with sorted keys and no trailing newline (`dumps_array`).

Arrays written by other tools are read too: C or F order, either byte order, separator
``.`` (the default) or ``/``, a null fill value (zeros), and the compressors zstd, blosc,
gzip and zlib. Everything else (filters, other compressors, structured dtypes) raises
`UnsupportedError`; malformed fields raise `PropertiesError` naming file and field.
The parsed result is the same `ArrayMeta` the Zarr v3 parser gives (unsharded, keys without
prefix), so the same chunk-file code serves both versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wkpy.errors import PropertiesError, UnsupportedError
from wkpy.properties._schema import Invalid, check_depth
from wkpy.storage._zarr3_meta import (
    CXYZ,
    DTYPES,
    MAX_CHUNK_SIDE,
    MAX_SHAPE,
    ArrayMeta,
    _check_sizes,
    _fail,
    _fill,
    _get,
    _ints,
    _names,
    read_meta_json,
    _show,
    _step,
)

__all__ = ["ZARRAY", "COMPRESSORS", "parse_zarray", "parse_zarray_doc", "zarray_document", "WEBKNOSSOS_COMPRESSOR"]

ZARRAY = ".zarray"
COMPRESSORS = ("zstd", "blosc", "gzip", "zlib")
WEBKNOSSOS_COMPRESSOR = {"id": "zstd", "level": 5}
_BLOSC_SHUFFLES = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}   # -1: by the element size


# type strings wkpy reads: every byte order for each dtype ("|u1", "<u1", "<u2", ">u2", ...)
_TYPESTRS = {order + np.dtype(name).str[1:]: (np.dtype(name), order == ">")
             for name in DTYPES for order in "<>|" if order != "|" or np.dtype(name).itemsize == 1}


def _dtype(file: Path, value: Any) -> tuple[np.dtype, bool]:
    """(native dtype, big endian) of a ``dtype`` field such as ``"<u2"`` or ``"|u1"``."""
    if isinstance(value, list):
        raise UnsupportedError(f"{file}: dtype {_show(value)} is structured; wkpy reads one of {list(DTYPES)}")
    if not isinstance(value, str):
        raise _fail(file, f"dtype is {_show(value)}, not a type string such as '<u2'")
    if value not in _TYPESTRS:
        raise UnsupportedError(f"{file}: dtype {_show(value)} is not supported; use one of {list(DTYPES)} "
                               "as a type string with its byte order ('|u1', '<u2', '>f4')")
    return _TYPESTRS[value]


def _compressor(file: Path, value: Any, itemsize: int) -> list[tuple[Any, ...]]:
    """The compressor as `ShardSpec` steps (none for null)."""
    if value is None:
        return []
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise _fail(file, f"compressor is {value!r}, not null or an object with an 'id'")
    name = value["id"]
    if name not in COMPRESSORS:
        raise UnsupportedError(f"{file}: compressor {name!r} is not supported (supported: {list(COMPRESSORS)})")
    conf = {k: v for k, v in value.items() if k != "id"}
    if name == "blosc":
        shuffle = conf.get("shuffle", 1)
        if shuffle == -1 and not isinstance(shuffle, bool):
            shuffle = 2 if itemsize == 1 else 1
        if isinstance(shuffle, bool) or shuffle not in _BLOSC_SHUFFLES:
            raise _fail(file, f"compressor.shuffle is {shuffle!r}, not -1, 0, 1 or 2")
        conf = {**conf, "shuffle": _BLOSC_SHUFFLES[shuffle], "typesize": itemsize}
    return [_step(file, name, conf, "compressor", itemsize, fields="compressor", names=COMPRESSORS)]


def _parse(file: Path, doc: Any, given: Sequence[str] | None = None) -> ArrayMeta:
    if not isinstance(doc, dict):
        raise _fail(file, "is not a JSON object")
    try:
        check_depth(doc)
    except Invalid as exc:
        raise _fail(file, f"{exc.where}: {exc.message}") from None
    if doc.get("zarr_format") != 2 or isinstance(doc.get("zarr_format"), bool):
        raise _fail(file, f"zarr_format is {doc.get('zarr_format')!r}, not 2")
    shape = _get(file, doc, "shape", ".zarray", list)
    ndim = len(shape)
    # Zarr v2 has no dimension names: the layer's axes name them, else (c,) x, y, z
    names = _names(file, {}, ndim, given)
    shape = _ints(file, shape, "shape", ndim, 0, MAX_SHAPE)
    chunks = _ints(file, _get(file, doc, "chunks", ".zarray", list), "chunks", ndim, 1, MAX_CHUNK_SIDE)
    dtype, big = _dtype(file, doc.get("dtype"))
    order = doc.get("order")
    if order not in ("C", "F"):
        raise _fail(file, f"order is {order!r}, not 'C' or 'F'")
    separator = doc.get("dimension_separator", ".")
    if separator not in (".", "/"):
        raise _fail(file, f"dimension_separator is {separator!r}, not '.' or '/'")
    filters = doc.get("filters")
    if filters is not None and not isinstance(filters, list):
        raise _fail(file, f"filters is {filters!r}, not null or a list")
    if filters:
        raise UnsupportedError(f"{file}: filters {filters!r} are not supported (only null)")
    fill = bytes(dtype.itemsize) if doc.get("fill_value") is None else _fill(file, doc["fill_value"], dtype)
    steps = _compressor(file, doc.get("compressor"), dtype.itemsize)
    _check_sizes(file, names, shape, chunks, chunks, dtype.itemsize, False, chunk_where="chunks")
    axes = tuple(range(ndim)) if order == "C" else tuple(reversed(range(ndim)))
    compressor = doc.get("compressor")
    return ArrayMeta(file, doc, names, shape, dtype, fill, chunks, chunks, False,
                     (compressor,) if compressor else (), axes, big, tuple(steps), False, False, False,
                     "", separator)


def parse_zarray_doc(file: Path, doc: Any, axes: Sequence[str] | None = None) -> ArrayMeta:
    """Check a `.zarray` document (as read from `file`, or about to be written there);
    `axes` as for `parse_zarray`."""
    return _parse(Path(file), doc, axes)


def parse_zarray(file: Path, axes: Sequence[str] | None = None) -> ArrayMeta:
    """Read and check an array's `.zarray`.

    Zarr v2 arrays have no axis names: `axes`, the layer's axis names in array order
    (from ``axisOrder`` and ``additionalAxes`` in its properties, e.g. ``("x", "y", "z",
    "t")`` as webknossos 4.3.3 writes n-d Zarr layers), name them if there are as many as
    the array has dimensions; else a 4-D array is (c, x, y, z) and a 3-D one (x, y, z).

    Raises
    ------
    PropertiesError
        The file is missing or not JSON, or a field is missing or malformed (the message
        names both).
    UnsupportedError
        A valid array that wkpy cannot handle (compressor, filters, dtype, rank).
    """
    return _parse(Path(file), read_meta_json(file, "Zarr v2"), axes)


def zarray_document(dtype: np.dtype, num_channels: int, chunk: Sequence[int], compress: bool,
                    axes: Sequence[str] = CXYZ) -> dict[str, Any]:
    """The `.zarray` webknossos 4.3.3 writes for a new, empty mag whose axes are `axes`.

    Parameters
    ----------
    dtype : the voxel type of one channel.
    num_channels : the number of channels (along c, one chunk holds all).
    chunk : the chunk shape along x, y, z in voxels.
    compress : zstd level 5 if True, no compressor if False.
    axes : the array's axes in order (default (c, x, y, z)); additional axes (an n-d
        layer's, e.g. ``("x", "y", "z", "t")``) are chunked by 1, as webknossos does.
    """
    dtype = np.dtype(dtype)
    side = {"c": num_channels, "x": int(chunk[0]), "y": int(chunk[1]), "z": int(chunk[2])}
    return {"chunks": [side.get(a, 1) for a in axes],
            "compressor": dict(WEBKNOSSOS_COMPRESSOR) if compress else None,
            "dimension_separator": "/", "dtype": dtype.newbyteorder("<").str if dtype.itemsize > 1 else dtype.str,
            "fill_value": 0.0 if dtype.kind == "f" else (False if dtype.kind == "b" else 0), "filters": None,
            "order": "F", "shape": [num_channels if a == "c" else 0 for a in axes], "zarr_format": 2}
