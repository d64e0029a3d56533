"""`SlicedImageSource`: images read one 2-D slice at a time, converted in batches of z-slices.

The input is one file (a picture, or a TIFF stack or hyperstack), a folder (every file
below it with a slice-reader extension, in natural order), a glob pattern or a list of
files (in its order). Each batch task opens the reader itself, reads its slices and
writes one slab (c, x, y, z) through `MagView.write`; slices smaller than the largest
one are padded with zeros, and the layer's x/y extent is the largest slice seen.

Axes, as webknossos 4.3.3 decides them: every axis of the reader other than c, y and
x is stepped through, the others in name order and z last. One such axis is the
layer's z, whatever its name (a t, y, x series becomes x, y, z). With several (a TIFF
of t, z, y, x, say) the layer is n-dimensional: its box is `canonical_nd_box` (e.g.
t, c, x, y, z; a zarr3 or Zarr v2 layer with ``additionalAxes``), z stays z (a single
slice if the images have none) and each part covers one position of every further axis.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from wkpy.dataset._image_conversion.common_slice_readers import MultiImageSliceReader, natural_key
from wkpy.dataset._image_conversion.image_source import (
    ChunkResult,
    ImageSource,
    ReadOptions,
    ValueRange,
    canonical_nd_box,
    compute_channel_selection,
    max_value_of,
)
from wkpy.dataset._image_conversion.image_source_registry import (
    describe_missing_extras,
    find_input_file_extensions,
    get_unavailable_extensions,
    get_valid_extensions,
    get_valid_slice_reader_extensions,
    no_supported_images_error,
    open_slice_reader,
)
from wkpy.dataset._image_conversion.slice_reader import SliceReader
from wkpy.errors import (
    ImageConversionError,
    ImagesNotFoundError,
    UnsupportedImageFormatError,
)
from wkpy.executor import io_threads, slab_depth
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Int

__all__ = ["SlicedImageSource"]

_GLOB_CHARS = frozenset("*?[")


class SlicedImageSource(ImageSource):
    """Images read slice by slice with a `SliceReader` (see the module docstring)."""

    def __init__(self, image_paths: Path | list[Path], options: ReadOptions) -> None:
        self._images = image_paths
        self._options = options
        self._bundle_axes: list[str] | None = None
        self._iter_axes: list[str] = []
        self._default_coords: dict[str, int] = {}
        self._spec = self._resolve()   # listed once; tasks get the list, not the folder to walk
        with self._open_slice_reader() as reader:
            self.dtype = reader.dtype
            self.channels_are_rgb = reader.channels_are_rgb
            raw_channels = reader.sizes.get("c", 1)
            bundle = ["c", "y", "x"] if raw_channels > 1 else ["y", "x"]
            if "c" in reader.axes and raw_channels <= 1:
                self._default_coords["c"] = 0
            outer = sorted(a for a in reader.axes if a not in ("c", "y", "x", "z"))
            self._iter_axes = outer + (["z"] if "z" in reader.axes else [])
            self._bundle_axes = bundle
            self._xy = (reader.sizes["x"], reader.sizes["y"])
            self._sizes = {a: reader.sizes[a] for a in self._iter_axes}
        nd = len(self._iter_axes) > 1
        # the axes with one position per part (n-d only); the rest is the z run of a part
        self._selectors = [a for a in self._iter_axes if a != "z"] if nd else []
        if nd:
            self._depth = self._sizes.get("z", 1)
        else:
            self._depth = self._sizes[self._iter_axes[0]] if self._iter_axes else 1
        self.num_channels, self._channel, self._first_n_channels, possible = compute_channel_selection(
            raw_channels, options.channel)
        self._possible_layers = {"channel": possible} if possible is not None else {}

    # ---- opening ----------------------------------------------------------------------
    def _resolve(self) -> str | list[str]:
        """The reader's input: one path or pattern, or a list of files in slice order."""
        if isinstance(self._images, list):
            return [os.fspath(p) for p in self._images]
        if self._images.is_dir():
            extensions = get_valid_slice_reader_extensions()
            files = sorted((os.fspath(p) for p in self._images.glob("**/*")
                            if p.is_file() and p.suffix.lstrip(".").lower() in extensions), key=natural_key)
            return files[0] if len(files) == 1 else files
        return os.fspath(self._images)

    def _error_path(self) -> Path | None:
        if isinstance(self._images, list):
            return Path(self._images[0]) if self._images else None
        return self._images

    def _describe(self) -> str:
        if isinstance(self._images, list):
            return f"the {len(self._images)} images from {self._images[0]}" if self._images else "no images"
        return str(self._images)

    def _open_failure(self, failures: list[Exception]) -> Exception:
        """The error to raise when no reader opened the images (most telling first)."""
        path = self._error_path()
        supported = get_valid_extensions()
        unavailable = get_unavailable_extensions()
        if path is not None and path.is_dir():
            found = find_input_file_extensions(path)
            if not any(e in supported for e in found):
                return no_supported_images_error(path, f"Could not convert {path}: it contains no supported image data.",
                                                 found=found)
        elif path is not None:
            extension = path.suffix.lstrip(".").lower()
            if extension and extension not in supported and not _GLOB_CHARS & set(path.name):
                missing = {extension: unavailable[extension]} if extension in unavailable else {}
                message = (f"Could not convert {path}: no reader supports the .{extension} format. "
                           f"The following extensions are supported: {sorted(supported)}")
                if missing:
                    message += describe_missing_extras(missing)
                return UnsupportedImageFormatError(message, path=path, file_extension=extension,
                                                   supported_file_extensions=tuple(sorted(supported)),
                                                   missing_extras=tuple(sorted(set(missing.values()))))
            if not path.exists() and not (_GLOB_CHARS & set(str(path)) and glob.glob(str(path))):
                return ImagesNotFoundError(f"{path}: no such file or folder (or no file matches the pattern)")
        return next((f for f in failures if isinstance(f, (ImageConversionError, OSError))), failures[0])

    @contextmanager
    def _open_slice_reader(self) -> Iterator[SliceReader]:
        """The opened reader, set to give (c, y, x) or (y, x) slices along z once the axes are known."""
        spec = self._spec
        failures: list[Exception] = []
        reader: SliceReader | None = None
        if isinstance(spec, str):
            try:
                reader = open_slice_reader(spec)
            except Exception as error:  # the sequence reader below may still read it
                failures.append(error)
        if reader is None and spec:
            try:
                reader = MultiImageSliceReader(spec)
            except Exception as error:
                failures.append(error)
        if reader is None:
            if not failures:
                failures.append(ImagesNotFoundError(f"{self._describe()}: no images to convert"))
            error = self._open_failure(failures)
            if error in failures:
                raise error
            raise error from failures[0]
        with reader:
            if self._bundle_axes is not None:
                reader.default_coords.update(self._default_coords)
                reader.bundle_axes = self._bundle_axes
                reader.iter_axes = self._iter_axes
            yield reader

    # ---- what the layer will hold ------------------------------------------------------------
    @property
    def channel(self) -> int | None:
        return self._channel

    def get_layer_split_options(self) -> dict[str, list[int]] | None:
        return dict(self._possible_layers) or None

    @property
    def expected_bbox(self) -> BoundingBox | NormalizedBoundingBox:
        x, y = self._xy
        if self._options.swap_xy:
            x, y = y, x
        if self._selectors:
            return canonical_nd_box({**self._sizes, "x": x, "y": y}, self.num_channels)
        return BoundingBox((0, 0, 0), (x, y, self._depth))

    def slice_bytes(self, dtype: np.dtype) -> int:
        """Bytes of one output slice of the first slice's size."""
        return self._xy[0] * self._xy[1] * self.num_channels * dtype.itemsize

    # ---- conversion ------------------------------------------------------------------------
    def chunk_grid(self, layer_bbox: NDBoundingBox, *, mag_view: object, mag: Mag,
                   batch_size: int | None) -> list[NDBoundingBox]:
        """Batches of whole slices: `batch_size` slices (default: a shard's depth, fewer
        whole chunks if the batches running at once would hold more than 1 GiB), at one
        position of every further axis of an n-d layer."""
        info = mag_view.info  # type: ignore[attr-defined]
        if batch_size is None:
            batch_size = slab_depth(info.shard_shape[2], info.chunk_shape[2],
                                    self.slice_bytes(np.dtype(info.voxel_type)) * io_threads())
        step = batch_size * mag.to_vec3_int().z
        return list(layer_bbox.chunk(layer_bbox.size_xyz.with_z(step), Vec3Int(1, 1, step)))

    def _first_slice(self, reader: SliceReader, bbox: NDBoundingBox, layer_bbox: NDBoundingBox) -> int:
        """The reader's index of the part's first z-slice (z = 0 at its further axes' position)."""
        if not self._selectors:
            return 0
        return reader.flat_index({a: bbox.get_bounds(a)[0] - layer_bbox.get_bounds(a)[0] for a in self._selectors})

    def copy_chunk_to_view(self, bbox: NDBoundingBox, mag_view: object, dtype: DTypeLike | None = None) -> ChunkResult:
        """Read the slices of `bbox`'s z range (at its position along the further axes)
        and write them as one slab at its x/y origin."""
        from wkpy.dataset.layer.view._nd_view import cxyz_to_box_order
        from wkpy.dataset.layer.view.mag_view import MagView

        assert isinstance(mag_view, MagView)
        m = mag_view.mag.to_vec3_int()
        layer_bbox = mag_view.layer.bounding_box
        z0 = (bbox.topleft_xyz.z - layer_bbox.topleft_xyz.z) // m.z
        count = bbox.size_xyz.z // m.z
        out_dtype = np.dtype(dtype) if dtype is not None else np.dtype(self.dtype)
        o = self._options
        slab: np.ndarray | None = None
        ranges = []
        maximum: int | float = 0
        width = height = 0
        with self._open_slice_reader() as reader:
            first = self._first_slice(reader, bbox, layer_bbox)
            for k in range(count):
                z = z0 + k
                plane = np.asarray(reader[first + (self._depth - 1 - z if o.flip_z else z)])
                if plane.ndim == 2:
                    plane = plane[np.newaxis]
                if self._channel is not None:
                    plane = plane[self._channel:self._channel + 1]
                elif self._first_n_channels is not None:
                    plane = plane[: self._first_n_channels]
                if o.flip_x:
                    plane = plane[:, ::-1, :]
                if o.flip_y:
                    plane = plane[:, :, ::-1]
                plane = plane.astype(out_dtype, copy=False)
                if not o.swap_xy:
                    plane = plane.transpose(0, 2, 1)    # (c, y, x) -> (c, x, y)
                top = max_value_of(plane)
                if top is not None:
                    maximum = max(maximum, top)
                ranges.append(ValueRange.of(plane))
                width, height = max(width, plane.shape[1]), max(height, plane.shape[2])
                if slab is None or slab.shape[1] < width or slab.shape[2] < height:
                    grown = np.zeros((self.num_channels, width, height, count), out_dtype, order="F")
                    if slab is not None:
                        grown[:, : slab.shape[1], : slab.shape[2]] = slab
                    slab = grown
                slab[:, : plane.shape[1], : plane.shape[2], k] = plane
        if slab is not None:
            if self._selectors:
                box = bbox.with_size_xyz(Vec3Int(slab.shape[1:]) * m)
                mag_view.write(cxyz_to_box_order(slab, box.axes), absolute_bounding_box=box, allow_unaligned=True,
                               json_update_allowed=False)
            else:
                mag_view.write(slab, absolute_offset=bbox.topleft, allow_unaligned=True, json_update_allowed=False)
        return ChunkResult((width, height), maximum, ValueRange.combined(ranges))

    def final_bounding_box(self, layer_bbox: NDBoundingBox, *, chunk_sizes: Sequence[tuple[int, int]],
                           mag: Mag) -> NDBoundingBox:
        """The largest slice written, times the mag, by the layer's depth (and its extent
        along the further axes)."""
        m = mag.to_vec3_int()
        width = max((s[0] for s in chunk_sizes), default=0)
        height = max((s[1] for s in chunk_sizes), default=0)
        return layer_bbox.with_size_xyz(Vec3Int(width * m.x, height * m.y, layer_bbox.size_xyz.z))
