"""``convert``: images (a folder of 2-D pictures, a TIFF stack, an MRC, IMS or CZI volume) into a new dataset."""

from __future__ import annotations

import math
import shutil
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from wkpy.cli._common import (
    CliError,
    DataFormat,
    ExecutorKind,
    ExecutorOpt,
    Scheduler,
    Workers,
    make_executor,
    parse_voxel_size,
    parse_vec3,
    status,
    usage_error,
)
from wkpy.dataset.dataset import Dataset
from wkpy.errors import DataMismatchError
from wkpy.geometry import NDBoundingBox, Vec3Int
from wkpy.geometry.constants import CXYZ_AXES
from wkpy.dataset.layer.layer import chunk_and_shard_shape
from wkpy.voxel_size import LengthUnit, VoxelSize

__all__ = ["convert"]


class Category(str, Enum):
    color = "color"
    segmentation = "segmentation"


def _remove_new_dataset(target: Path, created: bool) -> None:
    """Remove what a failed convert wrote: the folder it created, or the files it put into
    the empty folder it was given."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _voxels(box: NDBoundingBox) -> int:
    """Voxels of one channel in `box` (along x, y, z and any further axes)."""
    return math.prod(n for a, n in zip(box.axes, box.size) if a != "c")


def convert(
    source: Annotated[Path, typer.Argument(exists=True, show_default=False,
                                           help="Folder of 2-D images (TIFF, PNG, JPEG, ...; natural name order) "
                                                "or one image file (a TIFF stack or hyperstack, e.g. t, z, y, x; "
                                                "MRC, IMS, CZI with wkpy[images]).")],
    target: Annotated[Path, typer.Argument(help="Folder of the new dataset.", show_default=False)],
    voxel_size: Annotated[VoxelSize, typer.Option(
        "--voxel-size", parser=parse_voxel_size, metavar="X,Y,Z", show_default=False,
        help="Size of one voxel, e.g. 11.2,11.2,25.")],
    unit: Annotated[LengthUnit, typer.Option(
        "--unit", metavar="UNIT", help="Unit of --voxel-size: nanometer, micrometer, angstrom, ... "
                                      "(any WEBKNOSSOS length unit).")] = LengthUnit.NANOMETER,
    layer_name: Annotated[Optional[str], typer.Option("--layer-name", "--layer", "-l", show_default=False,
                                                      help="Name of the layer (default: the category).")] = None,
    category: Annotated[Category, typer.Option("--category", help="Layer category.")] = Category.color,
    data_format: Annotated[DataFormat, typer.Option("--data-format", help="Storage format.")] = DataFormat.wkw,
    chunk_shape: Annotated[Vec3Int, typer.Option("--chunk-shape", parser=parse_vec3, metavar="N|X,Y,Z",
                                                 help="Chunk shape, e.g. 32 or 32,32,32.")] = Vec3Int(32, 32, 32),
    shard_shape: Annotated[Optional[Vec3Int], typer.Option(
        "--shard-shape", parser=parse_vec3, metavar="N|X,Y,Z", show_default=False,
        help="Shard shape, e.g. 1024 (default: 1024; for zarr, which has no shards, the chunk shape).")] = None,
    compress: Annotated[bool, typer.Option("--compress/--no-compress", help="Compress the data.")] = True,
    downsample: Annotated[bool, typer.Option("--downsample/--no-downsample",
                                             help="Also make the coarser mags.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, show_default=False,
        help="Slices per task (default: a shard's depth, fewer whole chunks if the tasks running at "
             "once would hold more than 1 GiB).")] = None,
    channel: Annotated[Optional[int], typer.Option(
        "--channel", min=0, show_default=False, help="Convert only this channel of multi-channel images.")] = None,
    split_channels: Annotated[bool, typer.Option(
        "--split-channels", help="One layer per channel (NAME__channel0, ...) where channels cannot share a "
                                 "layer (all but one channel, or three uint8 channels).")] = False,
    name: Annotated[Optional[str], typer.Option("--name", show_default=False,
                                                help="Dataset name (default: the target folder's name).")] = None,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Convert images into a new dataset, slab by slab in bounded memory.

    Image rows become y and columns x; each image (or TIFF page) is one z-slice. A TIFF
    with further axes (e.g. t, z, y, x) becomes an n-d layer with those axes, which needs
    --data-format zarr3 (or zarr). This is `Dataset.add_layer_from_images`: each task reads up to
    --batch-size slices (at one position of the further axes; or one shard box of an MRC,
    IMS or CZI volume) and writes them.
    """
    try:
        chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, None, data_format.value)
        if data_format == DataFormat.zarr and shard != chunk:
            raise DataMismatchError(f"Zarr (version 2) has no shards: --shard-shape {tuple(shard)} must equal "
                                    f"--chunk-shape {tuple(chunk)} (or use --data-format zarr3)")
    except DataMismatchError as error:
        raise usage_error(str(error), "--chunk-shape/--shard-shape") from None
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CliError(f"{target} exists already and is not an empty folder")
    created = not target.exists()
    with make_executor(executor, workers, scheduler) as pool:
        start = time.perf_counter()
        try:
            dataset = Dataset(target, voxel_size_with_unit=VoxelSize(voxel_size.factor, unit), name=name)
            layer = dataset.add_layer_from_images(
                source, layer_name or category.value, category.value, data_format=data_format.value,
                chunk_shape=chunk, shard_shape=shard, compress=compress, batch_size=batch_size, channel=channel,
                allow_multiple_layers=split_channels, executor=pool)
            seconds = time.perf_counter() - start
            layers = list(dataset.layers.values())
            if downsample:
                for each in layers:
                    each.downsample(executor=pool)
        except BaseException:
            _remove_new_dataset(target, created)
            raise
    box = layer.bounding_box
    size = box.size_xyz
    further = ", ".join(f"{a}={n}" for a, n in zip(box.axes, box.size) if a not in CXYZ_AXES)
    megabytes = sum(_voxels(lay.bounding_box) * lay.num_channels * lay.dtype.itemsize for lay in layers) / 1e6
    names = ", ".join(lay.name for lay in layers)
    status(f"converted {size.z} slices of {size.x}×{size.y}{f' for each of {further}' if further else ''} "
           f"({layer.num_channels}× {layer.dtype}) "
           f"into {target} ({names}) in {seconds:.1f} s ({megabytes / max(seconds, 1e-9):.0f} MB/s)"
           + (f", then downsampled to {len(layer.mags)} mags" if downsample else ""))
