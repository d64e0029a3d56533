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

__all__ = ["group_files", "write_dataset_group", "write_layer_group", "write_zarr_groups", "layer_group_document",
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


def group_files(voxel_size_nm: Sequence[float],
                layers: Iterable[tuple[str, str, Sequence[tuple[str, Sequence[int]]], Sequence[str] | None, bool]]
                ) -> list[tuple[str, str]]:
    """The group files webknossos writes after every save of the properties, as
    ``(key, text)`` with keys relative to the dataset's folder.

    `layers` holds (layer folder name, data format, mags as for `write_layer_group`, axes
    in array order or None for c, x, y, z, whether to write its layer group) for every
    layer. For each Zarr version with a layer ("zarr" is v2, "zarr3" v3) the dataset's
    root group comes first, then the layer group of each such layer whose flag is set.
    """
    layers = list(layers)
    out: list[tuple[str, str]] = []
    for fmt, version in (("zarr", 2), ("zarr3", 3)):
        found = [(name, mags, axes or CXYZ, own) for name, f, mags, axes, own in layers if f == fmt]
        if not found:
            continue
        out.append((ZARR_JSON, _dumps({"zarr_format": 3, "node_type": "group"})) if version == 3
                   else (ZGROUP, _dumps(ZGROUP_DOCUMENT)))
        for name, mags, axes, own in found:
            if not own:
                continue
            text = _dumps(layer_group_document(voxel_size_nm, mags, version, axes))  # type: ignore[arg-type]
            if version == 3:
                out.append((f"{name}/{ZARR_JSON}", text))
            else:
                out += [(f"{name}/{ZGROUP}", _dumps(ZGROUP_DOCUMENT)), (f"{name}/{ZATTRS}", text)]
    return out


def write_zarr_groups(dataset_path: Path, voxel_size_nm: Sequence[float],
                      layers: Iterable[tuple[Path, str, Sequence[tuple[str, Sequence[int]]], Sequence[str] | None]]
                      ) -> None:
    """Write the group metadata webknossos writes after every save of the properties
    into the local dataset folder `dataset_path` (see `group_files`).

    `layers` holds (layer folder, data format, mags as for `write_layer_group`, axes in
    array order or None for c, x, y, z) for every layer. A layer's group is written if
    its folder is a real folder of the dataset (not a symlinked layer).
    """
    root = Path(dataset_path)
    entries = []
    for path, fmt, mags, axes in layers:
        path = Path(path)
        own = fmt in ("zarr", "zarr3") and path.is_dir() and not path.is_symlink() and is_inside(root, path)
        entries.append((path.relative_to(root).as_posix() if own else path.name, fmt, mags, axes, own))
    for key, text in group_files(voxel_size_nm, entries):
        write_json_atomic(root / key, text)
