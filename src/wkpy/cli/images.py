"""Commands that make pictures: ``export-as-tiff`` and ``preview``."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from wkpy.cli._common import (
    CliError,
    DatasetArg,
    LayerOpt,
    MagOpt,
    format_box,
    open_dataset,
    parse_bbox,
    pick_layer,
    pick_mag,
    status,
    usage_error,
)
from wkpy.errors import InvalidRequestError
from wkpy.geometry import BoundingBox
from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.executor import slab_depth
from wkpy.progress import progress
from wkpy.dataset.layer.view.view import box_in_mag

__all__ = ["export_as_tiff", "preview", "to_uint8", "label_colors", "AXES"]

AXES = "xyz"
# image (rows, columns) of the plane across each axis, as WEBKNOSSOS' viewports show them
_PLANE = {"z": ("y", "x"), "y": ("z", "x"), "x": ("y", "z")}


class Axis(str, Enum):
    x = "x"
    y = "y"
    z = "z"


def _slabs(view: MagView, box: BoundingBox, axis: str, what: str) -> Iterator[np.ndarray]:
    """(c, x, y, z) slabs of `box` (mag 1) along `axis`, each at most a shard (and ~1 GiB) thick."""
    a = AXES.index(axis)
    in_mag = box_in_mag(box, view.mag)
    factor = view.mag.to_vec3_int()[a]
    cross = in_mag.size.prod() // in_mag.size[a] * view.num_channels * view.get_dtype().itemsize
    step = slab_depth(view.info.shard_shape[a], view.info.chunk_shape[a], cross)
    count = in_mag.size[a]
    with progress(what, count) as advance:
        for lo in range(0, count, step):
            n = min(step, count - lo)
            yield view.read(absolute_bounding_box=box.with_bounds(axis, box.topleft[a] + lo * factor, n * factor))
            for _ in range(n):
                advance()


def _checked_box(view: MagView, bbox: BoundingBox | None) -> BoundingBox:
    box = bbox if bbox is not None else view.bounding_box
    if box.is_empty():
        raise CliError(f"layer {view.layer.name!r} is empty (its bounding box is {format_box(box)})")
    try:
        box_in_mag(box, view.mag)
    except InvalidRequestError as error:
        raise usage_error(str(error), "--bbox") from None
    return box


# ---- export-as-tiff ---------------------------------------------------------------------------
def _tiff_page(plane: np.ndarray) -> np.ndarray:
    """A (c, x, y) plane as a TIFF page: (y, x), (y, x, 3) for RGB, else (c, y, x)."""
    c = plane.shape[0]
    if c == 1:
        return plane[0].T
    return plane.transpose(2, 1, 0) if c == 3 else plane.transpose(0, 2, 1)


def _tiff_options(num_channels: int) -> dict[str, Any]:
    if num_channels == 3:
        return {"photometric": "rgb"}
    return {"photometric": "minisblack"} | ({"planarconfig": "separate"} if num_channels > 1 else {})


def export_as_tiff(
    path: DatasetArg,
    dest: Annotated[Path, typer.Argument(show_default=False,
                                         help="Folder for one TIFF per z-slice, or the file with --single-file.")],
    layer_name: LayerOpt = None,
    mag: MagOpt = None,
    bbox: Annotated[Optional[BoundingBox], typer.Option(
        "--bbox", parser=parse_bbox, metavar="X,Y,Z,W,H,D", show_default=False,
        help="Box to export, in mag-1 voxels (default: the layer's bounding box).")] = None,
    single_file: Annotated[bool, typer.Option("--single-file", help="Write one multi-page TIFF stack.")] = False,
    name: Annotated[Optional[str], typer.Option("--name", show_default=False,
                                                help="File name prefix (default: the layer name).")] = None,
) -> None:
    """Export a box of one mag as TIFF: one file per z-slice, or one multi-page stack.

    Slice files are named NAME_Z.tif with Z (six digits) in the mag's voxels.
    """
    import tifffile

    view = pick_mag(pick_layer(open_dataset(path), layer_name), mag)
    box = _checked_box(view, bbox)
    in_mag = box_in_mag(box, view.mag)
    channels = view.num_channels
    options = _tiff_options(channels)
    pages = (_tiff_page(slab[..., i]) for slab in _slabs(view, box, "z", "exporting")
             for i in range(slab.shape[3]))
    if single_file:
        if not dest.parent.is_dir():
            raise usage_error(f"folder {dest.parent} does not exist", "DEST")
        page_shape = _tiff_page(np.zeros((channels, in_mag.size.x, in_mag.size.y), np.uint8)).shape
        tifffile.imwrite(dest, pages, shape=(in_mag.size.z, *page_shape), dtype=view.get_dtype(), **options)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        prefix = name or view.layer.name
        for z, page in zip(range(in_mag.topleft.z, in_mag.bottomright.z), pages):
            tifffile.imwrite(dest / f"{prefix}_{z:06d}.tif", page, **options)
    status(f"exported {in_mag.size.z} slices of {format_box(box)} (mag {view.mag.to_layer_name()}) to {dest}")


# ---- preview ----------------------------------------------------------------------------------
def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; anything else scaled linearly from its min..max to 0..255 (NaN → 0)."""
    if image.dtype == np.uint8:
        return image
    data = image.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(image.shape, np.uint8)
    lo, hi = data[finite].min(), data[finite].max()
    scaled = np.rint((data - lo) * (255.0 / (hi - lo))) if hi > lo else np.zeros_like(data)
    return np.where(finite, scaled, 0).astype(np.uint8)


def label_colors(labels: np.ndarray) -> np.ndarray:
    """An RGB colour per segment id, random-looking but the same in every run; 0 is black.

    Each id is hashed (splitmix64); colour components lie in 48..255 so segments stay visible.
    """
    ids, inverse = np.unique(labels, return_inverse=True)
    h = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    rgb = np.stack([(h >> np.uint64(shift)) & np.uint64(0xFF) for shift in (0, 8, 16)], axis=-1)
    rgb = (48 + rgb * 207 // 255).astype(np.uint8)
    rgb[ids == 0] = 0
    return rgb[inverse.reshape(labels.shape)]


def _render(plane: np.ndarray, axis: str, segmentation: bool) -> np.ndarray:
    """A (c, u, v) plane (u, v: the other axes in x, y, z order) as an image array for Pillow."""
    rows, cols = _PLANE[axis]
    others = [a for a in AXES if a != axis]
    image = plane.transpose(1 + others.index(rows), 1 + others.index(cols), 0)  # (rows, cols, c)
    if segmentation:
        return label_colors(image[..., 0])
    image = to_uint8(image)
    if image.shape[2] == 3:
        return image
    if image.shape[2] != 1:
        status(f"showing channel 0 of {image.shape[2]}")
    return image[..., 0]


def preview(
    path: DatasetArg,
    out: Annotated[Path, typer.Argument(show_default=False, help="Picture to write, e.g. slice.png.")],
    layer_name: LayerOpt = None,
    mag: MagOpt = None,
    z: Annotated[Optional[int], typer.Option(
        "--z", show_default=False, help="Show z-slice N (mag-1 voxels); short for --axis z --index N.")] = None,
    axis: Annotated[Optional[Axis], typer.Option("--axis", show_default=False,
                                                 help="Axis across the plane: z (default), y or x.")] = None,
    index: Annotated[Optional[int], typer.Option(
        "--index", show_default=False, help="Position along --axis, mag-1 voxels (default: the middle).")] = None,
    mip: Annotated[bool, typer.Option("--mip", help="Maximum-intensity projection along the axis instead.")] = False,
) -> None:
    """Write a picture of one slice (or a maximum-intensity projection).

    Color layers are scaled from min..max to 0..255 (uint8 stays as is); 3 channels are RGB.
    Segmentation layers get a fixed random colour per id (0 is black). Across z the picture
    is x wide and y high; across y x by z; across x z by y (as in WEBKNOSSOS).
    """
    from PIL import Image

    if out.suffix.lower() not in Image.registered_extensions():
        raise usage_error(f"{out.name}: unknown picture type (use e.g. .png)", "OUT")
    if not out.parent.is_dir():
        raise usage_error(f"folder {out.parent} does not exist", "OUT")
    if z is not None and (index is not None or (axis is not None and axis != Axis.z)):
        raise usage_error("give --z N, or --axis and --index, not both", "--z")
    name = "z" if z is not None else (axis.value if axis is not None else "z")
    index = z if z is not None else index
    if mip and index is not None:
        raise usage_error("--mip projects the whole bounding box; drop --z/--index", "--mip")
    view = pick_mag(pick_layer(open_dataset(path), layer_name), mag)
    box = _checked_box(view, None)
    a = AXES.index(name)
    factor = view.mag.to_vec3_int()[a]
    if mip:
        plane = None
        for slab in _slabs(view, box, name, "projecting"):
            top = slab.max(axis=1 + a)
            plane = top if plane is None else np.fmax(plane, top)
    else:
        lo, hi = box.topleft[a], box.bottomright[a]
        if index is None:
            index = lo + (hi - lo) // 2
        if not lo <= index < hi:
            raise usage_error(f"{index} is outside the bounding box ({lo} ≤ {name} < {hi})", "--index/--z")
        start = index - index % factor
        plane = view.read(absolute_bounding_box=box.with_bounds(name, start, factor)).take(0, axis=1 + a)
    image = _render(plane, name, view.layer.category == "segmentation")  # type: ignore[arg-type]
    Image.fromarray(image).save(out)
    status(f"wrote {out} ({image.shape[1]}×{image.shape[0]}, {'projection' if mip else f'{name}={index}'})")
