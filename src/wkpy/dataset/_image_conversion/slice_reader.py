"""`SliceReader`: a file (or set of files) read as a sequence of 2-D slices over named axes.

A reader names every axis it has (``x``, ``y``, ``z``, ``c``, ``t``, ...) with
`_init_axis` and declares one method that returns an array over some of them with
`_set_get_slice`. The caller then chooses what one slice is (`bundle_axes`, default
``["y", "x"]``), which axes are stepped through (`iter_axes`, the last varies fastest)
and where the remaining axes stand (`default_coords`). Slicing a reader
(``reader[2:5][::-1]``) gives a lazy view that reads nothing until iterated.

The interface is that of webknossos 4.3.3's ``slice_reader.SliceReader`` (itself the
reader model of PIMS), so readers written for it port directly.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from wkpy.errors import CorruptImageError, UnsupportedImageDataError

__all__ = ["SliceReader", "GetSlice", "check_claimed_size", "check_tiff_page"]

GetSlice = Callable[..., np.ndarray]
"""A reader method: keyword coordinates of every axis in, an array over its declared axes out."""


def check_claimed_size(where: object, shape: Iterable[int], dtype: DTypeLike) -> None:
    """Refuse a picture whose header claims more bytes than this machine's memory, before
    anything is allocated for it (a header is data: 10^6 × 10^6 pixels is a lie or a
    picture no slice-wise conversion can hold).

    Raises
    ------
    UnsupportedImageDataError
        The claimed picture is larger than the physical memory.
    """
    from wkpy.dataset.layer.view.view import _physical_memory

    dims = [int(n) for n in shape]
    nbytes = math.prod(dims) * np.dtype(dtype).itemsize
    if nbytes > _physical_memory():
        raise UnsupportedImageDataError(
            f"{where}: the header claims {' × '.join(map(str, dims))} {np.dtype(dtype)} values ({nbytes} bytes), "
            f"more than this machine's memory ({_physical_memory()} bytes)", path=_as_path(where))


def check_tiff_page(where: object, page: Any, file_size: int) -> None:
    """Refuse a TIFF page whose header claims more pixels than the file holds: uncompressed
    data must be all there (checked before tifffile allocates the page), and no page may
    claim more than the memory (`check_claimed_size`).

    Raises
    ------
    CorruptImageError
        Uncompressed strips or tiles that are shorter than the page, or end past the file.
    UnsupportedImageDataError
        See `check_claimed_size`.
    """
    check_claimed_size(where, page.shape, page.dtype or np.uint8)
    if page.compression != 1 or not page.databytecounts:
        return
    stored = sum(int(n) for n in page.databytecounts)
    end = max(int(o) + int(n) for o, n in zip(page.dataoffsets, page.databytecounts))
    if stored < page.nbytes or end > file_size:
        raise CorruptImageError(
            f"{where}: page {page.index} claims {' × '.join(map(str, page.shape))} uncompressed {page.dtype} values "
            f"({page.nbytes} bytes) but its strips hold {stored} bytes ending at byte {end} of {file_size}",
            path=_as_path(where))


def _as_path(where: object) -> Any:
    return where if isinstance(where, (str, os.PathLike)) else None


def _index(i: Any, length: int) -> int:
    """`i` as a position in ``range(length)``; negative counts from the end."""
    j = int(i)
    if j < 0:
        j += length
    if not 0 <= j < length:
        raise IndexError(f"index {i} is out of range for {length} slices")
    return j


def _positions(key: slice | Sequence[int] | np.ndarray, length: int) -> list[int]:
    if isinstance(key, slice):
        return list(range(length))[key]
    return [_index(i, length) for i in key]


def _is_multi(key: object) -> bool:
    return isinstance(key, (slice, Sequence, np.ndarray))


class _SlicedView:
    """Some slices of a reader, in a chosen order; reads only when indexed or iterated."""

    def __init__(self, source: SliceReader, indices: Sequence[int]) -> None:
        self._source = source
        self._indices = list(indices)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, key: Any) -> Any:
        if _is_multi(key):
            return _SlicedView(self._source, [self._indices[i] for i in _positions(key, len(self))])
        return self._source.get_slice(self._indices[_index(key, len(self))])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self._source.get_slice(i) for i in self._indices)

    def __repr__(self) -> str:
        return f"<_SlicedView of {len(self)} slices of {type(self._source).__name__}>"


def _adapt(method: GetSlice, produced: Sequence[str], wanted: Sequence[str]) -> GetSlice:
    """`method` (returning `produced` axes) narrowed to return exactly `wanted`, in order.

    Axes produced but not wanted are indexed away at the coordinate the call passes for
    them; asking for an axis the method does not produce is a reader bug.
    """
    produced, wanted = list(produced), list(wanted)
    missing = [a for a in wanted if a not in produced]
    if missing:
        raise ValueError(f"axes {missing!r} were requested but the reader's get_slice only produces {produced!r}")
    dropped = [a for a in produced if a not in wanted]
    kept = [a for a in produced if a in wanted]
    order = [kept.index(a) for a in wanted]
    if not dropped and order == list(range(len(order))):
        return method

    def adapted(**coords: int) -> np.ndarray:
        data = np.asarray(method(**coords))
        index = tuple(coords[a] if a in dropped else slice(None) for a in produced)
        return data[index].transpose(order)

    return adapted


class _Coords(dict[str, int]):
    """The default coordinates; refuses axes the reader does not have."""

    def __init__(self, owner: SliceReader) -> None:
        super().__init__()
        self._owner = owner

    def __setitem__(self, key: str, value: int) -> None:
        if key not in self._owner.sizes:
            raise ValueError(f"axis {key!r} does not exist")
        super().__setitem__(key, int(value))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class SliceReader(ABC):
    """A finite sequence of slices over named axes, with random access.

    Subclasses call `_init_axis` once per axis and `_set_get_slice` once, and define
    `pixel_type`. ``len(reader)`` is the product of the `iter_axes` sizes; slice ``i``
    (``reader[i]`` or `get_slice`) has the shape `slice_shape`, axes in `bundle_axes`
    order.
    """

    class_priority: int = 10
    """Among readers claiming an extension, `open_slice_reader` tries the highest first."""

    channels_are_rgb: bool = False
    """Whether a ``c`` axis holds the red, green, blue of one picture rather than
    separate acquisitions."""

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        """File extensions (lower case, no dot) this reader opens."""
        return set()

    def __init__(self) -> None:
        self._sizes: dict[str, int] = {}
        self._default_coords = _Coords(self)
        self._iter_axes: list[str] = []
        self._bundle_axes: list[str] = ["y", "x"]
        self._method: tuple[GetSlice, tuple[str, ...]] | None = None
        self._adapted: GetSlice | None = None

    def _init_axis(self, name: str, size: int, default: int = 0) -> None:
        """Declare axis `name` of `size` entries (at coordinate `default` unless iterated or bundled)."""
        if name in self._sizes:
            raise ValueError(f"axis {name!r} already exists")
        self._sizes[name] = int(size)
        self._default_coords[name] = default

    def _set_get_slice(self, method: GetSlice, axes: Iterable[str]) -> None:
        """Declare the reader method and the axes (in order) of the array it returns."""
        self._method = (method, tuple(axes))
        self._adapted = None

    @property
    @abstractmethod
    def pixel_type(self) -> DTypeLike:
        """The voxel type."""

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.pixel_type)

    @property
    def axes(self) -> list[str]:
        return list(self._sizes)

    @property
    def sizes(self) -> dict[str, int]:
        return self._sizes

    @property
    def ndim(self) -> int:
        return len(self._sizes)

    def __len__(self) -> int:
        return int(np.prod([self._sizes[a] for a in self._iter_axes], dtype=np.int64))

    @property
    def slice_shape(self) -> tuple[int, ...]:
        return tuple(self._sizes[a] for a in self._bundle_axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.slice_shape)

    def _check_axes(self, axes: list[str]) -> None:
        unknown = [a for a in axes if a not in self._sizes]
        if unknown:
            raise ValueError(f"axes {unknown!r} do not exist")

    @property
    def bundle_axes(self) -> list[str]:
        """The axes of one slice, in the order of the returned array (default ``["y", "x"]``)."""
        return list(self._bundle_axes)

    @bundle_axes.setter
    def bundle_axes(self, value: Iterable[str]) -> None:
        axes = list(value)
        self._check_axes(axes)
        if self._method is None:
            raise RuntimeError("the reader declared no get_slice method (_set_get_slice)")
        self._adapted = _adapt(self._method[0], self._method[1], axes)
        self._iter_axes = [a for a in self._iter_axes if a not in axes]
        self._bundle_axes = axes

    @property
    def iter_axes(self) -> list[str]:
        """The axes stepped through; the last varies fastest."""
        return list(self._iter_axes)

    @iter_axes.setter
    def iter_axes(self, value: Iterable[str]) -> None:
        axes = list(value)
        self._check_axes(axes)
        self._bundle_axes = [a for a in self._bundle_axes if a not in axes]
        self._adapted = None
        self._iter_axes = axes

    @property
    def default_coords(self) -> dict[str, int]:
        """Coordinates of the axes neither bundled nor iterated (default 0)."""
        return self._default_coords

    @default_coords.setter
    def default_coords(self, value: dict[str, int]) -> None:
        self._default_coords.update(value)

    def iter_coords(self, i: int) -> dict[str, int]:
        """The coordinate of each iter axis for flat index `i` (last axis fastest)."""
        sizes = [self._sizes[a] for a in self._iter_axes]
        return dict(zip(self._iter_axes, (int(c) for c in np.unravel_index(int(i), sizes)))) if sizes else {}

    def flat_index(self, coords: dict[str, int]) -> int:
        """The flat index of the slice at `coords` (iter axes left out count as 0)."""
        if not self._iter_axes:
            return 0
        return int(np.ravel_multi_index([coords.get(a, 0) for a in self._iter_axes],
                                        [self._sizes[a] for a in self._iter_axes]))

    def get_slice(self, i: int) -> np.ndarray:
        """Slice `i` (a flat index over `iter_axes`), shaped by `bundle_axes`."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} slices")
        if self._adapted is None:
            self.bundle_axes = self._bundle_axes
        coords = {**self._default_coords, **self.iter_coords(i)}
        assert self._adapted is not None
        return np.asarray(self._adapted(**coords))

    def __getitem__(self, key: Any) -> Any:
        if _is_multi(key):
            return _SlicedView(self, _positions(key, len(self)))
        return self.get_slice(_index(key, len(self)))

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.get_slice(i) for i in range(len(self)))

    def close(self) -> None:
        """Release what the reader holds open; subclasses call ``super().close()``."""

    def __enter__(self) -> SliceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{a}={n}" for a, n in self._sizes.items())
        return f"<{type(self).__name__} {sizes} {self.dtype}>"
