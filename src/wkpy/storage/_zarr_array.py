"""Zarr chunk files behind the `Array` seam, for both Zarr versions.

`ZarrArray` holds what Zarr v2 (`.zarray`) and Zarr v3 (`zarr.json`) arrays share once
their metadata is parsed into an `ArrayMeta`: box reads and writes of chunk files (sharded
or not) through the `wkcore._shard` kernel, the shape's growth, and listing the chunk files
on disk. `Zarr3Array` (`wkpy.storage.zarr3`) and `Zarr2Array` (`wkpy.storage.zarr2`) add
only their metadata file, its parser and what `create` writes.

The array reads and writes its files through a store (`wkpy.storage.store`: bytes by key,
`LocalStore` for a local folder) and never sees which store it is. Every voxel of a request
is copied by the buffer kernels of `wkcore._shard` (through `wkpy.storage._zarr_file`), one
task per chunk file on the internal I/O pool (a request within few files is split along
inner-chunk borders, so every core decodes or encodes). Writers of one file take turns under
its lock (`Store.lock`, across threads and processes); a file is replaced atomically by a
complete new one (`Store.put`, conditional on the version read), so readers need no lock and
never see a torn file. The array's shape in the metadata grows, shard-aligned, when data is
written beyond it (as webknossos does).

Arrays of n-d layers (Zarr v3) have additional axes besides c, x, y, z, in the order
webknossos 4.3.3 writes them (`ArrayMeta.names`). The façade sees every array in one
canonical axis order -- (c, x, y, z, additional axes in the array's order), boxes along
(x, y, z, additional axes) -- and the kernels get the same buffers as strided views in the
array's own order, so no voxel is copied twice. Plain arrays (`ArrayMeta.plain`: the 1-D
and 2-D arrays of attachments) are seen in their own order only (`read_all`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wkcore import _shard
from wkpy.errors import CorruptFileError, DataMismatchError, InvalidRequestError, UnsupportedError
from wkpy.executor import io_pieces, run_tasks
from wkpy.storage import _zarr_file
from wkpy.storage._zarr3_meta import META_LIMIT, ArrayMeta, dumps_array, parse_meta_json
from wkpy.storage.array import ArrayInfo, MagFolder, ShardPart, split_by_shard, split_for_threads
from wkpy.storage.store import Store, Version, as_store, retry_on_conflict

__all__ = ["ZarrArray", "shard_spec"]


def shard_spec(meta: ArrayMeta) -> _shard.ShardSpec:
    """The kernel's description of the chunk files of `meta`.

    Raises
    ------
    UnsupportedError
        A layout the kernel cannot handle (named with the metadata file).
    """
    try:
        return _shard.ShardSpec(meta.dtype.itemsize, meta.shard, meta.chunk, meta.order, meta.big_endian,
                                meta.steps, meta.sharded, meta.index_at_start, meta.index_big_endian,
                                meta.index_crc, meta.fill)
    except ValueError as e:
        raise UnsupportedError(f"{meta.file}: {e}") from None


def _storage_view(meta: ArrayMeta, data: np.ndarray) -> np.ndarray:
    """`data`, a (c, x, y, z, additional axes...) array, as a view in the array's axis order
    (without the channel axis when the array has none: `data` then has one channel)."""
    canon = meta.canonical
    if canon[0] is None:
        data, canon = data[0], canon[1:]
    if canon == tuple(range(len(canon))):
        return data
    return data.transpose(sorted(range(len(canon)), key=canon.__getitem__))


class ZarrArray(MagFolder):
    """One Zarr mag folder (the `Array` interface of `wkpy.storage.array`); subclasses
    give the metadata file (`META_FILE`, `WHAT` for messages), its parser (`parse_doc`)
    and the `ArrayInfo` they report (`_info`).

    Boxes are along (x, y, z, additional axes in the array's order) and arrays are
    (c, x, y, z, additional axes); `info.extra_axes` names the additional axes. A plain
    array has no `info`: only `meta`, `read_all` and `stored_elements`.
    """

    META_FILE: ClassVar[str]
    WHAT: ClassVar[str]

    def __init__(self, location: Path | Store, meta: ArrayMeta) -> None:
        self.store = as_store(location)
        self.path = self.store.root
        self._set_meta(meta)
        self._opened_now()

    def __getstate__(self) -> dict[str, Any]:
        """Arrays travel to process pools and Dask workers as store and metadata."""
        return {"store": self.store, "meta": self._meta, "folder": self._folder, "generation": self._generation,
                "meta_version": self._meta_version}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.store = state["store"]
        self.path = self.store.root
        self._set_meta(state["meta"])
        self._folder, self._generation = state["folder"], state["generation"]
        self._meta_version = state.get("meta_version")

    def _reload(self) -> None:
        self.refresh()

    def _set_meta(self, meta: ArrayMeta) -> None:
        if meta is self.__dict__.get("_meta"):
            return                              # unchanged: the same spec (and its cached shard indexes)
        self._meta = meta
        self._spec = shard_spec(meta)
        if not meta.plain:                      # no x, y, z: no `info`, only the array-order methods
            self.info = self._info(meta)

    # ---- what each Zarr version gives -----------------------------------------------------
    @classmethod
    def parse_doc(cls, file: Path, doc: Any, axes: Sequence[str] | None = None,
                  ranks: Sequence[int] | None = None) -> ArrayMeta:
        """Check a metadata document as read from (or about to be written to) `file`."""
        raise NotImplementedError

    def _info(self, meta: ArrayMeta) -> ArrayInfo:
        """The layout this array reports."""
        raise NotImplementedError

    # ---- lifecycle ----------------------------------------------------------------------
    @classmethod
    def _load(cls, store: Store, axes: Sequence[str] | None = None, ranks: Sequence[int] | None = None,
              known: ArrayMeta | None = None) -> tuple[ArrayMeta, Version | None]:
        """Read and check the metadata file (`PropertiesError`, `UnsupportedError`), and
        the version of it that was read; `axes` and `ranks` as for
        `wkpy.storage._zarr3_meta.parse_array`. `known`, parsed before with the same `axes`
        and `ranks`, is returned as it is if the file holds the same document still."""
        file = _meta_name(store, cls.META_FILE)
        reader = store.open(cls.META_FILE, tail=1 << 16)
        if reader is None:
            return cls.parse_doc(file, parse_meta_json(file, None, cls.WHAT), axes, ranks), None
        with reader:
            if reader.size > META_LIMIT:
                raise CorruptFileError(f"{file}: {reader.size:,} bytes, more than the {META_LIMIT:,} "
                                       "a metadata file may have")
            text, version = bytes(reader.read(0, reader.size)), reader.version
        doc = parse_meta_json(file, text, cls.WHAT)
        if known is not None and known.file == file and doc == known.doc:
            return known, version
        return cls.parse_doc(file, doc, axes, ranks), version

    @classmethod
    def open(cls, path: Path | Store, axes: Sequence[str] | None = None, ranks: Sequence[int] | None = None,
             ) -> Any:
        """Open the mag folder `path` (a folder, or a store; or, with `ranks`, a plain
        array of one of those numbers of dimensions: `meta`, `read_all` and
        `stored_elements` only).

        `axes`: the layer's axis names in array order (from ``axisOrder`` and
        ``additionalAxes``); if there are as many as the array has axes they name them,
        over the array's ``dimension_names``, as in webknossos 4.3.3.

        Raises
        ------
        PropertiesError
            The metadata file is missing or malformed (the message names the file and field).
        UnsupportedError
            A codec, data type or key encoding that wkpy does not read, more than 8 axes,
            no x, y or z axis (mags), or a rank not in `ranks`.
        """
        store = as_store(path)
        meta, version = cls._load(store, axes, ranks)
        array = cls(store, meta)
        array._meta_version = version
        return array

    @property
    def meta(self) -> ArrayMeta:
        """The checked metadata."""
        return self._meta

    @classmethod
    def _create_from_doc(cls, path: Path | Store, doc: dict[str, Any], axes: Sequence[str] | None = None) -> Any:
        """Check `doc` (its axes named by `axes`, as for `open`), then create the folder
        `path` (a folder, or a store) holding it as the metadata file."""
        store = as_store(path)
        meta = cls.parse_doc(_meta_name(store, cls.META_FILE), doc, axes)  # check before anything is written
        shard_spec(meta)
        store.prepare([cls.META_FILE])
        store.put(cls.META_FILE, dumps_array(doc).encode("utf-8"))
        return cls(store, meta)

    @staticmethod
    def _check_shapes(info: ArrayInfo) -> None:
        if any(s % c for s, c in zip(info.shard_shape, info.chunk_shape)):
            raise DataMismatchError(f"shard_shape {tuple(info.shard_shape)} is not a multiple of "
                                    f"chunk_shape {tuple(info.chunk_shape)}")

    # ---- shape --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's extent along x, y, z and the additional axes, as the metadata says
        (reads beyond it give the fill value)."""
        return self._meta.pick(self._meta.shape)

    def refresh(self) -> None:
        """Re-read the metadata (another process may have grown the array); an unchanged
        document is not checked again."""
        meta, self._meta_version = self._load(self.store, *self._meta.reparse, known=self._meta)
        self._set_meta(meta)

    def resize(self, end: Sequence[int]) -> None:
        """Grow the shape so that it covers [0, end) along x, y, z (and the additional axes,
        if `end` has values for them): each axis that `end` exceeds grows to a whole number
        of shards (as webknossos does); none shrinks.

        The update re-reads the metadata under its lock (`Store.lock`) and writes it
        conditionally on the version read, so concurrent growers (threads or processes)
        all take effect.
        """
        shard = self._meta.pick(self._meta.shard)
        end = [int(e) for e in end]

        def grown(meta: ArrayMeta) -> tuple[int, ...]:
            now = meta.pick(meta.shape)
            new = [s if e <= s else -(-e // g) * g for e, s, g in zip(end, now, shard)]
            return meta.place([*new, *now[len(new):]], meta.num_channels)

        if grown(self._meta) == self._meta.shape:
            return

        def attempt() -> None:
            with self.store.lock(self.META_FILE):
                meta, version = self._load(self.store, *self._meta.reparse)
                shape = grown(meta)
                if shape != meta.shape:
                    meta = self.parse_doc(meta.file, meta.doc_with_shape(shape), *meta.reparse)
                    version = self.store.put(self.META_FILE, dumps_array(meta.doc).encode("utf-8"),
                                             mode=version if version is not None else "create")
                self._set_meta(meta)
                self._meta_version = version

        retry_on_conflict(self.store, attempt)

    # ---- data ---------------------------------------------------------------------------
    def _key(self, idx: Sequence[int]) -> str:
        return self._meta.key(idx)

    def _check_box(self, offset: Sequence[int], size: Sequence[int]) -> None:
        if self._meta.plain:
            raise UnsupportedError(f"{self.path}: a plain array (no x, y, z axes) is read whole (read_all)")
        extra = self._meta.extra_axes
        if len(offset) != 3 + len(extra) or len(size) != 3 + len(extra):
            names = ", ".join(("x", "y", "z", *extra))
            raise InvalidRequestError(f"{self.path}: a box of this array has {3 + len(extra)} offsets and sizes "
                                      f"({names}), got {tuple(offset)} and {tuple(size)}")

    def read(self, offset: Sequence[int], shape: Sequence[int]) -> np.ndarray:
        """Voxels of the box as a Fortran-ordered (c, x, y, z, additional axes...) array;
        the fill value where nothing was written or the box leaves the array.

        Raises
        ------
        InvalidRequestError
            `offset` or `shape` do not have one value per axis but c.
        """
        self._check_box(offset, shape)
        meta = self._meta
        # zeros: fresh zero pages, faulted in by the threads that decode into them (a full
        # of zeros would fill all of them first, on this thread alone)
        out = np.full((meta.num_channels, *shape), meta.fill_value, meta.dtype, order="F") if any(meta.fill) \
            else np.zeros((meta.num_channels, *shape), meta.dtype, order="F")
        if any(o + n > e for o, n, e in zip(offset, shape, meta.pick(meta.shape))):
            self.refresh()
            meta = self._meta
        extent = meta.pick(meta.shape)
        lo = [max(0, o) for o in offset]
        hi = [min(o + n, e) for o, n, e in zip(offset, shape, extent)]
        if any(h <= l for l, h in zip(lo, hi)):
            return out
        tried = []

        def attempt() -> None:
            if tried:                        # a writer replaced a file meanwhile: read all again
                out[...] = meta.fill_value
            tried.append(1)
            self._read_into(_storage_view(meta, out), meta.place([l - o for l, o in zip(lo, offset)], 0),
                            meta.place(lo, 0), meta.place([h - l for l, h in zip(lo, hi)], meta.num_channels))

        retry_on_conflict(self.store, attempt)
        return out

    def _read_into(self, view: np.ndarray, base: Sequence[int], lo: Sequence[int], size: Sequence[int]) -> None:
        """Read the box (`lo`, `size`) -- array order, inside the array's shape -- into
        `view` (array order) at `base`."""
        self._read_parts(view, base, split_by_shard(lo, size, self._meta.shard))

    def _read_parts(self, view: np.ndarray, base: Sequence[int], parts: list[ShardPart]) -> None:
        """Read the shard `parts` (of a box inside the array's shape) into `view` at `base`."""
        spec, meta, store = self._spec, self._meta, self.store
        pieces = split_for_threads(parts, meta.chunk, io_pieces(_nbytes(parts, view.itemsize)), range(meta.ndim)) \
            if meta.sharded else parts

        def at(part: ShardPart) -> tuple[int, ...]:
            return tuple(b + s for b, s in zip(base, part.start))

        if len(pieces) == len(parts):          # one task per file, each opening it
            def read(part: ShardPart) -> None:
                found = _zarr_file.open_indexed(store, self._key(part.shard), spec)
                if found is not None:
                    reader, index = found
                    with reader:
                        _zarr_file.read_box(reader, index, spec, part.box, view, at(part))

            run_tasks((functools.partial(read, p) for p in parts), remote=not store.has_locks)
            return
        # Few files, split over the cores: open each once (with its index), so that all
        # pieces of a file read the same version of it even while a writer replaces it.
        with contextlib.ExitStack() as stack:
            opened = {}
            for part in parts:
                found = _zarr_file.open_indexed(store, self._key(part.shard), spec)
                if found is not None:
                    stack.enter_context(found[0])
                    opened[part.shard] = found
            run_tasks(functools.partial(_zarr_file.read_box, *opened[p.shard], spec, p.box, view, at(p))
                      for p in pieces if p.shard in opened)

    def write(self, offset: Sequence[int], data: np.ndarray) -> None:
        """Store a (c, x, y, z, additional axes...) array at `offset` (x, y, z, additional
        axes...), growing the array's shape if needed.

        Raises
        ------
        DataMismatchError
            `data` has another dtype (never cast silently), channel count or number of
            axes than the array, or `offset` is negative.
        InvalidRequestError
            `offset` does not have one value per axis but c.
        """
        data = np.asarray(data)
        extra = self._meta.extra_axes
        if data.ndim != 4 + len(extra) or data.shape[0] != self.info.num_channels:
            axes = ", ".join(("x", "y", "z", *extra))
            raise DataMismatchError(f"data of shape {data.shape} is not (c={self.info.num_channels}, {axes})")
        self._check_box(offset, data.shape[1:])
        if data.dtype != self.info.dtype:
            raise DataMismatchError(f"data of dtype {data.dtype} cannot be written to a {self.info.dtype} array")
        if min(offset) < 0:
            raise DataMismatchError(f"offset {tuple(offset)} is negative")
        if 0 in data.shape:
            return
        with self.writing():
            self._write(offset, data)

    def _write(self, offset: Sequence[int], data: np.ndarray) -> None:
        self.resize([o + n for o, n in zip(offset, data.shape[1:])])
        meta = self._meta
        self._write_view(meta.place(offset, 0), _storage_view(meta, data))

    def _write_view(self, offset: Sequence[int], view: np.ndarray) -> None:
        """Store `view` (array order) at `offset` (array order, inside the array's shape)."""
        spec, meta, store = self._spec, self._meta, self.store
        parts = split_by_shard(offset, view.shape, meta.shard)
        # A write into one shard encodes its chunks on several threads (the shard's own task
        # runs in the caller's thread then); with several shards, each is one task.
        split = len(parts) == 1 and meta.sharded
        store.prepare(self._key(p.shard) for p in parts)

        def run(part: ShardPart) -> None:
            key = self._key(part.shard)
            subs = split_for_threads([part], meta.chunk, io_pieces(_nbytes([part], view.itemsize)),
                                     range(meta.ndim)) if split else [part]

            def attempt() -> None:
                with store.lock(key):
                    _zarr_file.write_box(store, key, spec, part.box, view, part.start,
                                         [(p.box, p.start) for p in subs] if len(subs) > 1 else ())

            retry_on_conflict(store, attempt)

        run_tasks((functools.partial(run, p) for p in parts), remote=not store.has_locks)

    def read_all(self) -> np.ndarray:
        """The whole array in C order, in its own axis order and shaped as the metadata
        says (any rank; the fill value where nothing is stored).

        Only the chunk files on disk are visited, and with a zero fill value the result's
        memory is only touched where they hold data, so a `zarr.json` claiming a huge shape
        costs what its files hold, not what it claims.

        Raises
        ------
        UnsupportedError
            The array is too large to hold in memory (named with its metadata file).
        """
        meta = self._meta
        try:       # zeros: pages the chunks do not reach are never touched
            out = np.full(meta.shape, meta.fill_value, meta.dtype) if any(meta.fill) else \
                np.zeros(meta.shape, meta.dtype)
        except (MemoryError, ValueError):
            raise UnsupportedError(f"{meta.file}: shape {list(meta.shape)} of {meta.dtype} is too large to read "
                                   "whole") from None
        parts = []
        for idx in sorted(self._grid_indices()):
            lo = [i * s for i, s in zip(idx, meta.shard)]
            if all(l < n for l, n in zip(lo, meta.shape)):
                parts.append(ShardPart(idx, (0,) * meta.ndim, tuple(lo),
                                       tuple(min(s, n - l) for s, n, l in zip(meta.shard, meta.shape, lo))))
        if parts:
            self._read_parts(out, (0,) * meta.ndim, parts)
        return out

    def stored_elements(self) -> int:
        """How many elements of the array lie in chunks stored on disk (the others read as
        the fill value). Reads the index of every chunk file (each as big as its file)."""
        meta, total = self._meta, 0
        per = tuple(s // c for s, c in zip(meta.shard, meta.chunk))
        for grid in self._grid_indices():
            if any(g * s >= n for g, s, n in zip(grid, meta.shard, meta.shape)):
                continue                       # a file beyond the shape holds no element of it
            if meta.sharded:
                index = self._index(grid)
                if index is None:
                    continue
                present = np.fromiter((e is not None for e in index), bool, len(index)).reshape(per)
            else:
                present = np.ones(per, bool)
            weight = np.ones(per, np.int64)
            for a in range(meta.ndim):
                starts = grid[a] * meta.shard[a] + np.arange(per[a], dtype=np.int64) * meta.chunk[a]
                extent = np.clip(np.minimum(starts + meta.chunk[a], meta.shape[a]) - starts, 0, None)
                weight = weight * extent.reshape([-1 if b == a else 1 for b in range(meta.ndim)])
            total += int(weight[present].sum())
        return total

    def _grid_indices(self) -> set[tuple[int, ...]]:
        """The grid indices (array order) of the chunk files on disk."""
        meta = self._meta
        return {idx for key in self.store.list() if (idx := meta.parse_key(key)) is not None}

    def _index(self, grid: Sequence[int]) -> list[tuple[int, int] | None] | None:
        """The checked index of the chunk file at grid index `grid` (array order), None if absent."""
        found = _zarr_file.open_indexed(self.store, self._key(grid), self._spec)
        if found is None:
            return None
        with found[0]:
            return found[1].as_list()  # type: ignore[no-any-return]

    def list_shards(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """(offset, shape) along x, y, z and the additional axes of every chunk file on
        disk, ordered z, y, x (then the additional axes)."""
        meta = self._meta
        if meta.plain:
            raise UnsupportedError(f"{self.path}: a plain array (no x, y, z axes) has no mag shards")
        found = {meta.pick(idx) for idx in self._grid_indices()}
        side = meta.pick(meta.shard)
        return [(tuple(i * s for i, s in zip(idx, side)), side)
                for idx in sorted(found, key=lambda i: (i[2], i[1], i[0], *i[3:]))]

    def shard_index(self, offset: Sequence[int]) -> list[tuple[int, int] | None] | None:
        """The checked index of the shard file holding voxel `offset` (x, y, z, additional
        axes...; None if absent)."""
        meta = self._meta
        self._check_box(offset, offset)
        return self._index(meta.place([o // s for o, s in zip(offset, meta.pick(meta.shard))], 0))



def _nbytes(parts: Sequence[ShardPart], itemsize: int) -> int:
    """Bytes of the voxels of `parts`."""
    return itemsize * sum(math.prod(p.extent) for p in parts)


def _meta_name(store: Store, key: str) -> Path:
    """The metadata file `key` as messages name it: a local path, or the object's URL
    (``Path`` would fold ``s3://bucket/...`` into ``s3:/bucket/...``)."""
    name = store.name(key)
    return Path(name) if getattr(store, "has_locks", False) else name  # type: ignore[return-value]
