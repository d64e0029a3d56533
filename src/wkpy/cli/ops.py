"""Commands that mirror dataset operations: ``copy-dataset``, ``compress``, ``downsample``, ``upsample``."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from wkpy.cli._common import (
    DataFormat,
    DatasetArg,
    ExecutorKind,
    ExecutorOpt,
    Scheduler,
    Workers,
    make_executor,
    open_dataset,
    parse_mag,
    parse_vec3,
    pick_layer,
    status,
    usage_error,
)
from wkpy.geometry import Mag, Vec3Int
from wkpy.progress import progress

__all__ = ["copy_dataset", "compress", "downsample", "upsample", "SamplingMode", "InterpolationMode"]


class SamplingMode(str, Enum):
    anisotropic = "anisotropic"
    isotropic = "isotropic"
    constant_z = "constant_z"


class InterpolationMode(str, Enum):
    default = "default"
    median = "median"
    mode = "mode"
    nearest = "nearest"
    bilinear = "bilinear"
    average = "average"
    max = "max"
    min = "min"


ChunkShape = Annotated[Optional[Vec3Int], typer.Option(
    "--chunk-shape", parser=parse_vec3, metavar="N|X,Y,Z", show_default=False,
    help="Chunk shape, e.g. 32 or 32,32,32 (default: keep).")]
ShardShape = Annotated[Optional[Vec3Int], typer.Option(
    "--shard-shape", parser=parse_vec3, metavar="N|X,Y,Z", show_default=False,
    help="Shard shape, e.g. 1024 (default: keep).")]
LayerFilter = Annotated[Optional[str], typer.Option("--layer-name", "--layer", "-l", show_default=False,
                                                    help="Only this layer (default: all layers).")]
Sampling = Annotated[SamplingMode, typer.Option("--sampling-mode", help="How the mag ladder grows.")]


def _layers(path: Path, layer_name: str | None):  # type: ignore[no-untyped-def]
    dataset = open_dataset(path, read_only=False)
    return dataset, [pick_layer(dataset, layer_name)] if layer_name else list(dataset.layers.values())


def copy_dataset(
    source: DatasetArg,
    target: Annotated[Path, typer.Argument(help="Folder of the new dataset.", show_default=False)],
    data_format: Annotated[Optional[DataFormat], typer.Option("--data-format", show_default=False,
                                                              help="Storage format (default: keep).")] = None,
    chunk_shape: ChunkShape = None,
    shard_shape: ShardShape = None,
    compress: Annotated[Optional[bool], typer.Option("--compress/--no-compress", show_default=False,
                                                     help="Compress the copy (default: as the source).")] = None,
    exists_ok: Annotated[bool, typer.Option("--exists-ok", help="Add to an existing dataset.")] = False,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Copy a dataset, changing its format, chunk or shard shape, or compression if asked."""
    start = time.perf_counter()
    with make_executor(executor, workers, scheduler) as pool:
        open_dataset(source).copy_dataset(
            target, chunk_shape=chunk_shape, shard_shape=shard_shape, compress=compress,
            data_format=data_format.value if data_format else None, exists_ok=exists_ok, executor=pool)
    status(f"copied {source} to {target} in {time.perf_counter() - start:.1f} s")


def compress(
    path: DatasetArg,
    layer_name: LayerFilter = None,
    mags: Annotated[Optional[list[Mag]], typer.Option(
        "--mag", "-m", parser=parse_mag, metavar="MAG", show_default=False,
        help="Only this mag (repeat for several; default: all).")] = None,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Compress the mags of a dataset in place (already compressed mags are skipped)."""
    _, layers = _layers(path, layer_name)
    views = [view for layer in layers for mag, view in layer.mags.items() if not mags or mag in mags]
    if mags:
        missing = set(mags) - {view.mag for view in views}
        if missing:
            raise usage_error(f"no mag {sorted(m.to_layer_name() for m in missing)} in the chosen layers", "--mag")
    todo = [view for view in views if not view.info.compression]
    with make_executor(executor, workers, scheduler) as pool, progress("compressing", len(todo)) as advance:
        for view in todo:
            view.compress(executor=pool)
            advance()
    status(f"compressed {len(todo)} mag(s); {len(views) - len(todo)} were compressed already")


def downsample(
    path: DatasetArg,
    layer_name: LayerFilter = None,
    coarsest_mag: Annotated[Optional[Mag], typer.Option(
        "--coarsest-mag", parser=parse_mag, metavar="MAG", show_default=False,
        help="Stop at this mag (default: about 100 voxels across, at least 4).")] = None,
    sampling_mode: Sampling = SamplingMode.anisotropic,
    interpolation_mode: Annotated[InterpolationMode, typer.Option(
        "--interpolation-mode", help="Voxel reduction; default: median for color, mode for segmentation.")
    ] = InterpolationMode.default,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Make coarser mags from each layer's finest mag."""
    _, layers = _layers(path, layer_name)
    with make_executor(executor, workers, scheduler) as pool:
        for layer in layers:
            before = set(layer.mags)
            layer.downsample(coarsest_mag=coarsest_mag, sampling_mode=sampling_mode.value,
                             interpolation_mode=interpolation_mode.value, executor=pool)
            added = sorted(set(layer.mags) - before)
            status(f"{layer.name}: added mags {', '.join(m.to_layer_name() for m in added) or 'none'}")


def upsample(
    path: DatasetArg,
    from_mag: Annotated[Mag, typer.Option("--from-mag", parser=parse_mag, metavar="MAG", show_default=False,
                                          help="Mag to start from.")],
    finest_mag: Annotated[Mag, typer.Option("--finest-mag", parser=parse_mag, metavar="MAG",
                                            help="Mag to stop at.")] = Mag(1),
    layer_name: LayerFilter = None,
    sampling_mode: Sampling = SamplingMode.anisotropic,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Make finer mags from a coarse one by repeating voxels."""
    _, layers = _layers(path, layer_name)
    for layer in layers:
        if from_mag not in layer.mags:
            raise usage_error(f"layer {layer.name!r} has no mag {from_mag.to_layer_name()}", "--from-mag")
    with make_executor(executor, workers, scheduler) as pool:
        for layer in layers:
            before = set(layer.mags)
            layer.upsample(from_mag=from_mag, finest_mag=finest_mag, sampling_mode=sampling_mode.value,
                           executor=pool)
            added = sorted(set(layer.mags) - before)
            status(f"{layer.name}: added mags {', '.join(m.to_layer_name() for m in added) or 'none'}")
