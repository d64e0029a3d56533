"""`View`: a box of one mag, read and written in mag-1 coordinates."""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy.errors import AlignmentError, DataMismatchError, InvalidRequestError, ReadOnlyError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Int, Vec3IntLike
from wkpy.storage.array import Array, ArrayInfo

from wkpy.dataset.layer.view._nd_view import (
    cxyz_to_box_order,
    data_box,
    nd_box_in_mag,
    read_nd,
    resolve_nd_box,
    to_cxyz,
    write_nd,
)

if TYPE_CHECKING:
    from wkpy.dataset._utils.buffered_slice_writer import BufferedSliceReader, BufferedSliceWriter

__all__ = ["View", "UnalignedViewWarning", "UnalignedWriteWarning"]


class UnalignedWriteWarning(UserWarning):
    """A write to uncompressed WKW that is not aligned to the shard grid (allowed, but slow)."""


class UnalignedViewWarning(UserWarning):
    """A writable sub-view that is not aligned to the shard grid (as webknossos warns):
    parallel writers to neighbouring such views would share shards."""


@functools.cache
def _physical_memory() -> int:
    """Bytes of RAM (a bound for one read's output array)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def resolve_box(
    view_box: BoundingBox,
    mag: Mag,
    *,
    size: Vec3IntLike | None = None,
    relative_offset: Vec3IntLike | None = None,
    absolute_offset: Vec3IntLike | None = None,
    relative_bounding_box: BoundingBox | None = None,
    absolute_bounding_box: BoundingBox | None = None,
    size_in_mag: Vec3IntLike | None = None,
) -> BoundingBox:
    """The one place where the offset/size/bounding-box keywords become a mag-1 box.

    `size` is in mag 1 and goes with an offset; `size_in_mag` (the shape of written
    data) is used when no size is given. With no position at all the result starts at
    the view's top-left; with neither a size it is the view's box.
    """
    given = [k for k, v in (("relative_offset", relative_offset), ("absolute_offset", absolute_offset),
                            ("relative_bounding_box", relative_bounding_box),
                            ("absolute_bounding_box", absolute_bounding_box)) if v is not None]
    if len(given) > 1:
        raise InvalidRequestError(f"give at most one of {', '.join(given)}")
    if absolute_bounding_box is not None or relative_bounding_box is not None:
        if size is not None:
            raise InvalidRequestError("a size cannot be given together with a bounding box")
        if absolute_bounding_box is not None:
            return BoundingBox(absolute_bounding_box.topleft, absolute_bounding_box.size)
        return BoundingBox(relative_bounding_box.topleft, relative_bounding_box.size).offset(view_box.topleft)  # type: ignore[union-attr]
    if absolute_offset is not None:
        topleft = Vec3Int(absolute_offset)
    elif relative_offset is not None:
        topleft = view_box.topleft + Vec3Int(relative_offset)
    else:
        topleft = view_box.topleft
        if size is None and size_in_mag is None:
            return view_box
    if size is not None:
        return BoundingBox(topleft, Vec3Int(size))
    if size_in_mag is None:
        raise InvalidRequestError("an offset needs a size")
    return BoundingBox(topleft, Vec3Int(size_in_mag) * mag.to_vec3_int())


def box_in_mag(box: BoundingBox, mag: Mag, *, allow_empty: bool = False) -> BoundingBox:
    """Mag-1 box → box in the mag's voxels, checking sign, emptiness and divisibility."""
    if not box.topleft.is_positive():
        raise InvalidRequestError(f"offset {tuple(box.topleft)} (in mag 1) must not be negative")
    if not allow_empty and not box.size.is_positive(strictly_positive=True):
        raise InvalidRequestError(f"size {tuple(box.size)} (in mag 1) must be positive in every dimension")
    m = mag.to_vec3_int()
    if box.topleft % m != Vec3Int(0, 0, 0) or box.bottomright % m != Vec3Int(0, 0, 0):
        raise InvalidRequestError(f"box {box} (in mag 1) is not aligned with mag {mag}")
    return BoundingBox(box.topleft // m, box.size // m)


# Most chunks one chunked operation visits: each is a task (and a View) held in memory.
MAX_CHUNKS = 2**24


def _check_chunk_count(view: View, shape: Vec3Int, alignments: Vec3Int | None) -> None:
    if not shape.is_positive(strictly_positive=True) or \
            (alignments is not None and not alignments.is_positive(strictly_positive=True)):
        return  # BoundingBox.chunk refuses these
    box = view.bounding_box
    count = 1
    if view._nd:          # one chunk per position along the additional axes
        count = math.prod(n for a, n in zip(box.axes, box.size) if a not in ("c", "x", "y", "z"))
        box = BoundingBox.from_ndbbox(box)
    grid = box.topleft if alignments is None else box.topleft - box.topleft % alignments
    for origin, end, step in zip(grid, box.bottomright, shape):
        count *= max(0, -(-(end - origin) // step))
    if count > MAX_CHUNKS:
        raise InvalidRequestError(f"{view} would be split into {count} chunks of {tuple(shape)}, more than "
                                  f"{MAX_CHUNKS}; its box is larger than any data (check the bounding box in "
                                  "datasource-properties.json), or pass a smaller view or larger chunk_shape")


class View:
    """A box (in mag-1 coordinates) of one mag of a layer.

    Views of n-d layers (with ``additionalAxes``) have an `NDBoundingBox` over the
    layer's axes and read and write arrays in its axis order, as in webknossos 4.3.3
    (see `wkpy.dataset.layer.view._nd_view`).

    Parameters
    ----------
    array : the storage of the mag.
    bounding_box : the box, in mag 1 (an `NDBoundingBox` for n-d layers).
    mag : the magnification.
    read_only : refuse writes.
    """

    _nd = False      # an n-d view: box over the layer's axes (set from the box; MagView: from the layer)

    def __init__(self, array: Array, bounding_box: NDBoundingBox | None, mag: Mag, read_only: bool = False) -> None:
        self._array = array
        self._bounding_box = bounding_box
        self._mag = Mag(mag)
        self._read_only = read_only
        if bounding_box is not None and not isinstance(bounding_box, BoundingBox):
            self._nd = True

    # ---- properties -----------------------------------------------------------------
    @property
    def bounding_box(self) -> BoundingBox:
        """The view's box in mag-1 coordinates (an `NDBoundingBox` for n-d layers)."""
        assert self._bounding_box is not None
        return self._bounding_box  # type: ignore[return-value]

    @property
    def normalized_bounding_box(self) -> NormalizedBoundingBox:
        """`bounding_box` with the channel axis made explicit, as in webknossos 4.3.3."""
        return self.bounding_box.normalize_axes(self.num_channels)

    @property
    def normalized_bounding_box(self) -> NormalizedBoundingBox:
        """The view's box with the channel axis first: (c, x, y, z), in mag 1."""
        return self.bounding_box.normalize_axes(self.num_channels)

    @property
    def mag(self) -> Mag:
        return self._mag

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def info(self) -> ArrayInfo:
        """Storage layout: chunk and shard shape, compression, voxel type, channels."""
        return self._array.info

    @property
    def num_channels(self) -> int:
        return self._array.info.num_channels

    def get_dtype(self) -> np.dtype:
        """The dtype of one channel."""
        return self._array.info.dtype

    # webknossos' private names, which its users' code pokes; read-only views of our state
    def _is_compressed(self) -> bool:
        """Whether the mag's chunks are compressed."""
        return bool(self._array.info.compression)

    def _get_file_dimensions(self) -> Vec3Int:
        """The shard (file) shape, in the mag's voxels."""
        return Vec3Int(self._array.info.shard_shape)

    def _get_file_dimensions_mag1(self) -> Vec3Int:
        """The shard (file) shape in mag-1 voxels: the default chunk of chunked work."""
        return self._get_file_dimensions() * self._mag.to_vec3_int()

    @property
    def _cached_array(self) -> Array | None:
        """The opened storage of the view (webknossos' name)."""
        return self._array

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mag={self._mag}, bounding_box={self.bounding_box})"

    # ---- read -----------------------------------------------------------------------
    def read(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
    ) -> np.ndarray:
        """Voxels of a box as a (c, x, y, z) array in the mag's resolution.

        Offsets and sizes are in mag 1; without them the view's whole box is read.
        Regions never written read as 0. For n-d layers the array has the view's axes
        (e.g. (t, x, y, z) or (c, t, x, y, z)); offsets and sizes are along x, y, z (the
        other axes: the view's extent); a `BoundingBox` sets x, y, z of the view's box,
        an `NDBoundingBox` names the view's axes (c optional), as in webknossos 4.3.3.
        """
        box = self._resolve_read_box(size, relative_offset, absolute_offset, relative_bounding_box,
                                     absolute_bounding_box)
        if self._nd:
            return read_nd(self, nd_box_in_mag(box, self._mag))  # type: ignore[arg-type]
        return self._read_in_mag(box_in_mag(box, self._mag))

    def _resolve_read_box(self, size: Vec3IntLike | None, relative_offset: Vec3IntLike | None,
                          absolute_offset: Vec3IntLike | None, relative_bounding_box: NDBoundingBox | None,
                          absolute_bounding_box: NDBoundingBox | None) -> BoundingBox:
        resolve = resolve_nd_box if self._nd else resolve_box
        if size is not None and relative_offset is None and absolute_offset is None \
                and relative_bounding_box is None and absolute_bounding_box is None:
            warnings.warn("read(size=...) without an offset reads size in the current mag from the "
                          "view's top-left; pass relative_offset=(0, 0, 0) and a mag-1 size instead",
                          DeprecationWarning, stacklevel=3)
            return resolve(self.bounding_box, self._mag, size_in_mag=size, relative_offset=(0, 0, 0))  # type: ignore[return-value]
        return resolve(self.bounding_box, self._mag, size=size, relative_offset=relative_offset,  # type: ignore[return-value]
                       absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,  # type: ignore[arg-type]
                       absolute_bounding_box=absolute_bounding_box)  # type: ignore[arg-type]

    def read_cxyz(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: NDBoundingBox | None = None,
        absolute_bounding_box: NDBoundingBox | None = None,
    ) -> np.ndarray:
        """`read` as a (c, x, y, z) array whatever the layer's axes, as in webknossos 4.3.3:
        a channel axis of 1 is added if the layer has none.

        Raises
        ------
        InvalidRequestError
            The box is longer than 1 along an additional axis of an n-d layer (also a
            `ValueError`, as in webknossos).
        """
        if not self._nd:
            return self.read(size, relative_offset=relative_offset, absolute_offset=absolute_offset,
                             relative_bounding_box=relative_bounding_box, absolute_bounding_box=absolute_bounding_box)
        box = self._resolve_read_box(size, relative_offset, absolute_offset, relative_bounding_box,
                                     absolute_bounding_box)
        return to_cxyz(read_nd(self, nd_box_in_mag(box, self._mag)), box.axes)  # type: ignore[arg-type]

    def read_xyz(self, *, relative_bounding_box: NDBoundingBox | None = None,
                 absolute_bounding_box: NDBoundingBox | None = None) -> np.ndarray:
        """The box (default: the whole view) as a (c, x, y, z) array, as webknossos'
        `read_xyz` returns (see `read_cxyz`)."""
        return self.read_cxyz(relative_bounding_box=relative_bounding_box, absolute_bounding_box=absolute_bounding_box)

    def write_cxyz(
        self,
        data: np.ndarray,
        *,
        allow_unaligned: bool = False,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
    ) -> None:
        """`write` of a (c, x, y, z) array whatever the layer's axes, as in webknossos 4.3.3:
        for an n-d layer the box is one voxel long along each additional axis.

        Raises
        ------
        InvalidRequestError
            `data` is not 4-dimensional (also an `AssertionError`, as in webknossos).
        DataMismatchError
            For an n-d layer, a box longer than 1 along an additional axis, or several
            channels for a layer without a channel axis.
        """
        if np.ndim(data) != 4:
            raise InvalidRequestError(f"write_cxyz expects a 4-D (c, x, y, z) array, got shape {np.shape(data)}")
        if self._nd:
            data = np.asarray(data)
            box = resolve_nd_box(self.bounding_box, self._mag, relative_offset=relative_offset,  # type: ignore[arg-type]
                                 absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,
                                 absolute_bounding_box=absolute_bounding_box, size_in_mag=data.shape[1:])
            self.write(cxyz_to_box_order(data, box.axes), allow_unaligned=allow_unaligned, absolute_bounding_box=box)
            return
        self.write(data, allow_unaligned=allow_unaligned, relative_offset=relative_offset,
                   absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,
                   absolute_bounding_box=absolute_bounding_box)

    def _read_in_mag(self, box: BoundingBox) -> np.ndarray:
        return self._read_storage(tuple(box.topleft), tuple(box.size))

    def _read_storage(self, offset: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
        """The storage's read of (offset, size) in the mag's voxels (along x, y, z and the
        additional axes), refused if it cannot fit in memory."""
        info = self._array.info
        nbytes = info.num_channels * info.dtype.itemsize * math.prod(size)
        if nbytes > _physical_memory():
            raise InvalidRequestError(f"reading {size} voxels at {offset} (mag {self._mag}) needs {nbytes:,} bytes, "
                                      "more than this machine's memory; read it in parts (chunk(), "
                                      "get_buffered_slice_reader())")
        return self._array.read(offset, size)

    # ---- write ----------------------------------------------------------------------
    def _ensure_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self} is read-only")

    def write(
        self,
        data: np.ndarray,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        allow_unaligned: bool = False,
        json_update_allowed: bool = True,
        allow_resize: bool = False,
    ) -> None:
        """Write a (x, y, z) or (c, x, y, z) array at a mag-1 position.

        Parameters
        ----------
        data : array of the layer's dtype, in the mag's resolution.
        allow_unaligned : allow a box that is not aligned to the shard grid.
        json_update_allowed : on a `MagView`, grow and save the layer's bounding box
            (set False for parallel writers; set `layer.bounding_box` at the end).
        allow_resize : accepted for webknossos compatibility; growth is always allowed.

        Raises
        ------
        ReadOnlyError, DataMismatchError, InvalidRequestError, AlignmentError
        """
        self._ensure_writable()
        if self._nd:
            self._write_nd(data, relative_offset, absolute_offset, relative_bounding_box, absolute_bounding_box,
                           allow_unaligned, json_update_allowed)
            return
        data = self._as_cxyz(data)
        box = resolve_box(self.bounding_box, self._mag, relative_offset=relative_offset,
                          absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,
                          absolute_bounding_box=absolute_bounding_box, size_in_mag=data.shape[1:])
        target = box_in_mag(box, self._mag)
        if tuple(target.size) != data.shape[1:]:
            raise DataMismatchError(f"data of shape {data.shape} does not fit the box {box} "
                                    f"({tuple(target.size)} voxels in mag {self._mag})")
        clip = self._accept_write_box(box, json_update_allowed)
        if not allow_unaligned:
            self._check_alignment(target, box_in_mag(clip.align_with_mag(self._mag, ceil=True), self._mag))
        self._array.write(tuple(target.topleft), data)  # type: ignore[arg-type]

    def _write_nd(self, data: Any, relative_offset: Vec3IntLike | None, absolute_offset: Vec3IntLike | None,
                  relative_bounding_box: NDBoundingBox | None, absolute_bounding_box: NDBoundingBox | None,
                  allow_unaligned: bool, json_update_allowed: bool) -> None:
        """`write` to an n-d view: `data` in the view's axis order (c optional for one channel)."""
        data = np.asarray(data)
        view_box: NDBoundingBox = self.bounding_box
        if relative_bounding_box is None and absolute_bounding_box is None:
            whole = relative_offset is None and absolute_offset is None
            box = data_box(view_box, self._mag, data.shape, whole)
            if not whole:
                box = box.with_topleft_xyz(Vec3Int(absolute_offset) if absolute_offset is not None
                                           else view_box.topleft_xyz + Vec3Int(relative_offset))  # type: ignore[arg-type]
        else:
            box = resolve_nd_box(view_box, self._mag, relative_bounding_box=relative_bounding_box,
                                 absolute_bounding_box=absolute_bounding_box)
        target = nd_box_in_mag(box, self._mag)
        offset, storage = write_nd(self, data, target, self.num_channels)
        clip = self._accept_write_box(box, json_update_allowed)  # type: ignore[arg-type]
        if not allow_unaligned:
            clip3 = BoundingBox(clip.topleft_xyz, clip.size_xyz).align_with_mag(self._mag, ceil=True)
            self._check_alignment(BoundingBox(target.topleft_xyz, target.size_xyz), box_in_mag(clip3, self._mag))
        self._array.write(offset, storage)

    def _as_cxyz(self, data: Any) -> np.ndarray:
        data = np.asarray(data)
        nc = self.num_channels
        if data.ndim == 3:
            if nc != 1:
                raise InvalidRequestError(f"data of shape {data.shape} has 1 channel, the layer has {nc}")
            data = data[np.newaxis]
        elif data.ndim == 4:
            if data.shape[0] != nc:
                raise InvalidRequestError(f"data of shape {data.shape} has {data.shape[0]} channels, the layer has {nc}")
        else:
            raise DataMismatchError(f"data must be (x, y, z) or (c, x, y, z), got shape {data.shape}")
        if data.dtype != self.get_dtype():
            raise DataMismatchError(f"data of dtype {data.dtype} cannot be written to a layer of dtype {self.get_dtype()}")
        return data

    def _accept_write_box(self, box: BoundingBox, json_update_allowed: bool) -> BoundingBox:
        """Check that a sub-view write stays inside the view; returns the box to clip against."""
        if not self.bounding_box.contains_bbox(box):
            raise InvalidRequestError(f"the box to write {box} is not inside the view's box {self.bounding_box}")
        return self.bounding_box

    def _is_shard_aligned(self, target: BoundingBox, clip: BoundingBox) -> bool:
        """Whether `target` (mag voxels) covers whole shards, or ends where `clip` does."""
        shard = self._array.info.shard_shape
        return target.align_with_mag(shard, ceil=True).intersected_with(clip, dont_assert=True) == target

    def _check_alignment(self, target: BoundingBox, clip: BoundingBox) -> None:
        """Refuse (or, for raw WKW, warn about) a write box not aligned to the shard grid."""
        if self._is_shard_aligned(target, clip):
            return
        shard = self._array.info.shard_shape
        message = (f"the box to write {target} (in mag {self._mag}) is not aligned with the shard shape "
                   f"{tuple(shard)}; write shard-aligned boxes or pass allow_unaligned=True")
        if self._array.info.data_format == "wkw" and not self._array.info.compression:
            warnings.warn(message, UnalignedWriteWarning, stacklevel=3)
            return
        raise AlignmentError(message)

    # ---- sub-views and chunked work -------------------------------------------------
    def get_view(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        read_only: bool | None = None,
    ) -> View:
        """A sub-view; only read-only views may reach outside this view's box."""
        if read_only is None:
            read_only = self.read_only
        elif self.read_only and not read_only:   # an AssertionError too, as in webknossos
            raise InvalidRequestError(f"a writable view cannot be made from the read-only {self}")
        if size is not None and relative_offset is None and absolute_offset is None \
                and relative_bounding_box is None and absolute_bounding_box is None:
            relative_offset = (0, 0, 0)
        resolve, in_mag = (resolve_nd_box, nd_box_in_mag) if self._nd else (resolve_box, box_in_mag)
        box = resolve(self.bounding_box, self._mag, size=size, relative_offset=relative_offset,  # type: ignore[operator]
                      absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,
                      absolute_bounding_box=absolute_bounding_box)
        target = in_mag(box, self._mag, allow_empty=self.bounding_box.is_empty())  # type: ignore[operator]
        if not read_only:
            if not self.bounding_box.contains_bbox(box):
                raise InvalidRequestError(f"the sub-view {box} is larger than {self.bounding_box}; "
                                          "only read-only views may be")
            clip = None if self._nd else \
                box_in_mag(self.bounding_box.align_with_mag(self._mag, ceil=True), self._mag, allow_empty=True)
            if clip is not None and not self._is_shard_aligned(target, clip):
                warnings.warn(f"[WARNING] get_view() was called without shard alignment: the box {box} "
                              f"(in mag 1) is not aligned with the shard shape {tuple(self.info.shard_shape)} "
                              f"of mag {self._mag}; writing to such views in parallel is error-prone",
                              UnalignedViewWarning, stacklevel=2)
        return View(self._array, box, self._mag, read_only)

    def chunk(
        self,
        chunk_shape: Vec3IntLike | int,
        chunk_border_alignments: Vec3IntLike | int | None = None,
        read_only: bool | None = None,
    ) -> Iterator[View]:
        """Sub-views tiling this view (mag-1 shapes and alignment).

        Raises
        ------
        InvalidRequestError
            The view's box holds more than `MAX_CHUNKS` chunks of that shape (a box of
            absurd size, e.g. from a hostile properties file); checked before the first one.
        """
        shape = Vec3Int.from_vec_or_int(chunk_shape)
        alignments = None if chunk_border_alignments is None else Vec3Int.from_vec_or_int(chunk_border_alignments)
        _check_chunk_count(self, shape, alignments)
        boxes = self.bounding_box.chunk(shape, alignments)
        return (self.get_view(absolute_bounding_box=box, read_only=read_only) for box in boxes)

    def _check_chunk_shape(self, chunk_shape: Vec3Int, read_only: bool) -> None:
        """Refuse a chunk shape of chunked work that is not a multiple of the mag's chunk
        (for writable views: of its shard), in mag-1 voxels, as webknossos does.

        Raises
        ------
        InvalidRequestError
            (also an `AssertionError`, as in webknossos).
        """
        if not chunk_shape.is_positive(strictly_positive=True):
            raise InvalidRequestError(f"chunk_shape {tuple(chunk_shape)} must be positive in every dimension")
        info = self._array.info
        divisor = self._mag.to_vec3_int() * Vec3Int(info.shard_shape if not read_only else info.chunk_shape)
        if chunk_shape % divisor != Vec3Int(0, 0, 0):
            what = "shard" if not read_only else "chunk"
            raise InvalidRequestError(f"chunk_shape {tuple(chunk_shape)} (in mag 1) must be a multiple of the "
                                      f"{what} shape times the mag, {tuple(divisor)}")

    def _work_chunk_shape(self, chunk_shape: Vec3IntLike | None) -> Vec3Int:
        if chunk_shape is None:
            return self._get_file_dimensions_mag1()
        shape = Vec3Int(chunk_shape)
        self._check_chunk_shape(shape, self.read_only)
        return shape

    def for_each_chunk(
        self,
        func_per_chunk: Callable[[tuple[View, int]], None],
        chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> None:
        """Call `func_per_chunk((view, i))` for each chunk (default: one per shard), on `executor`.

        Raises
        ------
        InvalidRequestError
            `chunk_shape` (mag 1) is not a multiple of the shard shape times the mag (of
            the chunk shape, for read-only views), as in webknossos (also an `AssertionError`).
        """
        from wkpy.executor import map_on_executor

        shape = self._work_chunk_shape(chunk_shape)
        views = list(self.chunk(shape, shape))
        map_on_executor(func_per_chunk, [(v, i) for i, v in enumerate(views)], executor, progress_desc)

    def map_chunk(
        self,
        func_per_chunk: Callable[[View], Any],
        chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> list[Any]:
        """`func_per_chunk(view)` for each chunk, results in chunk order (see `for_each_chunk`)."""
        from wkpy.executor import map_on_executor

        shape = self._work_chunk_shape(chunk_shape)
        return map_on_executor(func_per_chunk, list(self.chunk(shape, shape)), executor, progress_desc)

    def for_zipped_chunks(
        self,
        func_per_chunk: Callable[[tuple[View, View, int]], None],
        target_view: View,
        source_chunk_shape: Vec3IntLike | None = None,
        target_chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> None:
        """Pair the chunks of this view with those of `target_view` and process the pairs.

        Both views are cut into chunks aligned to their chunk shapes (mag 1; default for
        both: the larger shard of the two, times the mag), as in webknossos.

        Raises
        ------
        InvalidRequestError
            Only one chunk shape given; a chunk shape that is not a multiple of the
            view's shard (chunk, for read-only views) shape times the mag; or the ratio of
            the views' sizes differs from that of the chunk shapes (also an `AssertionError`).
        """
        from wkpy.executor import map_on_executor

        if source_chunk_shape is None or target_chunk_shape is None:
            if source_chunk_shape is not None or target_chunk_shape is not None:
                raise InvalidRequestError("give both source_chunk_shape and target_chunk_shape, or neither")
            src_shape = dst_shape = self._get_file_dimensions_mag1().pairmax(target_view._get_file_dimensions_mag1())
        else:
            src_shape, dst_shape = Vec3Int(source_chunk_shape), Vec3Int(target_chunk_shape)
            self._check_chunk_shape(src_shape, self.read_only)
            target_view._check_chunk_shape(dst_shape, target_view.read_only)
        src_size, dst_size = self.bounding_box.size, target_view.bounding_box.size
        if self.bounding_box.is_empty() or target_view.bounding_box.is_empty():
            return
        if any(s * d != t * c for s, d, t, c in zip(src_size, dst_shape, dst_size, src_shape)):
            raise InvalidRequestError(f"the views' sizes {tuple(src_size)} and {tuple(dst_size)} (mag 1) are not "
                                      f"in the ratio of the chunk shapes {tuple(src_shape)} and {tuple(dst_shape)}")
        pairs = zip(self.chunk(src_shape, src_shape), target_view.chunk(dst_shape, dst_shape))
        jobs = [(source, target, i) for i, (source, target) in enumerate(pairs)]
        map_on_executor(func_per_chunk, jobs, executor, progress_desc)

    def content_is_equal(self, other: View, executor: Executor | None = None, progress_desc: str | None = None,
                         chunk_shape: Vec3IntLike | None = None) -> bool:
        """Whether both views hold the same voxels, compared chunk by chunk (default: per
        shard; `chunk_shape` in mag 1, a multiple of the mag's chunk shape)."""
        from wkpy.executor import map_on_executor

        if self.bounding_box.size != other.bounding_box.size or self._mag != other._mag:
            return False
        mine = self.get_view(read_only=True)
        shape = mine._work_chunk_shape(chunk_shape)
        offset = other.bounding_box.topleft - self.bounding_box.topleft

        def same(view: View) -> bool:
            there = other.get_view(absolute_bounding_box=view.bounding_box.offset(offset), read_only=True)
            return bool(np.array_equal(view.read(), there.read()))

        return all(map_on_executor(same, list(mine.chunk(shape, shape, read_only=True)), executor, progress_desc))

    def get_buffered_slice_writer(self, buffer_size: int | None = None, dimension: str | int = "z",
                                  **kwargs: Any) -> BufferedSliceWriter:
        """A writer that takes slices one by one and writes them in shard-deep slabs."""
        from wkpy.dataset._utils.buffered_slice_writer import BufferedSliceWriter

        return BufferedSliceWriter(self, buffer_size, dimension, **kwargs)

    def get_buffered_slice_reader(self, buffer_size: int | None = None, dimension: str | int = "z",
                                  **kwargs: Any) -> BufferedSliceReader:
        """A reader that yields slices, reading shard-deep slabs."""
        from wkpy.dataset._utils.buffered_slice_writer import BufferedSliceReader

        return BufferedSliceReader(self, buffer_size, dimension, **kwargs)
