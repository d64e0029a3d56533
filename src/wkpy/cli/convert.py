"""``convert``: an image stack (a folder of 2-D images or a 3-D TIFF) into a new dataset."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import Executor
from dataclasses import dataclass
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
    open_dataset,
    parse_voxel_size,
    parse_vec3,
    slab_depth,
    status,
    usage_error,
)
from wkpy.cli._stacks import ImageStack, open_stack
from wkpy.dataset.dataset import Dataset
from wkpy.errors import DataMismatchError
from wkpy.executor import io_threads, map_on_executor
from wkpy.geometry import BoundingBox, Vec3Int
from wkpy.dataset.layer.layer import Layer, chunk_and_shard_shape
from wkpy.voxel_size import LengthUnit, VoxelSize

__all__ = ["convert"]


class Category(str, Enum):
    color = "color"
    segmentation = "segmentation"


@dataclass(frozen=True)
class _SlabJob:
    """One task: read slices ``z0 ≤ z < z1`` and write them into mag 1 of the layer."""

    stack: ImageStack
    target: str
    layer: str
    z0: int
    z1: int
    want_max: bool


def _write_slab(job: _SlabJob) -> int | None:
    """Run one `_SlabJob` (in any thread or process); returns the slab's maximum if asked."""
    data = job.stack.read(job.z0, job.z1)
    view = open_dataset(Path(job.target), read_only=False).get_layer(job.layer).get_mag(1)
    view.write(data, absolute_offset=(0, 0, job.z0), allow_unaligned=True, json_update_allowed=False)
    return int(data.max()) if job.want_max else None


def _convert(stack: ImageStack, target: Path, voxel_size: VoxelSize, layer_name: str, category: str,
             data_format: str, chunk: Vec3Int, shard: Vec3Int, compress: bool, batch: int, name: str | None,
             pool: Executor) -> Layer:
    """Create the dataset and layer, then write the slabs as tasks on `pool`; the box is saved once."""
    shape = stack.shape
    dataset = Dataset(target, voxel_size_with_unit=voxel_size, name=name)
    layer = dataset.add_layer(layer_name, category, dtype_per_channel=shape.dtype,
                              num_channels=shape.num_channels, data_format=data_format)
    layer.add_mag(1, chunk_shape=chunk, shard_shape=shard, compress=compress)
    segmentation = category == "segmentation"
    jobs = [_SlabJob(stack, str(target), layer.name, z0, min(z0 + batch, shape.depth), segmentation)
            for z0 in range(0, shape.depth, batch)]
    maxima = map_on_executor(_write_slab, jobs, pool, f"converting {shape.depth} slices")
    layer.bounding_box = BoundingBox((0, 0, 0), (shape.width, shape.height, shape.depth))
    if segmentation:
        layer.largest_segment_id = max(m for m in maxima if m is not None)  # type: ignore[attr-defined]
    return layer


def convert(
    source: Annotated[Path, typer.Argument(exists=True, show_default=False,
                                           help="Folder of 2-D images (TIFF, PNG, JPEG; natural name order) "
                                                "or one TIFF stack.")],
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
        help="Slices per task, a multiple of the chunk depth (default: a shard's depth, "
             "fewer if the tasks running at once would hold more than 1 GiB).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", show_default=False,
                                                help="Dataset name (default: the target folder's name).")] = None,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Convert an image stack into a new dataset, slab by slab in bounded memory.

    Image rows become y and columns x; each image (or TIFF page) is one z-slice.
    Each task reads up to --batch-size slices and writes them as one slab.
    """
    try:
        chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, None, data_format.value)
        if data_format == DataFormat.zarr and shard != chunk:
            raise DataMismatchError(f"Zarr (version 2) has no shards: --shard-shape {tuple(shard)} must equal "
                                    f"--chunk-shape {tuple(chunk)} (or use --data-format zarr3)")
    except DataMismatchError as error:
        raise usage_error(str(error), "--chunk-shape/--shard-shape") from None
    stack = open_stack(source)
    shape = stack.shape
    if category == Category.segmentation and shape.num_channels != 1:
        raise CliError(f"{source}: segmentation layers hold one channel; the images have {shape.num_channels}")
    if batch_size is not None and batch_size % chunk.z:
        raise usage_error(f"{batch_size} is not a multiple of the chunk depth {chunk.z}", "--batch-size")
    tasks_at_once = workers or io_threads()
    batch = batch_size or slab_depth(shard.z, chunk.z, shape.slice_bytes * tasks_at_once)
    created = not target.exists()
    with make_executor(executor, workers, scheduler) as pool:
        start = time.perf_counter()
        try:
            layer = _convert(stack, target, VoxelSize(voxel_size.factor, unit), layer_name or category.value,
                             category.value, data_format.value, chunk, shard, compress, batch, name, pool)
            seconds = time.perf_counter() - start
            if downsample:
                layer.downsample(executor=pool)
        except BaseException:
            if created:
                shutil.rmtree(target, ignore_errors=True)
            raise
    megabytes = shape.slice_bytes * shape.depth / 1e6
    status(f"converted {shape.depth} slices of {shape.width}×{shape.height} ({shape.num_channels}× {shape.dtype}) "
           f"into {target} in {seconds:.1f} s ({megabytes / max(seconds, 1e-9):.0f} MB/s)"
           + (f", then downsampled to {len(layer.mags)} mags" if downsample else ""))
