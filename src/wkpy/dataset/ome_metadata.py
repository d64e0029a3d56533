"""OME metadata of a layer: the OME-NGFF multiscales of Zarr3 layer groups, and the
OME-TIFF metadata of `LayerExport.as_ome_tiff`, as webknossos 4.3.3 writes them.

The group documents themselves are built by `wkpy.storage._zarr_groups` (which writes
them beside every Zarr layer); this module gives them webknossos' names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wkpy.storage._zarr_groups import CXYZ, layer_group_document

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer

__all__ = ["get_ome_0_4_multiscale_metadata", "get_ome_0_5_multiscale_metadata", "ome_tiff_metadata"]


def _mags(layer: Layer) -> list[tuple[str, tuple[int, ...]]]:
    return [(view.name, tuple(mag.to_list())) for mag, view in layer.mags.items()]


def _axes(layer: Layer) -> tuple[str, ...]:
    return layer._properties.array_axes or CXYZ


def get_ome_0_5_multiscale_metadata(dataset: Dataset, layer: Layer) -> dict[str, Any]:
    """The ``attributes`` of a Zarr3 layer's group (``zarr.json``): ``{"ome": {"version":
    "0.5", "multiscales": [...]}}`` with the layer's axes (c, x, y, z, or an n-d layer's in
    array order) and, per mag (finest first), its path and scale (the voxel size in nm
    times the mag for x, y, z, 1 for the others)."""
    return layer_group_document(dataset.voxel_size, _mags(layer), 3, _axes(layer))["attributes"]  # type: ignore[no-any-return]


def get_ome_0_4_multiscale_metadata(dataset: Dataset, layer: Layer) -> dict[str, Any]:
    """The ``.zattrs`` of a Zarr v2 layer's group: ``{"multiscales": [{"version": "0.4",
    ...}]}``, with the axes and scales of `get_ome_0_5_multiscale_metadata`."""
    return layer_group_document(dataset.voxel_size, _mags(layer), 2, _axes(layer))


def ome_tiff_metadata(voxel_size_nm: Sequence[float], num_channels: int, axes: str = "CZYX") -> dict[str, Any]:
    """tifffile's `metadata` for an OME-TIFF of the axes `axes` (letters of C, T, Z, Y, X;
    default (c, z, y, x)): the axes, the physical voxel size in nm (x, y, z) and, with a C
    axis, one channel name per channel (``"Channel 0"``, ...), as webknossos 4.3.3."""
    x, y, z = (float(v) for v in voxel_size_nm)
    meta: dict[str, Any] = {"axes": axes, "PhysicalSizeX": x, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": y,
                            "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": z, "PhysicalSizeZUnit": "nm"}
    if "C" in axes:
        meta["Channel"] = {"Name": [f"Channel {i}" for i in range(num_channels)]}
    return meta
