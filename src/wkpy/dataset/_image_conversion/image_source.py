"""`ImageSource`: one set of input images, ready to be copied into a layer in parts.

A source knows what the data will look like once written (`dtype`, `num_channels`,
`expected_bbox`) and copies one part of it (`copy_chunk_to_view`) at a time, so that
the parts can run as tasks on any executor. Two kinds exist:

- `SlicedImageSource` reads 2-D slices (PNG, JPEG, TIFF, ...); its parts are batches of
  z-slices (one position of every further axis, such as t, at a time), and the x/y
  extent is the largest slice seen.
- `ChunkedImageSource` reads arbitrary boxes of a volume whose extent is in its metadata
  (MRC, IMS, CZI); its parts are boxes of the shard grid.

Sources carry only paths and options (no open files), so they pickle to worker processes.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from wkpy.errors import InvalidRequestError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox
from wkpy.geometry.constants import C_AXIS, CXYZ_AXES, T_AXIS

if TYPE_CHECKING:
    from wkpy.dataset.layer.view.mag_view import MagView
    from wkpy.properties._view_configuration import LayerViewConfiguration

__all__ = ["ReadOptions", "ChannelSelection", "compute_channel_selection", "canonical_nd_box", "ValueRange",
           "ChunkResult", "ImageSource"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read an `ImageSource`, as `Dataset.add_layer_from_images` was asked.

    Attributes
    ----------
    channel : int or None
        The one channel to convert, None for all.
    swap_xy, flip_x, flip_y, flip_z : bool
        Swap the image's x and y; mirror an output axis (as in webknossos 4.3.3,
        `flip_x` mirrors the source's rows and `flip_y` its columns).
    format_options : mapping
        Options only some formats read (e.g. ``czi_channel``); others ignore them.
    """

    channel: int | None = None
    swap_xy: bool = False
    flip_x: bool = False
    flip_y: bool = False
    flip_z: bool = False
    format_options: Mapping[str, int | None] = field(default_factory=dict)

    def format_option(self, name: str) -> int | None:
        return self.format_options.get(name)

    def with_layer_selection(self, selection: Mapping[str, int]) -> ReadOptions:
        """These options with one layer of a split pinned (``channel`` or a format option)."""
        return replace(self, channel=selection.get("channel", self.channel),
                       format_options={**self.format_options, **{k: v for k, v in selection.items() if k != "channel"}})


class ChannelSelection(NamedTuple):
    """How a source's channels become the layer's: `num_channels` written, one pinned
    `selected_channel`, the `first_n_channels` kept (RGB of RGBA), and the channels that
    could each become a layer (`possible_channels`)."""

    num_channels: int
    selected_channel: int | None
    first_n_channels: int | None
    possible_channels: list[int] | None


def compute_channel_selection(raw_num_channels: int, channel: int | None) -> ChannelSelection:
    """The channel rule of webknossos 4.3.3, shared by every source.

    One pinned channel is written alone; two channels pin the first (each may become a
    layer); three or more keep the first three (RGB), each may become a layer.

    Raises
    ------
    InvalidRequestError
        `channel` is not one of the source's channels (a `ValueError` and an
        `AssertionError`, as webknossos asserts).
    """
    if channel is not None:
        if not 0 <= channel < raw_num_channels:
            raise InvalidRequestError(f"Selected channel {channel} (0-indexed), but only {raw_num_channels} "
                                      "channels are available.")
        return ChannelSelection(1, channel, None, None)
    if raw_num_channels == 2:
        return ChannelSelection(1, 0, None, [0, 1])
    if raw_num_channels >= 3:
        return ChannelSelection(3, None, 3, list(range(raw_num_channels)))
    return ChannelSelection(raw_num_channels, None, None, None)


def canonical_nd_box(sizes: Mapping[str, int], num_channels: int) -> NormalizedBoundingBox:
    """The box (from 0) of a layer converted from images with axes besides c, x, y, z.

    The axes are in the order webknossos 4.3.3 gives such a layer: the further axes
    other than ``t`` (in the order of `sizes`), then ``t``, ``c``, ``x``, ``y``, ``z``,
    with the index of each its position; an axis missing from `sizes` (``z`` of a
    t, y, x series, say) is one voxel long, and ``c`` is `num_channels` long.

    Parameters
    ----------
    sizes : mapping of axis name to length
        The images' axes (``c`` is ignored: `num_channels` counts what is written).
    num_channels : int
        The channels the layer gets.
    """
    extras = [a for a in sizes if a not in CXYZ_AXES and a != T_AXIS]
    axes = (*extras, *((T_AXIS,) if T_AXIS in sizes else ()), *CXYZ_AXES)
    size = [num_channels if a == C_AXIS else int(sizes.get(a, 1)) for a in axes]
    return NormalizedBoundingBox(topleft=(0,) * len(axes), size=size, axes=axes)


class ValueRange(NamedTuple):
    """The smallest and largest value of some data (NaN and infinities ignored)."""

    min: float
    max: float

    @classmethod
    def of(cls, array: np.ndarray) -> ValueRange | None:
        """The range of `array`, None if it holds no finite value."""
        if array.size == 0:
            return None
        if np.issubdtype(array.dtype, np.floating):
            finite = array[np.isfinite(array)] if not np.isfinite(array).all() else array
            if finite.size == 0:
                return None
            return cls(float(finite.min()), float(finite.max()))
        return cls(float(array.min()), float(array.max()))

    @classmethod
    def combined(cls, ranges: Iterable[ValueRange | None]) -> ValueRange | None:
        present = [r for r in ranges if r is not None]
        if not present:
            return None
        return cls(min(r.min for r in present), max(r.max for r in present))


class ChunkResult(NamedTuple):
    """What copying one part reported: the x/y extent written (output axes, in the mag's
    voxels), the largest value (for `largest_segment_id`) and the value range."""

    xy_size: tuple[int, int]
    max_value: int | float | None
    value_range: ValueRange | None = None


def max_value_of(block: np.ndarray) -> int | float | None:
    """The largest value of `block` as a Python number (None if empty); NaN-free for floats."""
    if block.size == 0:
        return None
    if np.issubdtype(block.dtype, np.integer):
        return int(block.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = np.nanmax(block) if np.issubdtype(block.dtype, np.floating) else block.max()
    return None if np.isnan(value) else float(value)


class ImageSource(ABC):
    """One set of input images plus the `ReadOptions` chosen for them."""

    dtype: np.dtype
    """The voxel type of the images (the caller may still convert)."""

    num_channels: int
    """Channels written: after pinning a `channel` or dropping alpha."""

    channels_are_rgb: bool = False
    """Whether the channels are the red, green, blue of one picture (PNG, JPEG, RGB TIFF)."""

    @property
    @abstractmethod
    def channel(self) -> int | None:
        """The pinned channel, or None if all are written."""

    @abstractmethod
    def get_layer_split_options(self) -> dict[str, list[int]] | None:
        """The ways the source could be split across layers, e.g. ``{"channel": [0, 1, 2]}``."""

    @property
    def suggested_view_configuration(self) -> LayerViewConfiguration | None:
        """Display defaults from the format's own metadata; None for formats without."""
        return None

    def layer_split_label(self, key: str, value: int) -> str:
        """The layer-name suffix part for one split entry (``channel0``)."""
        return f"{key}{value}"

    @property
    @abstractmethod
    def expected_bbox(self) -> BoundingBox | NormalizedBoundingBox:
        """The box (from 0, in the source's voxels, after `swap_xy`) the data will fill;
        for sliced sources x/y are those of the first slice. A `BoundingBox` (x, y, z),
        or for images with further axes (e.g. t, z, y, x) a `NormalizedBoundingBox`
        over them (see `canonical_nd_box`)."""

    @abstractmethod
    def copy_chunk_to_view(self, bbox: NDBoundingBox, mag_view: MagView, dtype: DTypeLike | None = None) -> ChunkResult:
        """Read the data of `bbox` (mag-1 voxels of the layer, over the layer's axes) and
        write it into `mag_view`.

        Runs once per part, maybe in another process: opens and closes its files itself.
        """

    @abstractmethod
    def chunk_grid(self, layer_bbox: NDBoundingBox, *, mag_view: MagView, mag: Mag,
                   batch_size: int | None) -> list[NDBoundingBox]:
        """The parts (mag-1 boxes over the layer's axes), one per `copy_chunk_to_view` call."""

    @abstractmethod
    def final_bounding_box(self, layer_bbox: NDBoundingBox, *, chunk_sizes: Sequence[tuple[int, int]],
                           mag: Mag) -> NDBoundingBox:
        """The layer's box once every part is written."""


def check_batch_size(batch_size: int | None) -> None:
    """Refuse a `batch_size` that is not a positive integer."""
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise InvalidRequestError(f"batch_size must be a positive number of slices, got {batch_size!r}")
