"""The Zarr v3 group metadata webknossos writes above the mags of a Zarr3 dataset.

`<dataset>/zarr.json` is a bare group; `<layer>/zarr.json` a group whose attributes hold
OME-NGFF 0.5 multiscales (axes c, x, y, z; one dataset per mag with its scale in
nanometres). The text is `json.dumps(..., indent=4)` with no trailing newline, as webknossos
writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from wkpy._paths import is_inside
from wkpy.storage._zarr3_meta import ZARR_JSON, write_json_atomic

__all__ = ["write_dataset_group", "write_layer_group", "write_zarr3_groups", "layer_group_document"]

_AXES = [{"name": "c", "type": "channel"}] + [
    {"name": a, "type": "space", "unit": "nanometer"} for a in ("x", "y", "z")]


def write_dataset_group(dataset_path: Path) -> None:
    """Write `<dataset>/zarr.json`: ``{"zarr_format": 3, "node_type": "group"}``."""
    write_json_atomic(Path(dataset_path) / ZARR_JSON, json.dumps({"zarr_format": 3, "node_type": "group"}, indent=4))


def layer_group_document(voxel_size_nm: Sequence[float], mags: Iterable[tuple[str, Sequence[int]]]) -> dict[str, Any]:
    """The layer group's document: `mags` are (mag folder name, mag as (x, y, z)), finest first."""
    datasets = [{"path": name, "coordinateTransformations": [{"type": "scale", "scale": [
        1.0, *(float(voxel_size_nm[a] * mag[a]) for a in range(3))]}]} for name, mag in mags]
    return {"zarr_format": 3, "node_type": "group",
            "attributes": {"ome": {"version": "0.5", "multiscales": [{"axes": _AXES, "datasets": datasets}]}}}


def write_layer_group(layer_path: Path, voxel_size_nm: Sequence[float], mags: Iterable[tuple[str, Sequence[int]]]) -> None:
    """Write `<layer>/zarr.json` with OME-NGFF 0.5 multiscales metadata for `mags`.

    Parameters
    ----------
    layer_path : the layer's folder.
    voxel_size_nm : the dataset's voxel size in nanometres (x, y, z).
    mags : (mag folder name, mag (x, y, z)) of each mag, finest first, e.g. ``[("1", (1, 1, 1)),
        ("2-2-1", (2, 2, 1))]``.
    """
    text = json.dumps(layer_group_document(voxel_size_nm, mags), indent=4)
    write_json_atomic(Path(layer_path) / ZARR_JSON, text)


def write_zarr3_groups(dataset_path: Path, voxel_size_nm: Sequence[float],
                       layers: Iterable[tuple[Path, str, Sequence[tuple[str, Sequence[int]]]]]) -> None:
    """Write the group metadata webknossos writes after every save of the properties.

    `layers` holds (layer folder, data format, mags as for `write_layer_group`) for every
    layer. If any layer is "zarr3", `<dataset>/zarr.json` is written, and the layer group of
    each Zarr3 layer whose folder is a real folder of the dataset (not a symlinked layer).
    """
    zarr3 = [(Path(path), mags) for path, fmt, mags in layers if fmt == "zarr3"]
    if not zarr3:
        return
    write_dataset_group(Path(dataset_path))
    for path, mags in zarr3:
        if path.is_dir() and not path.is_symlink() and is_inside(dataset_path, path):
            write_layer_group(path, voxel_size_nm, mags)
