"""`zarr.json` of Zarr v3 arrays: parse and check it, and write it as webknossos does.

webknossos writes array metadata through tensorstore, whose JSON is compact with sorted
keys and normalised codec configurations (defaults spelled out, a 1-byte type's `bytes`
codec without `endian`, the default chunk-key separator and index location left out);
`dumps_array` and `normalize_codec` reproduce that text byte for byte.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wkcore._shard import MAX_NDIM  # axes the shard kernels handle
from wkpy._paths import read_small_file, write_file_atomic
from wkpy.errors import PropertiesError, UnsupportedError
from wkpy.properties._schema import Invalid, check_depth

__all__ = ["ZARR_JSON", "Zarr3Config", "ArrayMeta", "parse_array", "parse_array_doc", "array_document",
           "plain_array_document", "dumps_array", "normalize_codec", "default_codecs", "read_meta_json",
           "write_json_atomic", "parse_meta_json", "META_LIMIT"]

ZARR_JSON = "zarr.json"
META_LIMIT = 64 << 20
"""Bytes a metadata file may have (as `wkpy._paths.read_small_file`)."""
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
COMPRESSORS = ("zstd", "blosc", "gzip", "zlib")   # zlib: Zarr v2 only
V3_STEPS = ("zstd", "blosc", "gzip", "crc32c")     # the bytes-to-bytes codecs of Zarr v3
_SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_BLOSC_CNAMES = ("blosclz", "lz4", "lz4hc", "zlib", "zstd")
CXYZ = ("c", "x", "y", "z")
_AXES = {4: CXYZ, 3: ("x", "y", "z")}      # the axes of arrays without dimension_names
MAX_NAME = 256                              # characters of one dimension name

# Bounds on what a zarr.json may claim, so that a hostile file is refused when it is read
# instead of making a read allocate what it says. Shapes are sparse (only written chunks
# exist), so their sides only have to stay addressable (tensorstore's largest finite
# index); chunks and shard indexes are materialised, so their sizes are bounded.
MAX_SHAPE = 2**62 - 2
MAX_CHANNELS = 2**16
MAX_CHUNK_SIDE = 2**31
MAX_CHUNK_BYTES = 2**31          # one decoded inner chunk
MAX_CHUNKS_PER_SHARD = 2**24     # a shard index of 16 bytes per chunk: 256 MiB
MAX_SHARD_BYTES = 2**40          # one whole shard, decoded


@dataclass(frozen=True)
class Zarr3Config:
    """Codec chain of the (inner) chunks and chunk-key encoding for a new Zarr3 mag.

    Mirrors webknossos' `Zarr3Config`: `codecs` is the list of codec objects applied to each
    chunk (e.g. ``[{"name": "transpose", ...}, {"name": "bytes"}, {"name": "zstd", ...}]``);
    None means webknossos' default. `chunk_key_encoding` None means ``{"name": "default"}``.
    """

    codecs: Sequence[Mapping[str, Any]] | None = None
    chunk_key_encoding: Mapping[str, Any] | None = None

    def __hash__(self) -> int:
        return hash(json.dumps([self.codecs, self.chunk_key_encoding], sort_keys=True, default=str))


def default_codecs(compress: bool, ndim: int = 4) -> list[dict[str, Any]]:
    """webknossos' chunk codecs for an array of `ndim` axes: Fortran order, little endian,
    then zstd level 5 with checksum."""
    codecs: list[dict[str, Any]] = [
        {"name": "transpose", "configuration": {"order": list(reversed(range(ndim)))}},
        {"name": "bytes", "configuration": {"endian": "little"}},
    ]
    if compress:
        codecs.append({"name": "zstd", "configuration": {"level": 5, "checksum": True}})
    return codecs


@dataclass(frozen=True)
class ArrayMeta:
    """A checked `zarr.json` of an array. Shapes are in the array's own axis order (`names`).

    `names` are the dimension names: ``dimension_names`` (``"channel"`` read as ``"c"``), or
    for arrays without them ``(c, x, y, z)`` (4 axes) or ``(x, y, z)`` (3 axes). They hold
    x, y and z once each, ``c`` at most once, and any other (additional) axes, e.g.
    ``("t", "x", "y", "z")`` or ``("c", "t", "x", "y", "z")`` as webknossos 4.3.3 writes
    n-d layers. `canonical` maps wkpy's canonical axis order -- c, x, y, z, then the
    additional axes in the array's order -- to positions in `names` (None for an absent c).

    A *plain* array (`plain`; opened with `ranks`, e.g. the 1-D and 2-D arrays of
    attachments) is any array of those ranks, seen in its own axis order only: its `names`
    are its ``dimension_names`` ("" for unnamed axes) and it has no `canonical` order.
    """

    file: Path
    doc: dict[str, Any] = field(repr=False)
    names: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    fill: bytes                         # the fill value as little-endian bytes
    shard: tuple[int, ...]              # the regular grid's chunk (a file)
    chunk: tuple[int, ...]              # the inner chunk (== shard when unsharded)
    sharded: bool
    inner_codecs: tuple[dict[str, Any], ...]
    order: tuple[int, ...]
    big_endian: bool
    steps: tuple[tuple[Any, ...], ...]
    index_at_start: bool
    index_big_endian: bool
    index_crc: bool
    key_prefix: str                     # "c" + separator for the default encoding, else ""
    separator: str
    plain: bool = False

    @property
    def ndim(self) -> int:
        return len(self.names)

    @property
    def extra_axes(self) -> tuple[str, ...]:
        """The additional axes (neither c, x, y nor z), in the array's order."""
        return tuple(n for n in self.names if n not in CXYZ)

    @property
    def canonical(self) -> tuple[int | None, ...]:
        """Position in `names` of c, x, y, z and then each additional axis (None: no c)."""
        where = {n: i for i, n in enumerate(self.names)}
        return (where.get("c"), where["x"], where["y"], where["z"], *(where[n] for n in self.extra_axes))

    @property
    def num_channels(self) -> int:
        c = self.canonical[0]
        return 1 if c is None else self.shape[c]

    def pick(self, values: Sequence[int], axes: Sequence[int | None] | None = None) -> tuple[int, ...]:
        """`values` (one per array axis) at the canonical positions x, y, z, extras...
        (or at `axes`)."""
        return tuple(values[a] for a in (axes or self.canonical[1:]))  # type: ignore[index]

    def place(self, canonical: Sequence[int], c: int) -> tuple[int, ...]:
        """An array-order tuple from values along (x, y, z, extras...) and `c` for the channel axis."""
        out = [c] * self.ndim
        for value, a in zip(canonical, self.canonical[1:]):
            out[a] = value  # type: ignore[index]
        return tuple(out)

    @property
    def compressed(self) -> bool:
        return any(s[0] in COMPRESSORS for s in self.steps)

    @property
    def fill_value(self) -> Any:
        return np.frombuffer(self.fill, self.dtype.newbyteorder("<"))[0]

    def key(self, index: Sequence[int]) -> str:
        """The file name (relative to the array folder) of the grid chunk at `index` (array order)."""
        return self.key_prefix + self.separator.join(str(int(i)) for i in index)

    def parse_key(self, key: str) -> tuple[int, ...] | None:
        """The grid index (array order) of a file name, or None if it is not a chunk key."""
        if not key.startswith(self.key_prefix):
            return None
        parts = key[len(self.key_prefix):].split(self.separator)
        # ASCII digits as `key` writes them: "03" or "\u0663" would name another file than index 3's
        if len(parts) != self.ndim or not all(p.isascii() and p.isdigit() and str(int(p)) == p for p in parts):
            return None
        return tuple(int(p) for p in parts)

    def doc_with_shape(self, shape: Sequence[int]) -> dict[str, Any]:
        """The metadata document with another `shape` (in array order; same for both Zarr
        versions)."""
        doc = dict(self.doc)
        doc["shape"] = list(shape)
        return doc

    @property
    def reparse(self) -> tuple[Sequence[str] | None, Sequence[int] | None]:
        """The (`axes`, `ranks`) arguments that parse this array's `zarr.json` the same way again."""
        return (None, (self.ndim,)) if self.plain else (self.names, None)


def _fail(file: Path, what: str) -> PropertiesError:
    return PropertiesError(f"{file}: {what}")


def _get(file: Path, obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _fail(file, f"{where} has no field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(file, f"{where}.{key} is {value!r}, not a {getattr(kind, '__name__', kind)}")
    return value


def _ints(file: Path, value: Any, where: str, ndim: int, low: int, high: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != ndim or \
            not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in value):
        raise _fail(file, f"{where} is {_show(value)}, not {ndim} integers >= {low}")
    if high is not None and any(v > high for v in value):
        raise _fail(file, f"{where} is {_show(value)}: a side is larger than {high}")
    return tuple(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_sizes(file: Path, names: tuple[str, ...], shape: tuple[int, ...], shard: tuple[int, ...],
                 chunk: tuple[int, ...], itemsize: int, sharded: bool, chunk_where: str | None = None) -> None:
    """Refuse channel counts, chunks and shards too large to hold in memory (shapes in the
    order of `names`). `chunk_where` names the chunk shape's field (default: the Zarr v3 one)."""
    if "c" in names and shape[names.index("c")] > MAX_CHANNELS:
        c = names.index("c")
        raise _fail(file, f"shape[{c}] (channels) is {shape[c]}, more than {MAX_CHANNELS}")
    if chunk_where is None:
        chunk_where = "codecs[0].configuration.chunk_shape" if sharded else "chunk_grid.configuration.chunk_shape"
    if math.prod(chunk) * itemsize > MAX_CHUNK_BYTES:
        raise _fail(file, f"{chunk_where} {list(chunk)} makes chunks of {math.prod(chunk) * itemsize} bytes, "
                          f"more than {MAX_CHUNK_BYTES}")
    per_shard = math.prod(s // c for s, c in zip(shard, chunk))
    if per_shard > MAX_CHUNKS_PER_SHARD:
        raise _fail(file, f"chunk_grid.configuration.chunk_shape {list(shard)} holds {per_shard} chunks, "
                          f"more than {MAX_CHUNKS_PER_SHARD}")
    if math.prod(shard) * itemsize > MAX_SHARD_BYTES:
        raise _fail(file, f"chunk_grid.configuration.chunk_shape {list(shard)} makes shards of "
                          f"{math.prod(shard) * itemsize} bytes, more than {MAX_SHARD_BYTES}")


def _codec(file: Path, c: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(c, str):
        return c, {}
    if not isinstance(c, dict) or not isinstance(c.get("name"), str):
        raise _fail(file, f"{where} is {c!r}, not a codec object with a name")
    conf = c.get("configuration", {})
    if not isinstance(conf, dict):
        raise _fail(file, f"{where}.configuration is {conf!r}, not an object")
    return c["name"], conf


def _step(file: Path, name: str, conf: dict[str, Any], where: str, itemsize: int,
          fields: str | None = None, names: tuple[str, ...] = V3_STEPS) -> tuple[Any, ...]:
    """A bytes-to-bytes codec as a `ShardSpec` step. `conf` holds its parameters at
    `fields` in the file (default: ``<where>.configuration``); `names` are the codecs the
    format has (Zarr v2 adds ``zlib`` and has no ``crc32c``)."""
    at = f"{where}.configuration" if fields is None else fields
    if name not in names:
        raise UnsupportedError(f"{file}: {where}: codec {name!r} is not supported "
                               f"(supported: transpose, bytes, sharding_indexed, {', '.join(names)})")

    def num(key: str, default: int, low: int, high: int) -> int:
        v = conf.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise _fail(file, f"{at}.{key} is {v!r}, not an integer in [{low}, {high}]")
        return v

    if name == "crc32c":
        return ("crc32c",)
    if name == "zstd":
        checksum = conf.get("checksum", False)
        if not isinstance(checksum, bool):
            raise _fail(file, f"{at}.checksum is {checksum!r}, not a boolean")
        return ("zstd", num("level", 0, -131072, 22), checksum)
    if name in ("gzip", "zlib"):
        return (name, num("level", 6 if name == "gzip" else 1, 0, 9))
    # blosc
    cname, shuffle = conf.get("cname", "lz4"), conf.get("shuffle", "noshuffle")
    if cname not in _BLOSC_CNAMES:
        raise UnsupportedError(f"{file}: {where}: blosc cname {cname!r} is not one of {list(_BLOSC_CNAMES)}")
    if shuffle not in _SHUFFLES:
        raise _fail(file, f"{at}.shuffle is {shuffle!r}, not one of {list(_SHUFFLES)}")
    return ("blosc", cname, num("clevel", 5, 0, 9), _SHUFFLES[shuffle], num("typesize", itemsize, 1, 255),
            num("blocksize", 0, 0, (1 << 30) - 1))


def _chain(file: Path, codecs: Any, where: str, ndim: int, itemsize: int,
           ) -> tuple[tuple[int, ...], bool, list[tuple[Any, ...]], int | None]:
    """(transpose order, big endian, bytes-to-bytes steps, index of sharding_indexed or None)."""
    if not isinstance(codecs, list) or not codecs:
        raise _fail(file, f"{where} is {codecs!r}, not a non-empty list of codecs")
    order: tuple[int, ...] = tuple(range(ndim))
    big, steps, serializer = False, [], None
    for i, c in enumerate(codecs):
        name, conf = _codec(file, c, f"{where}[{i}]")
        if serializer is None and name == "transpose":
            if i != 0:
                raise UnsupportedError(f"{file}: {where}[{i}]: more than one transpose codec is not supported")
            given = conf.get("order")
            if given in ("C", "F"):   # the early Zarr v3 form, in files of older webknossos versions
                given = list(range(ndim)) if given == "C" else list(reversed(range(ndim)))
            order = _ints(file, given, f"{where}[{i}].configuration.order", ndim, 0)
            if sorted(order) != list(range(ndim)):
                raise _fail(file, f"{where}[{i}].configuration.order {list(order)} is not a permutation")
        elif serializer is None and name in ("bytes", "sharding_indexed"):
            serializer = i
            if name == "bytes":
                endian = conf.get("endian", "little")
                if endian not in ("little", "big"):
                    raise _fail(file, f"{where}[{i}].configuration.endian is {endian!r}, not 'little' or 'big'")
                big = endian == "big"
        elif serializer is None:
            raise UnsupportedError(f"{file}: {where}[{i}]: codec {name!r} where an array codec (transpose, "
                                   "bytes, sharding_indexed) must come is not supported")
        else:
            steps.append(_step(file, name, conf, f"{where}[{i}]", itemsize))
    if serializer is None:
        raise _fail(file, f"{where} has no 'bytes' or 'sharding_indexed' codec")
    if len(steps) > 3 or sum(s[0] in COMPRESSORS for s in steps) > 1 or sum(s[0] == "crc32c" for s in steps) > 1:
        raise UnsupportedError(f"{file}: {where}: at most one compressor and one crc32c are supported")
    sharding = serializer if _codec(file, codecs[serializer], where)[0] == "sharding_indexed" else None
    return order, big, steps, sharding


def _fill(file: Path, value: Any, dtype: np.dtype) -> bytes:
    le = dtype.newbyteorder("<")
    try:
        if dtype.kind == "f" and isinstance(value, str):
            if value.startswith("0x"):
                return int(value, 16).to_bytes(dtype.itemsize, "little")
            value = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
        if dtype.kind == "b" and not isinstance(value, bool) or dtype.kind in "iu" and \
                (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError
        if not isinstance(value, (bool, int, float)):
            raise TypeError
        arr = np.array(value, dtype=le)
        if dtype.kind in "iu" and int(arr) != value:
            raise OverflowError
        return arr.tobytes()
    except (TypeError, KeyError, ValueError, OverflowError):
        raise _fail(file, f"fill_value {value!r} is not a {dtype} value") from None


def _names(file: Path, doc: dict[str, Any], ndim: int, given: Sequence[str] | None,
           ranks: Sequence[int] | None = None) -> tuple[str, ...]:
    """The array's axis names (see `ArrayMeta`): `given` (the layer's, from its properties)
    if it has one name per axis, else ``dimension_names``, else the default for the rank.
    With `ranks` (a plain array): ``dimension_names`` as they are ("" for unnamed axes)."""
    if ranks is not None and ndim not in ranks:
        raise UnsupportedError(f"{file}: arrays of {ndim} dimensions are not supported here "
                               f"(need {' or '.join(map(str, ranks))})")
    if ndim > MAX_NDIM or ndim < 1:
        raise UnsupportedError(f"{file}: arrays of {ndim} dimensions are not supported (1 to {MAX_NDIM})")
    names = doc.get("dimension_names")
    if names is not None:
        if not isinstance(names, list) or len(names) != ndim:
            raise _fail(file, f"dimension_names is {_show(names)}, not a list of {ndim} names")
        if ranks is not None and all(n is None or isinstance(n, str) and len(n) <= MAX_NAME for n in names):
            return tuple(n or "" for n in names)
        if any(n is None for n in names):          # unnamed axes: only the defaults apply
            names = None
        elif not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in names):
            raise _fail(file, f"dimension_names is {_show(names)}: each name must be a string of 1 to "
                              f"{MAX_NAME} characters")
    if ranks is not None:
        return ("",) * ndim
    if given is not None and len(given) == ndim:
        names, what = list(given), "the layer's axes (axisOrder, additionalAxes)"
    else:
        what = "dimension_names"
    if names is None:
        if ndim not in _AXES:
            raise UnsupportedError(f"{file}: arrays of {ndim} dimensions need dimension_names "
                                   "(or the layer's axisOrder and additionalAxes) to name x, y and z")
        return _AXES[ndim]
    names = ["c" if n == "channel" else n for n in names]
    if len(set(names)) != ndim:
        raise _fail(file, f"{what} {_show(names)} name an axis twice")
    if not {"x", "y", "z"} <= set(names):
        raise UnsupportedError(f"{file}: {what} {_show(names)} lack x, y or z; wkpy reads arrays with "
                               "x, y and z axes (plus c and additional axes)")
    return tuple(names)


def _parse(file: Path, doc: Any, given: Sequence[str] | None = None, ranks: Sequence[int] | None = None,
           ) -> ArrayMeta:
    if not isinstance(doc, dict):
        raise _fail(file, "is not a JSON object")
    try:
        check_depth(doc)
    except Invalid as exc:
        raise _fail(file, f"{exc.where}: {exc.message}") from None
    if doc.get("zarr_format") != 3:
        raise _fail(file, f"zarr_format is {doc.get('zarr_format')!r}, not 3")
    if doc.get("node_type") != "array":
        raise _fail(file, f"node_type is {doc.get('node_type')!r}, not 'array' (a group is not a mag)")
    for key in doc.get("storage_transformers") or []:
        raise UnsupportedError(f"{file}: storage transformer {key!r} is not supported")
    shape = _get(file, doc, "shape", "zarr.json", list)
    ndim = len(shape)
    names = _names(file, doc, ndim, given, ranks)
    shape = _ints(file, shape, "shape", ndim, 0, MAX_SHAPE)
    dtype_name = _get(file, doc, "data_type", "zarr.json", str)
    if dtype_name not in DTYPES:
        raise UnsupportedError(f"{file}: data_type {dtype_name!r} is not supported; use one of {list(DTYPES)}")
    dtype = np.dtype(dtype_name)
    grid = _get(file, doc, "chunk_grid", "zarr.json", dict)
    if grid.get("name") != "regular":
        raise UnsupportedError(f"{file}: chunk_grid {grid.get('name')!r} is not supported (only 'regular')")
    shard = _ints(file, _get(file, grid, "configuration", "chunk_grid", dict).get("chunk_shape"),
                  "chunk_grid.configuration.chunk_shape", ndim, 1, MAX_CHUNK_SIDE)
    cke = _get(file, doc, "chunk_key_encoding", "zarr.json", dict)
    kname = cke.get("name")
    if kname not in ("default", "v2"):
        raise UnsupportedError(f"{file}: chunk_key_encoding {kname!r} is not supported ('default' or 'v2')")
    sep = (cke.get("configuration") or {}).get("separator", "/" if kname == "default" else ".")
    if sep not in ("/", "."):
        raise _fail(file, f"chunk_key_encoding.configuration.separator is {sep!r}, not '/' or '.'")
    fill = _fill(file, doc.get("fill_value"), dtype)
    order, big, steps, sharding = _chain(file, _get(file, doc, "codecs", "zarr.json", list), "codecs", ndim,
                                         dtype.itemsize)
    chunk, inner = shard, doc["codecs"]
    at_start, index_big, index_crc = False, False, False
    if sharding is not None:
        if sharding != 0 or steps or order != tuple(range(ndim)):
            raise UnsupportedError(f"{file}: codecs: sharding_indexed must be the only codec")
        where = "codecs[0].configuration"
        conf = _codec(file, doc["codecs"][0], "codecs[0]")[1]
        chunk = _ints(file, conf.get("chunk_shape"), f"{where}.chunk_shape", ndim, 1, MAX_CHUNK_SIDE)
        if any(s % c for s, c in zip(shard, chunk)):
            raise _fail(file, f"{where}.chunk_shape {list(chunk)} does not divide the shard shape {list(shard)}")
        inner = conf.get("codecs")
        order, big, steps, nested = _chain(file, inner, f"{where}.codecs", ndim, dtype.itemsize)
        if nested is not None:
            raise UnsupportedError(f"{file}: {where}.codecs: nested sharding_indexed is not supported")
        location = conf.get("index_location", "end")
        if location not in ("start", "end"):
            raise _fail(file, f"{where}.index_location is {location!r}, not 'start' or 'end'")
        at_start = location == "start"
        index_big, index_crc = _index_codecs(file, conf.get("index_codecs"), f"{where}.index_codecs")
    _check_sizes(file, names, shape, shard, chunk, dtype.itemsize, sharding is not None)
    return ArrayMeta(file, doc, names, shape, dtype, fill, shard, chunk, sharding is not None,
                     tuple(inner), order, big, tuple(steps), at_start, index_big, index_crc,
                     "c" + sep if kname == "default" else "", sep, ranks is not None)


def _index_codecs(file: Path, codecs: Any, where: str) -> tuple[bool, bool]:
    if not isinstance(codecs, list) or not codecs:
        raise _fail(file, f"{where} is {codecs!r}, not a non-empty list of codecs")
    names = [_codec(file, c, f"{where}[{i}]") for i, c in enumerate(codecs)]
    if names[0][0] != "bytes" or len(names) > 2 or (len(names) == 2 and names[1][0] != "crc32c"):
        raise UnsupportedError(f"{file}: {where} {[n for n, _ in names]} is not supported (bytes, then optional crc32c)")
    endian = names[0][1].get("endian", "little")
    if endian not in ("little", "big"):
        raise _fail(file, f"{where}[0].configuration.endian is {endian!r}, not 'little' or 'big'")
    return endian == "big", len(names) == 2


def parse_array_doc(file: Path, doc: Any, axes: Sequence[str] | None = None, ranks: Sequence[int] | None = None,
                    ) -> ArrayMeta:
    """Check an array document (as read from `file`, or about to be written there);
    `axes` and `ranks` as for `parse_array`."""
    return _parse(file, doc, axes, ranks)


def parse_array(file: Path, axes: Sequence[str] | None = None, ranks: Sequence[int] | None = None,
                ) -> ArrayMeta:
    """Read and check an array's `zarr.json`.

    `axes`, the layer's axis names in array order (from ``axisOrder`` and
    ``additionalAxes`` in its properties), name the array's axes when there are as many
    as the array has, over its ``dimension_names``, as in webknossos 4.3.3. With `ranks`
    the array is a plain one (see `ArrayMeta`) of one of those numbers of dimensions,
    whatever its axes are called.

    Raises
    ------
    PropertiesError
        The file is not JSON or a field is missing or malformed (the message names both).
    UnsupportedError
        A valid array that wkpy cannot handle (codec, data type, key encoding, more than
        `MAX_NDIM` axes, no x, y or z axis, a rank not in `ranks`).
    """
    return _parse(Path(file), read_meta_json(file, "Zarr v3"), axes, ranks)


def read_meta_json(file: Path, what: str) -> Any:
    """The JSON document of the metadata file `file` of a `what` ("Zarr v3") array.

    Raises
    ------
    PropertiesError
        The file is missing, too large or not JSON (the message names it).
    """
    try:
        text = read_small_file(file)
    except FileNotFoundError:
        text = None
    return parse_meta_json(file, text, what)


def parse_meta_json(file: Path, text: bytes | None, what: str) -> Any:
    """The JSON document of the metadata file `file` (its bytes `text`, None if it is
    missing) of a `what` ("Zarr v3") array.

    Raises
    ------
    PropertiesError
        The file is missing or not JSON (the message names it).
    """
    if text is None:
        raise PropertiesError(f"{file}: missing; the mag folder is not a {what} array")
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise PropertiesError(f"{file}: not valid JSON ({e})") from None


def normalize_codec(codec: Mapping[str, Any], itemsize: int) -> dict[str, Any]:
    """A codec object as tensorstore writes it (defaults spelled out)."""
    name = codec["name"]
    conf = dict(codec.get("configuration") or {})
    if name == "bytes":
        return {"name": "bytes"} if itemsize == 1 else {"configuration": {"endian": conf.get("endian", "little")}, "name": "bytes"}
    if name == "zstd":
        conf = {"checksum": conf.get("checksum", False), "level": conf.get("level", 3)}
    elif name == "gzip":
        conf = {"level": conf.get("level", 6)}
    elif name == "blosc":
        shuffle = conf.get("shuffle", "bitshuffle" if itemsize == 1 else "shuffle")
        conf = {"blocksize": conf.get("blocksize", 0), "clevel": conf.get("clevel", 5),
                "cname": conf.get("cname", "lz4"), "shuffle": shuffle,
                **({} if shuffle == "noshuffle" else {"typesize": conf.get("typesize", itemsize)})}
    elif name == "transpose":
        conf = {"order": conf["order"] if isinstance(conf["order"], str) else list(conf["order"])}
    return {"configuration": conf, "name": name} if conf else {"name": name}


def array_document(dtype: np.dtype, num_channels: int, chunk: Sequence[int], shard: Sequence[int],
                   codecs: Sequence[Mapping[str, Any]], chunk_key_encoding: Mapping[str, Any] | None = None,
                   axes: Sequence[str] = CXYZ) -> dict[str, Any]:
    """The `zarr.json` webknossos writes for a new, empty mag whose axes are `axes` (in
    array order; default (c, x, y, z)). `chunk` and `shard` are along x, y, z; the channel
    axis is one chunk of `num_channels`, additional axes are chunked and sharded by 1 (as
    webknossos 4.3.3 does)."""
    side = {"c": (num_channels, num_channels), "x": (chunk[0], shard[0]), "y": (chunk[1], shard[1]),
            "z": (chunk[2], shard[2])}
    doc = plain_array_document(dtype, [num_channels if a == "c" else 0 for a in axes],
                               [side.get(a, (1, 1))[0] for a in axes], [side.get(a, (1, 1))[1] for a in axes],
                               codecs, chunk_key_encoding, sharded=None)
    doc["dimension_names"] = list(axes)
    return doc


def plain_array_document(dtype: np.dtype, shape: Sequence[int], chunk: Sequence[int], shard: Sequence[int],
                         codecs: Sequence[Mapping[str, Any]], chunk_key_encoding: Mapping[str, Any] | None = None,
                         *, sharded: bool | None = True) -> dict[str, Any]:
    """The `zarr.json` tensorstore writes for an array of any rank without dimension names:
    `codecs` (normalised) inside a ``sharding_indexed`` codec (index: little-endian bytes
    and crc32c) whose inner chunks are `chunk` and whose files hold `shard` elements.
    `sharded=None` leaves the sharding codec out when `chunk` equals `shard` (mags)."""
    inner = [normalize_codec(c, dtype.itemsize) for c in codecs]
    cke = dict(chunk_key_encoding or {"name": "default"})
    name, sep = cke.get("name", "default"), (cke.get("configuration") or {}).get("separator")
    cke = {"name": name} if sep in (None, "/" if name == "default" else ".") else \
        {"configuration": {"separator": sep}, "name": name}
    top = inner if sharded is False or (sharded is None and list(chunk) == list(shard)) else [{"configuration": {
        "chunk_shape": list(chunk), "codecs": inner,
        "index_codecs": [{"configuration": {"endian": "little"}, "name": "bytes"}, {"name": "crc32c"}]},
        "name": "sharding_indexed"}]
    return {"chunk_grid": {"configuration": {"chunk_shape": list(shard)}, "name": "regular"},
            "chunk_key_encoding": cke, "codecs": top, "data_type": str(dtype),
            "fill_value": 0.0 if dtype.kind == "f" else (False if dtype.kind == "b" else 0),
            "node_type": "array", "shape": list(shape), "zarr_format": 3}


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def dumps_array(doc: Mapping[str, Any]) -> str:
    """Array metadata text exactly as tensorstore writes it: compact, keys sorted."""
    return json.dumps(_json_safe(dict(doc)), sort_keys=True, separators=(",", ":"), allow_nan=False)


def write_json_atomic(file: Path, text: str) -> None:
    """Write `text` to a temporary sibling and rename it over `file`.

    The temporary file gets a fresh name (process, thread and a random part) and is
    created with O_EXCL | O_NOFOLLOW, so a link planted in the folder is never written
    through; a rename replaces a link at `file` itself, not its target.
    """
    write_file_atomic(file, text.encode("utf-8"))
