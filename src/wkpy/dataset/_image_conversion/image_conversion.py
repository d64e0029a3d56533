"""`Dataset.from_images` and `Dataset.add_layer_from_images`, as in webknossos 4.3.3.

`from_images` maps the image files under a folder to layers (`ConversionLayerMapping`
or a function) and adds each with `add_layer_from_images`. That opens the images as an
`ImageSource`, decides how their channels become layers, creates each layer and its
mag in a hidden staging dataset, copies the data part by part as tasks on the executor
(every task writes through `MagView.write`, under the shard locks), saves the layer's box
once, then lists the layer and renames its folder into place in one step. A layer is
therefore listed only when complete, also after a SIGKILL (the staging folder is then a
leftover that `wkpy._trash.recover` deletes); a call that fails deletes the layers it
had added, so a failure leaves the dataset as it was.
"""

from __future__ import annotations

import colorsys
import dataclasses
import glob
import logging
import operator
import os
import re
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from functools import partial
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike

from wkpy._urls import local_path
from wkpy.data_format import default_data_format, writable_data_format
from wkpy.dataset._image_conversion.conversion_layer_mapping import ConversionLayerMapping  # noqa: F401
from wkpy.dataset._image_conversion.common_slice_readers import RGB_IMAGE_EXTENSIONS, natural_key
from wkpy.dataset._image_conversion.image_source import ImageSource, ReadOptions, ValueRange, check_batch_size
from wkpy.dataset._image_conversion.image_source_registry import (
    get_valid_extensions,
    no_supported_images_error,
    open_image_source,
)
from wkpy.dataset._image_conversion.segmentation_recognition import guess_if_segmentation_path
from wkpy.dataset.defaults import DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES
from wkpy.dataset.layer.layer import chunk_and_shard_shape
from wkpy.errors import (
    DataMismatchError,
    ImagesNotFoundError,
    InvalidRequestError,
    UnsupportedImageDataError,
    WkError,
)
from wkpy.executor import map_on_executor
from wkpy.geometry import BoundingBox, Mag, MagLike, NDBoundingBox, Vec3Int, Vec3IntLike, VecIntLike
from wkpy.geometry.constants import CXYZ_AXES
from wkpy.properties._view_configuration import LayerViewConfiguration
from wkpy.voxel_size import Vec3FloatLike, VoxelSize

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer

__all__ = ["ConversionLayerMapping", "from_images", "add_layer_from_images", "get_valid_extensions"]

logger = logging.getLogger(__name__)

_UNALLOWED_LAYER_NAME_CHARS = re.compile(r"[^A-Za-z0-9_$@\-.]")
_GLOB_CHARS = frozenset("*?[")


def _channel_layer_color(index: int) -> tuple[int, int, int]:
    """Red, green, blue for the first three split channels, then golden-angle hues."""
    if index < 3:
        return ((255, 0, 0), (0, 255, 0), (0, 0, 255))[index]
    red, green, blue = colorsys.hsv_to_rgb(((index - 3) * 0.618033988749895) % 1.0, 0.85, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def _fits_one_layer(num_channels: int, dtype: np.dtype) -> bool:
    """WEBKNOSSOS shows one channel, or three uint8 channels (RGB), in one layer."""
    return num_channels == 1 or (num_channels == 3 and dtype == np.uint8)


def _channels_are_one_rgb_layer(num_source_channels: int, dtype: np.dtype, source: ImageSource,
                                truncate_rgba_to_rgb: bool) -> bool:
    if not source.channels_are_rgb:
        return False
    written = 3 if num_source_channels == 4 and truncate_rgba_to_rgb else num_source_channels
    return _fits_one_layer(written, dtype)


def _rgb_formats() -> str:
    return ", ".join("." + e for e in sorted(RGB_IMAGE_EXTENSIONS))


def _as_paths(images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Path | list[Path]:
    if isinstance(images, (str, os.PathLike)) or hasattr(images, "protocol"):
        return local_path(images, "folder or file of images")  # type: ignore[arg-type]
    return [local_path(i, "image file") for i in images]


def _check_exists(images: Path | list[Path]) -> None:
    """`ImagesNotFoundError` for a path (or listed file) that does not exist."""
    for path in images if isinstance(images, list) else [images]:
        if not path.exists() and not (_GLOB_CHARS & set(str(path)) and glob.glob(str(path))):
            raise ImagesNotFoundError(f"{path}: no such file or folder (or no file matches the pattern)")


def _topleft(value: Any) -> Vec3Int | tuple[int, ...]:
    """`topleft` as three integers (x, y, z), or one per axis of an n-d layer's box (its
    length is checked against the box once the images are open)."""
    try:
        if len(value) == 3:
            return Vec3Int(value)
        return tuple(operator.index(v) for v in value)
    except (WkError, TypeError, ValueError):
        raise InvalidRequestError(f"topleft must be three integers (x, y, z), or one per axis of the layer's box, "
                                  f"got {value!r}") from None


def _initial_box(expected: BoundingBox | NDBoundingBox, mag: Mag,
                 topleft: Vec3Int | tuple[int, ...]) -> BoundingBox | NDBoundingBox:
    """The layer's box before the conversion: `expected` in mag 1, moved by `topleft`."""
    try:
        return expected.from_mag_to_mag1(mag).offset(topleft)
    except (WkError, TypeError, ValueError):
        raise InvalidRequestError(f"topleft {tuple(topleft)} must be three integers (x, y, z) or one per axis "
                                  f"{expected.axes} of the layer's box") from None


def add_layer_from_images(
    dataset: Dataset,
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    layer_name: str,
    category: str | None,
    *,
    data_format: Any,
    mag: MagLike,
    chunk_shape: Vec3IntLike | int | None,
    shard_shape: Vec3IntLike | int | None,
    chunks_per_shard: Vec3IntLike | int | None,
    compress: bool,
    topleft: Vec3IntLike | VecIntLike,
    swap_xy: bool,
    flip_x: bool,
    flip_y: bool,
    flip_z: bool,
    dtype: DTypeLike | None,
    channel: int | None,
    czi_channel: int | None,
    scale: int | None,
    batch_size: int | None,
    allow_multiple_layers: bool,
    max_layers: int,
    truncate_rgba_to_rgb: bool,
    executor: Executor | None,
) -> Layer:
    """See `Dataset.add_layer_from_images`."""
    from wkpy._layer_args import check_layer_name

    check_layer_name(layer_name)
    dataset._ensure_writable()
    check_batch_size(batch_size)
    offset = _topleft(topleft)
    mag = Mag(mag)
    paths = _as_paths(images)
    _check_exists(paths)
    if category is None:
        category = "segmentation" if guess_if_segmentation_path(paths if isinstance(paths, Path) else paths[0]) \
            else "color"
    options = ReadOptions(channel=channel, swap_xy=swap_xy, flip_x=flip_x, flip_y=flip_y, flip_z=flip_z,
                          format_options={"czi_channel": czi_channel, "scale": scale})
    source = open_image_source(paths, options)
    split = source.get_layer_split_options()
    layer_dtype = np.dtype(dtype) if dtype is not None else np.dtype(source.dtype)
    source_channels = split.get("channel") if split is not None else None
    if source_channels is not None:
        assert split is not None
        if _channels_are_one_rgb_layer(len(source_channels), layer_dtype, source, truncate_rgba_to_rgb) or (
                not allow_multiple_layers and _fits_one_layer(len(source_channels), layer_dtype)):
            del split["channel"]
        elif not allow_multiple_layers:
            raise UnsupportedImageDataError(
                f"Cannot write these {len(source_channels)} channels into a single layer: WEBKNOSSOS only combines "
                f"several channels into one layer as RGB (three uint8 channels of {_rgb_formats()}). Set "
                "allow_multiple_layers=True to write one layer per channel, or channel=<index> to convert a "
                "single channel.", path=paths if isinstance(paths, Path) else None)
    splitting_channels = split is not None and "channel" in split
    if split:
        if allow_multiple_layers:
            per_layer = {"__" + "_".join(source.layer_split_label(k, v) for k, v in sorted(pairs)): dict(pairs)
                         for pairs in product(*([(k, v) for v in values] for k, values in split.items()))}
        else:
            per_layer = {"": {}}
            warnings.warn(f"[INFO] There are dimensions beyond channels and xyz which cannot be read: {split}. "
                          "Defaulting to the first one. Please set allow_multiple_layers=True if all of them should "
                          "be written to different layers, or set specific values as arguments.", stacklevel=3)
    else:
        per_layer = {"": {}}
    if len(per_layer) > max_layers:
        warnings.warn(f"[INFO] Limiting the number of added layers to {max_layers} out of {len(per_layer)}. "
                      "Please increase `max_layers` if you want more layers to be added.", stacklevel=3)
    if max_layers < 1:
        raise InvalidRequestError(f"max_layers={max_layers} leaves no layer to add")
    added: list[Layer] = []
    try:
        for suffix, selection in list(per_layer.items())[:max_layers]:
            layer_source = open_image_source(paths, options.with_layer_selection(selection)) if selection else source
            color = _channel_layer_color(selection["channel"]) if splitting_channels else None
            added.append(_convert_one_layer(
                dataset, layer_source, layer_name + suffix, category, data_format=data_format, mag=mag,
                chunk_shape=chunk_shape, shard_shape=shard_shape, chunks_per_shard=chunks_per_shard,
                compress=compress, topleft=offset, dtype=dtype, batch_size=batch_size, executor=executor,
                color=color))
    except BaseException:
        for layer in added:   # the layers of this call that were complete: all or none stay
            with _suppress_cleanup_errors():
                dataset.delete_layer(layer.name)
        raise
    return added[0]


def _shapes(data_format: str, expected: NDBoundingBox, chunk_shape: Any, shard_shape: Any,
            chunks_per_shard: Any) -> tuple[Vec3Int, Vec3Int]:
    """Chunk and shard shape of the new mag, with webknossos' defaults for image imports:
    zarr3 shards one chunk deep (and chunks one voxel deep for a single slice)."""
    try:
        chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, chunks_per_shard, data_format)
        if data_format == "zarr3":
            if shard_shape is None and chunks_per_shard is None:
                shard = chunk * DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES
            if expected.size_xyz.z == 1:
                chunk, shard = chunk.with_z(1), shard.with_z(1)
    except DataMismatchError as error:
        raise InvalidRequestError(str(error)) from error
    return chunk, shard


def _check_format_holds_image_axes(source: ImageSource, data_format: Any) -> None:
    """Refuse images with axes besides c, x, y, z for WKW layers, which have no such axes
    (zarr3 and Zarr v2 layers hold them as ``additionalAxes``).

    Raises
    ------
    UnsupportedImageDataError
        The images have further axes and `data_format` (or the default) is WKW.
    """
    expected = source.expected_bbox
    if isinstance(expected, BoundingBox):
        return
    fmt = (default_data_format() if data_format is None else writable_data_format(data_format)).value
    if fmt == "wkw":
        extra = ", ".join(f"{a}={n}" for a, n in zip(expected.axes, expected.size) if a not in CXYZ_AXES)
        raise UnsupportedImageDataError(
            f"the images have the axes {extra} besides x, y, z: WKW layers hold x, y, z only; use "
            "data_format='zarr3' (wkpy convert: --data-format zarr3)")


def _convert_one_layer(dataset: Dataset, source: ImageSource, name: str, category: str, *,
                       data_format: Any, mag: Mag, chunk_shape: Any, shard_shape: Any, chunks_per_shard: Any,
                       compress: bool, topleft: Vec3Int | tuple[int, ...], dtype: DTypeLike | None,
                       batch_size: int | None, executor: Executor | None,
                       color: tuple[int, int, int] | None) -> Layer:
    """Convert into a layer built out of sight and listed in one step
    (`wkpy.dataset._staged_layer`): a failure or a SIGKILL never leaves a listed,
    half-converted layer."""
    from wkpy._paths import check_name
    from wkpy.dataset._staged_layer import add_staged_layer
    from wkpy.errors import DuplicateError

    layer_dtype = np.dtype(dtype) if dtype is not None else np.dtype(source.dtype).newbyteorder("=")
    _check_format_holds_image_axes(source, data_format)
    initial = _initial_box(source.expected_bbox, mag, topleft)
    if name in dataset.layers:
        raise DuplicateError(f"dataset {dataset.path} has a layer {name!r} already")

    def build(staged: Dataset) -> Layer:
        try:
            layer = staged.add_layer(name, category, data_format=data_format,  # type: ignore[arg-type]
                                     dtype=layer_dtype, num_channels=source.num_channels,
                                     largest_segment_id=0 if category == "segmentation" else None,
                                     bounding_box=None if isinstance(initial, BoundingBox) else initial)
        except DataMismatchError as error:
            raise UnsupportedImageDataError(str(error)) from error
        if color is not None and category == "color":
            layer.default_view_configuration = LayerViewConfiguration(color=color)
        _fill_layer(layer, source, initial, mag=mag, chunk_shape=chunk_shape, shard_shape=shard_shape,
                    chunks_per_shard=chunks_per_shard, compress=compress, dtype=layer_dtype,
                    batch_size=batch_size, executor=executor)
        return layer

    return add_staged_layer(dataset, check_name(name), build)


class _suppress_cleanup_errors:
    """Keep the conversion's error when removing its half-made layer fails too."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        if value is not None:
            logger.warning("could not remove the half-converted layer or its staging folder: %s", value)
        return isinstance(value, Exception)


def _fill_layer(layer: Layer, source: ImageSource, initial: NDBoundingBox, *, mag: Mag, chunk_shape: Any,
                shard_shape: Any, chunks_per_shard: Any, compress: bool, dtype: np.dtype, batch_size: int | None,
                executor: Executor | None) -> None:
    """Write the images into `layer`, whose box starts as `initial` (mag 1)."""
    expected = source.expected_bbox
    chunk, shard = _shapes(layer.data_format, expected, chunk_shape, shard_shape, chunks_per_shard)
    layer.bounding_box = initial
    mag_view = layer.add_mag(mag, chunk_shape=chunk, shard_shape=shard, compress=compress)
    initial = layer.bounding_box
    parts = source.chunk_grid(initial, mag_view=mag_view, mag=mag, batch_size=batch_size)
    results = map_on_executor(partial(source.copy_chunk_to_view, mag_view=mag_view, dtype=dtype), parts, executor,
                              f"Creating layer {layer.name} from images")
    final = source.final_bounding_box(initial, chunk_sizes=[r.xy_size for r in results], mag=mag)
    layer.bounding_box = final
    if final != initial:
        warnings.warn(f"[WARNING] Some images are larger than expected, smaller slices are padded with zeros now. "
                      f"New bbox is {final}, expected {expected}.", stacklevel=4)
    maxima = [r.max_value for r in results if r.max_value is not None]
    largest = max(maxima, default=0)
    if layer.category == "segmentation":
        layer.largest_segment_id = int(largest)  # type: ignore[attr-defined]
    value_range = ValueRange.combined(r.value_range for r in results)
    if layer.category == "color" and value_range is not None:
        view = layer.default_view_configuration or LayerViewConfiguration()
        if view.min is None or view.max is None:
            layer.default_view_configuration = dataclasses.replace(
                view, min=value_range.min if view.min is None else view.min,
                max=value_range.max if view.max is None else view.max)


def _iter_input_files(root: Path, extensions: set[str]) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() in extensions]


def from_images(
    dataset_cls: type[Dataset],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    voxel_size: Vec3FloatLike | None,
    name: str | None,
    *,
    map_filepath_to_layer_name: ConversionLayerMapping | Callable[[Path], str],
    z_slices_sort_key: Callable[[Path], Any] | None,
    voxel_size_with_unit: VoxelSize | None,
    layer_name: str | None,
    layer_category: str | None,
    data_format: Any,
    chunk_shape: Vec3IntLike | int | None,
    shard_shape: Vec3IntLike | int | None,
    chunks_per_shard: Vec3IntLike | int | None,
    compress: bool,
    swap_xy: bool,
    flip_x: bool,
    flip_y: bool,
    flip_z: bool,
    max_layers: int,
    batch_size: int | None,
    executor: Executor | None,
) -> Dataset:
    """See `Dataset.from_images`."""
    root = local_path(input_path, "folder or file of images")
    original = root
    valid = get_valid_extensions()
    sort_key = z_slices_sort_key or (lambda p: natural_key(str(p)))
    is_file = root.is_file()
    if is_file:
        files = [Path(root.name)] if root.suffix.lstrip(".").lower() in valid else []
        root = root.parent
    elif root.is_dir():
        files = [p.relative_to(root) for p in _iter_input_files(root, valid)]
    else:
        raise ImagesNotFoundError(f"{root}: no such file or folder")
    if not files:
        raise no_supported_images_error(
            original, "Could not find any supported image data.",
            file_extension=(original.suffix.lstrip(".").lower() or None) if is_file else None)
    files.sort(key=lambda p: natural_key(str(p)))
    mapping = (map_filepath_to_layer_name._to_callable(root, files)
               if isinstance(map_filepath_to_layer_name, ConversionLayerMapping) else map_filepath_to_layer_name)
    if (voxel_size is None) == (voxel_size_with_unit is None):
        raise InvalidRequestError("Please supply either voxel_size or voxel_size_with_unit, not both.")
    groups: dict[str, list[Path]] = {}
    for relative in files:
        mapped = _UNALLOWED_LAYER_NAME_CHARS.sub("", mapping(relative)).lstrip(".")
        if not mapped:
            raise InvalidRequestError(f"Could not determine a layer name for {relative}.")
        groups.setdefault(mapped, []).append(root / relative)
    if layer_name is not None:
        groups = ({layer_name: next(iter(groups.values()))} if len(groups) == 1
                  else {f"{layer_name}_{k}": v for k, v in groups.items()})
    dataset = dataset_cls(output_path, voxel_size=voxel_size, name=name,  # type: ignore[call-arg]
                          voxel_size_with_unit=voxel_size_with_unit)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"wkpy\.dataset\._image_conversion\..*")
        for group_name, paths in groups.items():
            paths.sort(key=sort_key)
            dataset.add_layer_from_images(
                paths[0] if len(paths) == 1 else paths, group_name, category=layer_category,  # type: ignore[arg-type]
                data_format=data_format, chunk_shape=chunk_shape, shard_shape=shard_shape,
                chunks_per_shard=chunks_per_shard, compress=compress, swap_xy=swap_xy, flip_x=flip_x,
                flip_y=flip_y, flip_z=flip_z, batch_size=batch_size, allow_multiple_layers=True,
                max_layers=max_layers - len(dataset.layers), truncate_rgba_to_rgb=True, executor=executor)
    return dataset
