"""Commands that look at datasets: ``info`` and ``check-equality``."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer
from rich.box import SIMPLE_HEAD
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from wkpy.cli._common import (
    DatasetArg,
    ExecutorOpt,
    ExecutorKind,
    Scheduler,
    Workers,
    dataset_path,
    format_box,
    format_bytes,
    make_executor,
    open_dataset,
    out,
    pick_layer,
)
from wkpy.dataset.dataset import Dataset
from wkpy.executor import map_on_executor
from wkpy.geometry import NDBoundingBox, Vec3Int
from wkpy.dataset.layer.view.mag_view import MagView

__all__ = ["info", "check_equality", "describe"]


def _size_on_disk(path: Path) -> int:
    """Bytes of all files below `path` (following a symlinked mag or layer folder itself)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except FileNotFoundError:  # removed meanwhile
                pass
    return total


def describe(dataset: Dataset) -> dict[str, Any]:
    """Everything ``info`` shows, as plain JSON-able data."""
    layers = []
    for layer in dataset.layers.values():
        box = layer.bounding_box
        mags = []
        for mag, view in layer.mags.items():
            meta = view.info
            mags.append({
                "mag": mag.to_layer_name(),
                "path": str(view.path),
                "chunk_shape": list(meta.chunk_shape),
                "shard_shape": list(meta.shard_shape),
                "compressed": bool(meta.compression),
                "size_on_disk": _size_on_disk(view.path.resolve()),
            })
        entry: dict[str, Any] = {
            "name": layer.name,
            "category": layer.category,
            "dtype": str(layer.dtype),
            "num_channels": layer.num_channels,
            "data_format": layer.data_format,
            "bounding_box": {"topleft": list(box.topleft), "size": list(box.size)},
            "mags": mags,
            "size_on_disk": sum(m["size_on_disk"] for m in mags),
        }
        if layer.category == "segmentation":
            entry["largest_segment_id"] = getattr(layer, "largest_segment_id", None)
        layers.append(entry)
    voxel = dataset.voxel_size_with_unit
    return {
        "path": str(dataset.path),
        "name": dataset.name,
        "voxel_size": list(voxel.factor),
        "unit": voxel.unit.value,
        "layers": layers,
        "size_on_disk": sum(entry["size_on_disk"] for entry in layers),
    }


def _shape(values: list[int]) -> str:
    return f"{values[0]}³" if len(set(values)) == 1 else "×".join(map(str, values))


def _render(facts: dict[str, Any]) -> list[Any]:
    """A heading for the dataset, then per layer a line of facts and a table of its mags."""
    voxel = " × ".join(f"{v:g}" for v in facts["voxel_size"])
    parts: list[Any] = [Text.assemble((facts["name"], "bold"), f"  {facts['path']}\n",
                                      f"voxel size {voxel} {facts['unit']}, {len(facts['layers'])} layer(s), "
                                      f"{format_bytes(facts['size_on_disk'])} on disk")]
    for layer in facts["layers"]:
        bbox = layer["bounding_box"]
        channels = f" × {layer['num_channels']} channels" if layer["num_channels"] > 1 else ""
        line = (f"{layer['category']}, {layer['dtype']}{channels}, {layer['data_format']}, bounding box "
                f"{'×'.join(map(str, bbox['size']))} at {','.join(map(str, bbox['topleft']))}")
        if "largest_segment_id" in layer:
            line += f", largest segment id {layer['largest_segment_id']}"
        parts.append(Text.assemble("\n", (layer["name"], "bold cyan"), ": ", line))
        table = Table(box=SIMPLE_HEAD, show_edge=False, padding=(0, 1), pad_edge=False)
        for column in ("mag", "chunk", "shard", "compressed", "on disk"):
            table.add_column(column, justify="right" if column == "on disk" else "left")
        for mag in layer["mags"]:
            table.add_row(mag["mag"], _shape(mag["chunk_shape"]), _shape(mag["shard_shape"]),
                          "yes" if mag["compressed"] else "no", format_bytes(mag["size_on_disk"]))
        parts.append(Padding(table, (0, 0, 0, 2)) if layer["mags"] else Text("  no mags"))
    return parts


def info(
    path: DatasetArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the layers, dtypes, bounding boxes, mags, chunk and shard shapes, compression and size on disk."""
    facts = describe(open_dataset(path))
    if as_json:
        print(json.dumps(facts, indent=2))
    else:
        for part in _render(facts):
            out.print(part)


# ---- check-equality --------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _mag_view(path: str, layer: str, mag: str) -> MagView:
    return open_dataset(Path(path)).get_layer(layer).get_mag(mag)


def _compare(job: tuple[str, str, str, str, NDBoundingBox]) -> tuple[tuple[int, ...], int, Any, Any] | None:
    """One task: None if the box (mag 1, any axes) is equal in both datasets, else (first
    voxel, count, a, b); the first voxel is the first in reversed axis order (z, y, x)."""
    path_a, path_b, layer, mag, box = job
    a = _mag_view(path_a, layer, mag).read(absolute_bounding_box=box)
    b = _mag_view(path_b, layer, mag).read(absolute_bounding_box=box)
    if a.ndim == len(box.axes):  # a layer without a channel axis
        a, b = a[np.newaxis], b[np.newaxis]
    same = a == b
    if a.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    if same.all():
        return None
    differs = ~same.all(axis=0)  # the box's axes, in the mag's voxels
    at = tuple(int(v) for v in np.argwhere(differs.transpose())[0][::-1])
    factor = [s // n for s, n in zip(box.size, differs.shape)]
    first = tuple(int(t + i * f) for t, i, f in zip(box.topleft, at, factor))
    return first, int(differs.sum()), a[(slice(None), *at)].tolist(), b[(slice(None), *at)].tolist()


def _structure_difference(a: Dataset, b: Dataset, layer_names: list[str]) -> str | None:
    """Why the two datasets cannot be equal, judged by their properties (None if they may be)."""
    for name in layer_names:
        if name not in b.layers:
            return f"layer {name!r} is missing in {b.path}"
        la, lb = a.get_layer(name), b.get_layer(name)
        for what, va, vb in (
            ("category", la.category, lb.category),
            ("dtype", la.dtype, lb.dtype),
            ("number of channels", la.num_channels, lb.num_channels),
            ("bounding box", format_box(la.bounding_box), format_box(lb.bounding_box)),
            ("mags", [m.to_layer_name() for m in la.mags], [m.to_layer_name() for m in lb.mags]),
        ):
            if va != vb:
                return f"layer {name!r}: {what} {va} in {a.path}, {vb} in {b.path}"
    return None


def check_equality(
    source: DatasetArg,
    target: Annotated[Path, typer.Argument(parser=dataset_path, metavar="OTHER", show_default=False,
                                           help="The dataset to compare with.")],
    layer_name: Annotated[Optional[str], typer.Option("--layer-name", "--layer", "-l", show_default=False,
                                                      help="Compare only this layer (default: all).")] = None,
    workers: Workers = None,
    executor: ExecutorOpt = ExecutorKind.threads,
    scheduler: Scheduler = None,
) -> None:
    """Compare two datasets voxel by voxel, shard by shard: exit 0 if equal, 1 if not.

    Layers, dtypes, bounding boxes and mags must match; storage format, chunking and
    compression may differ. The first differing box (in z, y, x order) is printed.
    """
    a, b = open_dataset(source), open_dataset(target)
    names = [pick_layer(a, layer_name).name] if layer_name is not None else sorted(a.layers)
    if layer_name is None and sorted(b.layers) != names:
        out.print(f"differ: layers {names} in {a.path}, {sorted(b.layers)} in {b.path}")
        raise typer.Exit(1)
    reason = _structure_difference(a, b, names)
    if reason is not None:
        out.print(f"differ: {reason}")
        raise typer.Exit(1)
    jobs, boxes = [], []
    for name in names:
        for mag, view in a.get_layer(name).mags.items():
            region = view.bounding_box
            if region.is_empty():
                continue
            shard = dict(zip("xyz", Vec3Int(view.info.shard_shape) * mag.to_vec3_int()))
            step = tuple(shard.get(axis, 1) for axis in region.axes)  # one position of further axes
            for box in sorted(region.chunk(step, step), key=lambda bb: tuple(bb.topleft)[::-1]):
                jobs.append((str(a.path), str(b.path), name, mag.to_layer_name(), box))
                boxes.append((name, mag.to_layer_name(), box))
    with make_executor(executor, workers, scheduler) as pool:
        results = map_on_executor(_compare, jobs, pool, "comparing")
    for (name, mag_name, box), result in zip(boxes, results):
        if result is not None:
            first, count, va, vb = result
            values = (va[0], vb[0]) if len(va) == 1 else (va, vb)
            out.print(f"differ: layer {name!r} mag {mag_name}, box {format_box(box)}: {count} voxel(s) differ, "
                      f"the first at {first}: {values[0]} in {a.path}, {values[1]} in {b.path}")
            raise typer.Exit(1)
    out.print(f"equal: {a.path} and {b.path} ({len(names)} layer(s), {len(jobs)} box(es) compared)")
