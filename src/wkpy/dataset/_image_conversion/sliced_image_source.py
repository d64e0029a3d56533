"""`SlicedImageSource`: images read one 2-D slice at a time, converted in batches of z-slices.

The input is one file (a picture, or a TIFF stack or hyperstack), a folder (every file
below it with a slice-reader extension, in natural order), a glob pattern or a list of
files (in its order). Each batch task opens the reader itself, reads its slices and
writes one slab (c, x, y, z) through `MagView.write`; slices smaller than the largest
one are padded with zeros, and the layer's x/y extent is the largest slice seen.

wkpy layers hold c, x, y, z only: a TIFF with a further axis of size > 1 beside z
(e.g. time) raises `UnsupportedImageDataError`; one such axis without z becomes z.
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
    UnsupportedImageDataError,
    UnsupportedImageFormatError,
)
from wkpy.executor import io_threads, slab_depth
from wkpy.geometry import BoundingBox, Mag, Vec3Int

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
            others = [a for a in reader.axes if a not in ("c", "y", "x")]
            deep = [a for a in others if reader.sizes[a] > 1]
            if len(deep) > 1:
                raise UnsupportedImageDataError(
                    f"{self._describe()} has the axes {', '.join(f'{a}={reader.sizes[a]}' for a in deep)}: wkpy "
                    "layers hold x, y, z (and channels), so only one of them can become z. Split the images "
                    "along the others first (webknossos 4.3.3 writes them as additional axes of a zarr3 layer).",
                    path=self._error_path())
            z_axis = deep[0] if deep else ("z" if "z" in others else (others[0] if others else None))
            self._default_coords = {a: 0 for a in others if a != z_axis}
            if "c" in reader.axes and raw_channels <= 1:
                self._default_coords["c"] = 0
            self._iter_axes = [z_axis] if z_axis is not None else []
            self._bundle_axes = bundle
            self._xy = (reader.sizes["x"], reader.sizes["y"])
            self._depth = reader.sizes[z_axis] if z_axis is not None else 1
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
    def expected_bbox(self) -> BoundingBox:
        x, y = self._xy
        if self._options.swap_xy:
            x, y = y, x
        return BoundingBox((0, 0, 0), (x, y, self._depth))

    def slice_bytes(self, dtype: np.dtype) -> int:
        """Bytes of one output slice of the first slice's size."""
        return self._xy[0] * self._xy[1] * self.num_channels * dtype.itemsize

    # ---- conversion ------------------------------------------------------------------------
    def chunk_grid(self, layer_bbox: BoundingBox, *, mag_view: object, mag: Mag,
                   batch_size: int | None) -> list[BoundingBox]:
        """Batches of whole slices: `batch_size` slices (default: a shard's depth, fewer
        whole chunks if the batches running at once would hold more than 1 GiB)."""
        info = mag_view.info  # type: ignore[attr-defined]
        if batch_size is None:
            batch_size = slab_depth(info.shard_shape[2], info.chunk_shape[2],
                                    self.slice_bytes(np.dtype(info.voxel_type)) * io_threads())
        m = mag.to_vec3_int()
        step = batch_size * m.z
        top = layer_bbox.topleft
        depth = layer_bbox.size.z
        return [BoundingBox(top.with_z(top.z + z), (layer_bbox.size.x, layer_bbox.size.y, min(step, depth - z)))
                for z in range(0, depth, step)]

    def copy_chunk_to_view(self, bbox: BoundingBox, mag_view: object, dtype: DTypeLike | None = None) -> ChunkResult:
        """Read the slices of `bbox`'s z range and write them as one slab at its x/y origin."""
        from wkpy.dataset.layer.view.mag_view import MagView

        assert isinstance(mag_view, MagView)
        m = mag_view.mag.to_vec3_int()
        z0 = (bbox.topleft.z - mag_view.layer.bounding_box.topleft.z) // m.z
        count = bbox.size.z // m.z
        out_dtype = np.dtype(dtype) if dtype is not None else np.dtype(self.dtype)
        o = self._options
        slab: np.ndarray | None = None
        ranges = []
        maximum: int | float = 0
        width = height = 0
        with self._open_slice_reader() as reader:
            for k in range(count):
                z = z0 + k
                plane = np.asarray(reader[self._depth - 1 - z if o.flip_z else z])
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
            mag_view.write(slab, absolute_offset=bbox.topleft, allow_unaligned=True, json_update_allowed=False)
        return ChunkResult((width, height), maximum, ValueRange.combined(ranges))

    def final_bounding_box(self, layer_bbox: BoundingBox, *, chunk_sizes: Sequence[tuple[int, int]],
                           mag: Mag) -> BoundingBox:
        """The largest slice written, times the mag, by the layer's depth."""
        m = mag.to_vec3_int()
        width = max((s[0] for s in chunk_sizes), default=0)
        height = max((s[1] for s in chunk_sizes), default=0)
        return layer_bbox.with_size(Vec3Int(width * m.x, height * m.y, layer_bbox.size.z))
