"""The Zarr group metadata webknossos writes above the mags of Zarr datasets.

Zarr v3 (``zarr3`` layers): `<dataset>/zarr.json` is a bare group; `<layer>/zarr.json` a
group whose attributes hold OME-NGFF 0.5 multiscales. Zarr v2 (``zarr`` layers):
`<dataset>/.zgroup` and `<layer>/.zgroup` hold ``{"zarr_format": 2}`` and `<layer>/.zattrs`
OME-NGFF 0.4 multiscales. Both list the layer's axes -- c, x, y, z, or for an n-d layer its
axes in array order (e.g. t, x, y, z) -- and one dataset per mag with its scale (nanometres
along x, y, z; 1 along the others). The text is `json.dumps(..., indent=4)` with no trailing newline, as
webknossos writes it.

One deliberate difference: webknossos 4.3.3 writes the `.zgroup` version as the string
``"2"``, which the Zarr v2 specification does not allow and zarr-python refuses ("Invalid
zarr_format"); wkpy writes the integer, so zarr-python opens the dataset and layers as
groups. webknossos never reads these files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from wkpy._paths import is_inside
from wkpy.storage._zarr3_meta import ZARR_JSON, write_json_atomic

__all__ = ["write_dataset_group", "write_layer_group", "write_zarr_groups", "layer_group_document",
           "ZGROUP", "ZATTRS"]

ZGROUP = ".zgroup"
ZATTRS = ".zattrs"

ZGROUP_DOCUMENT = {"zarr_format": 2}   # webknossos 4.3.3 writes "2", which zarr-python refuses

CXYZ = ("c", "x", "y", "z")
_AXIS_TYPES = {"c": "channel", "t": "time", "x": "space", "y": "space", "z": "space"}


def _ome_axes(axes: Sequence[str]) -> list[dict[str, str]]:
    """OME-NGFF axis entries: a type for c, t, x, y, z (a unit for x, y, z), a name only
    for the others, as webknossos 4.3.3 writes them."""
    out = []
    for name in axes:
        entry = {"name": name}
        if name in _AXIS_TYPES:
            entry["type"] = _AXIS_TYPES[name]
            if name in "xyz":
                entry["unit"] = "nanometer"
        out.append(entry)
    return out


ZarrFormat = Literal[2, 3]


def _dumps(doc: Any) -> str:
    return json.dumps(doc, indent=4)


def write_dataset_group(dataset_path: Path, zarr_format: ZarrFormat = 3) -> None:
    """Write the dataset's root group: `zarr.json` ``{"zarr_format": 3, "node_type": "group"}``
    (Zarr v3) or `.zgroup` ``{"zarr_format": 2}`` (Zarr v2)."""
    if zarr_format == 3:
        write_json_atomic(Path(dataset_path) / ZARR_JSON, _dumps({"zarr_format": 3, "node_type": "group"}))
    else:
        write_json_atomic(Path(dataset_path) / ZGROUP, _dumps(ZGROUP_DOCUMENT))


def _ome_datasets(voxel_size_nm: Sequence[float], mags: Iterable[tuple[str, Sequence[int]]],
                  axes: Sequence[str]) -> list[dict[str, Any]]:
    space = {"x": 0, "y": 1, "z": 2}
    return [{"path": name, "coordinateTransformations": [{"type": "scale", "scale": [
        float(voxel_size_nm[space[a]] * mag[space[a]]) if a in space else 1.0 for a in axes]}]}
        for name, mag in mags]


def layer_group_document(voxel_size_nm: Sequence[float], mags: Iterable[tuple[str, Sequence[int]]],
                         zarr_format: ZarrFormat = 3, axes: Sequence[str] = CXYZ) -> dict[str, Any]:
    """The layer group's document: `mags` are (mag folder name, mag as (x, y, z)), finest
    first; `axes` the layer's axes in array order (default c, x, y, z; an n-d layer's
    e.g. t, x, y, z). Zarr v3: the whole `zarr.json` (OME-NGFF 0.5); Zarr v2: the
    `.zattrs` (0.4)."""
    entries, datasets = _ome_axes(axes), _ome_datasets(voxel_size_nm, mags, axes)
    if zarr_format == 2:
        return {"multiscales": [{"version": "0.4", "axes": entries, "datasets": datasets}]}
    return {"zarr_format": 3, "node_type": "group",
            "attributes": {"ome": {"version": "0.5", "multiscales": [{"axes": entries, "datasets": datasets}]}}}


def write_layer_group(layer_path: Path, voxel_size_nm: Sequence[float], mags: Iterable[tuple[str, Sequence[int]]],
                      zarr_format: ZarrFormat = 3, axes: Sequence[str] = CXYZ) -> None:
    """Write the layer's group with OME-NGFF multiscales metadata for `mags`: `zarr.json`
    (Zarr v3), or `.zgroup` and `.zattrs` (Zarr v2).

    Parameters
    ----------
    layer_path : the layer's folder.
    voxel_size_nm : the dataset's voxel size in nanometres (x, y, z).
    mags : (mag folder name, mag (x, y, z)) of each mag, finest first, e.g. ``[("1", (1, 1, 1)),
        ("2-2-1", (2, 2, 1))]``.
    zarr_format : 3 or 2.
    axes : the layer's axes in array order (``LayerProperties.array_axes`` of an n-d layer).
    """
    text = _dumps(layer_group_document(voxel_size_nm, mags, zarr_format, axes))
    if zarr_format == 3:
        write_json_atomic(Path(layer_path) / ZARR_JSON, text)
    else:
        write_json_atomic(Path(layer_path) / ZGROUP, _dumps(ZGROUP_DOCUMENT))
        write_json_atomic(Path(layer_path) / ZATTRS, text)


def write_zarr_groups(dataset_path: Path, voxel_size_nm: Sequence[float],
                      layers: Iterable[tuple[Path, str, Sequence[tuple[str, Sequence[int]]], Sequence[str] | None]]
                      ) -> None:
    """Write the group metadata webknossos writes after every save of the properties.

    `layers` holds (layer folder, data format, mags as for `write_layer_group`, axes in
    array order or None for c, x, y, z) for every layer. For each Zarr version with a
    layer ("zarr" is v2, "zarr3" v3) the dataset's root group is written, and the layer
    group of each such layer whose folder is a real folder of the dataset (not a
    symlinked layer).
    """
    layers = list(layers)
    for fmt, version in (("zarr", 2), ("zarr3", 3)):
        found = [(Path(path), mags, axes or CXYZ) for path, f, mags, axes in layers if f == fmt]
        if not found:
            continue
        write_dataset_group(Path(dataset_path), version)  # type: ignore[arg-type]
        for path, mags, axes in found:
            if path.is_dir() and not path.is_symlink() and is_inside(dataset_path, path):
                write_layer_group(path, voxel_size_nm, mags, version, axes)  # type: ignore[arg-type]
