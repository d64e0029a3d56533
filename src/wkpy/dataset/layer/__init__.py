"""Layers and their views, as `webknossos.dataset.layer`."""

from wkpy.dataset.layer.layer import Layer, SegmentationLayer
from wkpy.dataset.layer.view import ArrayInfo, MagView, View, Zarr3Config
from wkpy.dataset.layer.export import LayerExport

__all__ = ["Layer", "SegmentationLayer", "ArrayInfo", "MagView", "View", "Zarr3Config", "LayerExport"]
