"""What the commands share: global state, consoles, value parsers, option types, executors."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console
from rich.text import Text

from wkpy.dataset.dataset import Dataset
from wkpy.errors import MissingLayerError
from wkpy.executor import io_threads
from wkpy.geometry import BoundingBox, Mag, Vec3Int
from wkpy.dataset.layer.layer import Layer
from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.voxel_size import VoxelSize

__all__ = [
    "state", "out", "err", "status", "CliError", "usage_error",
    "dataset_path", "parse_vec3", "parse_voxel_size", "parse_mag", "parse_bbox", "format_box", "format_bytes",
    "SLAB_BYTES", "slab_depth", "open_dataset", "pick_layer", "pick_mag", "DataFormat",
    "ExecutorKind", "make_executor", "Workers", "ExecutorOpt", "Scheduler", "DatasetArg", "LayerOpt", "MagOpt",
]

EXECUTOR_PANEL = "Executor options"


@dataclass
class _State:
    """Global flags, set by the root callback before any command runs."""

    verbose: bool = False
    quiet: bool = False


state = _State()
out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


def status(message: str) -> None:
    """A progress or summary line on stderr (silenced by ``--quiet``)."""
    if not state.quiet:
        err.print(Text(message, style="dim"))


class CliError(Exception):
    """A failure with a message meant for the user as is (exit status 1)."""


def usage_error(message: str, param_hint: str | None = None) -> click.BadParameter:
    """A bad argument found while running a command (exit status 2, like a parsing error)."""
    return click.BadParameter(message, ctx=click.get_current_context(silent=True), param_hint=param_hint)


# ---- value parsers (they raise BadParameter: "Invalid value for ...", exit status 2) ---
def _numbers(text: str, kind: type, what: str) -> list:
    try:
        return [kind(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of {what}") from None


def parse_vec3(text: str | Vec3Int) -> Vec3Int:
    """``"32"`` or ``"32,32,16"`` → a positive `Vec3Int` (defaults arrive as `Vec3Int` already)."""
    if isinstance(text, Vec3Int):
        return text
    values = _numbers(text, int, "integers")
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or min(values) < 1:
        raise click.BadParameter(f"{text!r} is not one or three positive integers")
    return Vec3Int(values)


def parse_voxel_size(text: str) -> VoxelSize:
    """``"11.2,11.2,25"`` → a `VoxelSize` (in nanometres; replace the unit as needed)."""
    values = _numbers(text, float, "numbers")
    if len(values) != 3 or min(values) <= 0:
        raise click.BadParameter(f"{text!r} is not three positive numbers x,y,z")
    return VoxelSize((values[0], values[1], values[2]))


def parse_mag(text: str | Mag) -> Mag:
    """``"2"`` or ``"2-2-1"`` → a `Mag`."""
    try:
        return Mag(text)
    except ValueError as error:  # InvalidRequestError is a ValueError too
        raise click.BadParameter(str(error)) from None


def parse_bbox(text: str) -> BoundingBox:
    """``"x,y,z,w,h,d"`` (mag-1 voxels) → a `BoundingBox` of positive size."""
    values = _numbers(text, int, "integers")
    if len(values) != 6 or min(values[3:]) < 1 or min(values[:3]) < 0:
        raise click.BadParameter(f"{text!r} is not x,y,z,width,height,depth with a positive size")
    return BoundingBox(values[:3], values[3:])


def format_box(box: BoundingBox) -> str:
    """A box as ``x,y,z,w,h,d``, the form ``--bbox`` takes."""
    return ",".join(str(v) for v in (*box.topleft, *box.size))


def format_bytes(n: int) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # unreachable


SLAB_BYTES = 1 << 30  # memory a command may hold in slabs at a time


def slab_depth(shard: int, chunk: int, slice_bytes: int) -> int:
    """Slices per slab: a whole shard if it fits in `SLAB_BYTES`, else whole chunks (at least one)."""
    fit = SLAB_BYTES // max(1, slice_bytes)
    return shard if fit >= shard else max(chunk, fit // chunk * chunk)


# ---- datasets, layers, mags ------------------------------------------------------------
def dataset_path(text: str) -> Path:
    """A path that holds a dataset (checked while parsing, so a wrong path is a usage error)."""
    path = Path(text)
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist")
    if not (path / "datasource-properties.json").is_file():
        raise click.BadParameter(f"{path} is not a dataset (it has no datasource-properties.json)")
    return path


def open_dataset(path: Path, read_only: bool = True) -> Dataset:
    """Open a dataset, read-only unless the command changes it."""
    return Dataset.open(path, read_only=read_only)


def pick_layer(dataset: Dataset, name: str | None) -> Layer:
    """The named layer, or the only one; a usage error otherwise."""
    names = sorted(dataset.layers)
    if name is None:
        if len(names) != 1:
            raise usage_error(f"{dataset.path} has the layers {names}; choose one", "--layer-name")
        name = names[0]
    try:
        return dataset.get_layer(name)
    except MissingLayerError:
        raise usage_error(f"{dataset.path} has no layer {name!r}; it has {names}", "--layer-name") from None


def pick_mag(layer: Layer, mag: Mag | None) -> MagView:
    """The given mag of `layer`, or its finest; a usage error if it has no such mag."""
    mags = [m.to_layer_name() for m in layer.mags]
    if not mags:
        raise CliError(f"layer {layer.name!r} has no mags")
    if mag is None:
        return layer.get_finest_mag()
    try:
        return layer.get_mag(mag)
    except MissingLayerError:
        raise usage_error(f"layer {layer.name!r} has no mag {mag.to_layer_name()}; it has {mags}", "--mag") from None


class DataFormat(str, Enum):
    wkw = "wkw"
    zarr = "zarr"
    zarr3 = "zarr3"


# ---- executors ---------------------------------------------------------------------------
class ExecutorKind(str, Enum):
    threads = "threads"
    processes = "processes"
    dask = "dask"


@contextmanager
def make_executor(kind: ExecutorKind, workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    """The executor the options ask for, shut down (or disconnected) on exit.

    Parameters
    ----------
    kind : threads, processes, or dask (``distributed.Client(scheduler).get_executor()``;
        without a scheduler, a local cluster of `workers` processes).
    workers : pool size; default: one per core. Ignored when connecting to a scheduler.
    scheduler : address of a Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    """
    n = workers or io_threads()
    if scheduler is not None and kind != ExecutorKind.dask:
        raise usage_error("--scheduler needs --executor dask", "--scheduler")
    if kind == ExecutorKind.threads:
        with ThreadPoolExecutor(n, thread_name_prefix="wkpy-cli") as pool:
            yield pool
    elif kind == ExecutorKind.processes:
        import multiprocessing

        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
    else:
        with _dask_executor(n, scheduler) as pool:
            yield pool


@contextmanager
def _dask_executor(workers: int, scheduler: str | None) -> Iterator[Executor]:
    try:
        import distributed
    except ImportError:
        raise CliError("--executor dask needs the 'distributed' package (pip install distributed)") from None
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    try:
        with distributed.Client(cluster if cluster is not None else scheduler) as client:
            yield client.get_executor()
    finally:
        if cluster is not None:
            cluster.close()


# ---- option types shared by several commands ---------------------------------------------
DatasetArg = Annotated[Path, typer.Argument(parser=dataset_path, metavar="DATASET", show_default=False,
                                            help="Folder of a WEBKNOSSOS dataset.")]
LayerOpt = Annotated[Optional[str], typer.Option("--layer-name", "--layer", "-l",
                                                 help="Layer to use (default: the only layer).",
                                                 show_default=False)]
MagOpt = Annotated[Optional[Mag], typer.Option("--mag", "-m", parser=parse_mag, metavar="MAG",
                                               help="Mag, e.g. 1, 2 or 2-2-1 (default: the finest).",
                                               show_default=False)]
Workers = Annotated[Optional[int], typer.Option("--workers", "-j", min=1, rich_help_panel=EXECUTOR_PANEL,
                                                help="Parallel tasks (default: one per core).",
                                                show_default=False)]
ExecutorOpt = Annotated[ExecutorKind, typer.Option("--executor", rich_help_panel=EXECUTOR_PANEL,
                                                   help="Where tasks run.")]
Scheduler = Annotated[Optional[str], typer.Option("--scheduler", rich_help_panel=EXECUTOR_PANEL, metavar="ADDRESS",
                                                  help="Dask scheduler to connect to (with --executor dask; "
                                                       "default: a local cluster of --workers processes).",
                                                  show_default=False)]
