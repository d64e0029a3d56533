"""`get_dataset_converter`: webknossos' properties (de)serialiser, on wkpy's model.

webknossos 4.3.3 returns a cattrs converter whose ``unstructure(obj)`` turns a
properties or geometry object into the JSON it writes, and ``structure(json, cls)``
back. wkpy's classes already know their JSON (`to_json`, `from_json`, `to_wkw_dict`,
...); this converter only dispatches to them, so there is one way to read and write
each piece, and cattrs is not needed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from wkpy.errors import InvalidRequestError, PropertiesError
from wkpy.geometry import C_AXIS, BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Float, Vec3Int
from wkpy.voxel_size import LengthUnit, VoxelSize

from ._attachments import AttachmentProperties, AttachmentsProperties
from ._model import DatasetProperties, LayerProperties, MagProperties
from ._schema import LENGTH_UNITS, Invalid, as_object, required, show
from ._transforms import CoordinateTransformation, _one_from_json
from ._view_configuration import (
    DatasetViewConfiguration,
    LayerViewConfiguration,
    dataset_view_from_json,
    layer_view_from_json,
    view_to_json,
)

__all__ = ["DatasetConverter", "get_dataset_converter"]


def _length_unit(value: Any, where: str = "unit") -> LengthUnit:
    if not isinstance(value, str) or value not in LENGTH_UNITS:
        raise Invalid(where, f"unknown length unit {show(value)}")
    return LengthUnit(LENGTH_UNITS[value])


def _voxel_size(value: Any) -> VoxelSize:
    if isinstance(value, list):  # the old form: the factor alone, in nanometres
        value = {"factor": value}
    obj = as_object(value, "scale")
    unit = _length_unit(obj["unit"], "scale.unit") if "unit" in obj else LengthUnit.NANOMETER
    try:
        return VoxelSize(required(obj, "factor", "scale"), unit)
    except ValueError as exc:
        raise Invalid("scale.factor", str(exc)) from None


def _normalized(bbox: NDBoundingBox) -> NormalizedBoundingBox:
    """Any box as a normalized one: one channel unless it has a ``c`` axis already."""
    if isinstance(bbox, NormalizedBoundingBox):
        return bbox
    if C_AXIS in bbox.axes:
        return NormalizedBoundingBox(bbox.topleft, bbox.size, bbox.axes, bbox.index)
    return bbox.normalize_axes(1)


def _bounding_box(value: Any) -> BoundingBox:
    box = NormalizedBoundingBox.from_wkw_dict(value).denormalize()
    if not isinstance(box, BoundingBox):
        raise InvalidRequestError(f"{value!r} has axes other than x, y, z; structure it as an NDBoundingBox.")
    return box


def _vec3_int(value: Any) -> Vec3Int:
    return Vec3Int.full(value) if isinstance(value, int) else Vec3Int(value)


# (class, reader): the first class the target is a subclass of decides
_STRUCTURE: list[tuple[type, Callable[[Any], Any]]] = [
    (DatasetProperties, DatasetProperties.from_json),
    (LayerProperties, lambda v: LayerProperties._from_json(v, "")),
    (MagProperties, lambda v: MagProperties._from_json(v, "")),
    (AttachmentsProperties, AttachmentsProperties.from_json),
    (AttachmentProperties, lambda v: AttachmentProperties._from_json(v, "")),
    (LayerViewConfiguration, layer_view_from_json),
    (DatasetViewConfiguration, dataset_view_from_json),
    (CoordinateTransformation, lambda v: _one_from_json(v, "")),
    (VoxelSize, _voxel_size),
    (LengthUnit, _length_unit),
    (Mag, Mag),
    (Vec3Int, _vec3_int),
    (Vec3Float, Vec3Float),
    (BoundingBox, _bounding_box),
    (NDBoundingBox, NormalizedBoundingBox.from_wkw_dict),
]

_UNSTRUCTURE: list[tuple[type, Callable[[Any], Any]]] = [
    (DatasetProperties, DatasetProperties.to_json),
    (LayerProperties, LayerProperties.to_json),
    (MagProperties, MagProperties.to_json),
    (AttachmentsProperties, lambda a: a.to_json() or {}),
    (AttachmentProperties, AttachmentProperties.to_json),
    (LayerViewConfiguration, view_to_json),
    (DatasetViewConfiguration, view_to_json),
    (CoordinateTransformation, lambda t: t._to_dict()),
    (VoxelSize, lambda v: {"factor": [float(f) for f in v.factor], "unit": v.unit.value}),
    (Mag, Mag.to_list),
    (Vec3Float, lambda v: [float(c) for c in v]),
    (Vec3Int, lambda v: [int(c) for c in v]),
    (NDBoundingBox, lambda b: _normalized(b).to_wkw_dict()),
]


class DatasetConverter:
    """What `get_dataset_converter` returns: ``structure`` and ``unstructure`` as on
    webknossos 4.3.3's cattrs converter, for the properties, geometry and unit classes.

    Examples
    --------
    >>> converter = get_dataset_converter()
    >>> converter.unstructure(VoxelSize((1.0, 1.0, 2.0)))
    {'factor': [1.0, 1.0, 2.0], 'unit': 'nanometer'}
    """

    def unstructure(self, obj: Any, unstructure_as: Any = None) -> Any:
        """`obj` as JSON-ready values: properties and geometry as webknossos writes
        them, enums as their values, dicts, lists and tuples element by element;
        anything else unchanged."""
        for cls, write in _UNSTRUCTURE:
            if isinstance(obj, cls):
                return write(obj)
        if isinstance(obj, enum.Enum):
            return obj.value
        if isinstance(obj, dict):
            return {self.unstructure(k): self.unstructure(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.unstructure(v) for v in obj]
        return obj

    def structure(self, obj: Any, cl: Any) -> Any:
        """The `cl` object described by the JSON value `obj`.

        Raises
        ------
        PropertiesError
            A properties object is malformed (the message names the field).
        InvalidRequestError
            A geometry value is malformed, or `cl` is a class this converter does not
            know.
        """
        if cl is Any:
            return obj
        if isinstance(cl, type):
            for known, read in _STRUCTURE:
                if issubclass(cl, known):
                    try:
                        return read(obj)
                    except Invalid as exc:
                        raise PropertiesError(f"{cl.__name__}: {exc.where}: {exc.message}") from None
            if issubclass(cl, enum.Enum):
                try:
                    return cl(obj)
                except ValueError:
                    raise InvalidRequestError(f"{obj!r} is not a {cl.__name__}") from None
            if cl in (int, float, str, bool):
                return cl(obj)
        raise InvalidRequestError(f"No structure hook for {cl!r}.")


def get_dataset_converter() -> DatasetConverter:
    """The properties (de)serialiser, as webknossos 4.3.3's function of the same name."""
    return DatasetConverter()
