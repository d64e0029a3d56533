"""`MagView`: one magnification of a layer, whose box is the layer's bounding box."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from wkpy._paths import is_inside
from wkpy.data_format import DataFormat
from wkpy.errors import ForeignPathError
from wkpy.geometry import BoundingBox, Mag
from wkpy.storage import METADATA_FILES, Array, open_array
from wkpy.dataset.layer.view.view import View

if TYPE_CHECKING:
    from wkpy.dataset.layer.layer import Layer

__all__ = ["MagView"]


class MagView(View):
    """A whole mag of a layer. Writes beyond the layer's box grow it (see `write`)."""

    _opened: Array | None

    def __init__(self, layer: Layer, mag: Mag, path: Path, array: Array | None = None, read_only: bool = False) -> None:
        self._layer = layer
        self._path = Path(path)
        self._foreign: bool | None = None
        self._deleted = False
        super().__init__(array, None, mag, read_only)  # type: ignore[arg-type]
        self._nd = bool(layer._properties.additional_axes)

    @property  # type: ignore[override]
    def _array(self) -> Array:
        """The storage, opened on first use (so datasets with missing mags still open).

        Raises
        ------
        OperationError
            The mag was deleted through this dataset object (`delete_mag`, `delete_layer`).
        """
        if self._deleted:
            from wkpy.errors import OperationError

            raise OperationError(f"mag {self.name} of layer {self._layer.name!r} was deleted ({self._path})")
        if self._opened is None:
            import numpy as np

            from wkpy.errors import PropertiesError

            array = open_array(self._path, self._layer.data_format, self._layer._properties.array_axes)
            # The array's own metadata must agree with the layer's properties: a header,
            # zarr.json or .zarray claiming other channels or another voxel type is refused here, before
            # any read allocates what it claims.
            layer = self._layer
            meta = self._path / METADATA_FILES[layer.data_format]
            checks = (("number of channels", "numChannels", array.info.num_channels, layer.num_channels),
                      ("voxel type", "elementClass", np.dtype(array.info.dtype), np.dtype(layer.dtype_per_channel)))
            for what, field, found, wanted in checks:
                if found != wanted:
                    raise PropertiesError(f"{meta}: {what} {found} contradicts the layer {layer.name!r}, "
                                          f"whose {field} in datasource-properties.json gives {wanted}")
            self._opened = array
        return self._opened

    @_array.setter
    def _array(self, array: Array | None) -> None:
        self._opened = array

    @property
    def layer(self) -> Layer:
        return self._layer

    @property
    def path(self) -> Path:
        """The mag's folder."""
        return self._path

    @property
    def name(self) -> str:
        """Folder-style name of the mag, e.g. ``"2-2-1"``."""
        return self._mag.to_layer_name()

    @property
    def bounding_box(self) -> BoundingBox:
        """The layer's bounding box, rounded outward to this mag (mag-1 coordinates); an
        `NDBoundingBox` over the layer's axes for n-d layers (see `Layer.bounding_box`)."""
        return self._layer.bounding_box.align_with_mag(self._mag, ceil=True)

    @property
    def data_format(self) -> DataFormat:
        """The storage format of the mag (its layer's)."""
        return self._layer.data_format

    @property
    def is_foreign(self) -> bool:
        """Whether the mag's files lie outside the dataset (a linked or referenced mag):
        such a mag is read, never written or deleted, through this dataset."""
        if self._foreign is None:
            self._foreign = not is_inside(self._layer.dataset.path, self._path)
        return self._foreign

    @property
    def read_only(self) -> bool:
        return self._read_only or self._layer.read_only or self.is_foreign

    def _ensure_writable(self) -> None:
        """Raises `ReadOnlyError` (`ForeignPathError` for linked and referenced mags)."""
        self._layer._ensure_writable()
        if self.is_foreign:
            raise ForeignPathError(f"mag {self.name} of layer {self._layer.name!r} lies outside the dataset "
                                   f"{self._layer.dataset.path} ({self._path}): linked and referenced data is read-only")
        super()._ensure_writable()

    def _accept_write_box(self, box: BoundingBox, json_update_allowed: bool) -> BoundingBox:
        """Grow the layer's box to cover `box` (saved unless `json_update_allowed` is False)."""
        layer_box = self.bounding_box
        if layer_box.contains_bbox(box):
            return layer_box
        current = getattr(self._array, "ensure_current", None)
        if current is not None:
            current()          # a stale view must not grow the box of a re-created layer
        if json_update_allowed:
            self._layer._grow_bounding_box(box)
            return self._layer.bounding_box
        return self._layer.bounding_box.extended_by(box)

    def get_bounding_boxes_on_disk(self) -> list[BoundingBox]:
        """Mag-1 boxes of the shards that exist on disk."""
        found = dict.fromkeys((off[:3], shape[:3]) for off, shape in self._array.list_shards())  # x, y, z of n-d shards
        return [BoundingBox(off, shape).from_mag_to_mag1(self._mag) for off, shape in found]

    def compress(self, executor: Executor | None = None) -> None:
        """Rewrite this mag compressed, in place (shard by shard)."""
        self._layer._compress_mag(self, executor)
