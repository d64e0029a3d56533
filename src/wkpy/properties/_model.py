"""The dataclasses for the dataset, its layers and their mags."""

from __future__ import annotations

import copy
import json
import math
import posixpath
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wkpy._paths import check_name
from wkpy.errors import DataMismatchError, InvalidRequestError, PropertiesError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox

from ._axes import (
    CXYZ,
    AdditionalAxis,
    array_axes,
    check_axes,
    layer_axis_order,
    nd_layer_box,
    parse_additional_axes,
    split_nd_box,
)
from ._dtypes import dtype_and_channels, element_class_for
from ._attachments import AttachmentsProperties
from ._transforms import CoordinateTransformation, transformations_from_json, transformations_to_json
from ._view_configuration import normal_dataset_view, normal_layer_view
from ._schema import (
    CATEGORIES,
    DATA_FORMATS,
    DATASET_KEYS,
    DEFAULT_AXIS_ORDER,
    JS_MAX_SAFE_INTEGER,
    LAYER_KEYS,
    LENGTH_UNITS,
    MAG_KEYS,
    Invalid,
    as_integer,
    as_list,
    as_object,
    as_string,
    at,
    check_depth,
    layer_extra_for_writing,
    normal_axis_order,
    ordered,
    parse_axis_order,
    parse_bounding_box,
    parse_mag_value,
    parse_segment_id,
    required,
    show,
)

__all__ = ["MagProperties", "MagViewProperties", "LayerProperties", "SegmentationLayerProperties",
           "DatasetProperties", "default_mag_path"]


def _positive_finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value)) and value > 0
    except OverflowError:
        return False


def _check_mag_path(path: str, where: str) -> str:
    """A mag ``path``, refused if it names the dataset folder or one of its ancestors.

    A relative path is resolved against the dataset folder. One that leaves it
    (``../other/color/1``) is a reference to foreign data, as webknossos writes for
    ``add_symlink_layer(..., make_relative=True)``, and is kept like absolute paths and
    URLs (wkpy reads such mags and never writes or deletes them). A mag folder can never
    be the dataset itself (``.``) or contain it (``..``, ``../..``): those are refused.
    """
    if "\0" in path:
        raise Invalid(where, f"{show(path)} contains a NUL character")
    if "://" in path or path.startswith("/"):
        return path
    normal = posixpath.normpath(path)
    if normal == "." or all(part == ".." for part in normal.split("/")):
        raise Invalid(where, f"{show(path)} names the dataset folder or a folder containing it, "
                             "not a mag folder")
    return path


def default_mag_path(layer_name: str, mag: Any) -> str:
    """The ``path`` webknossos writes for a new mag, e.g. ``"./color/2-2-1"`` or ``"./color/2"``."""
    return f"./{layer_name}/{Mag(mag).to_layer_name()}"


@dataclass
class MagProperties:
    """One entry of a layer's ``mags`` list.

    Attributes
    ----------
    mag : Mag
    path : str or None
        Where the mag's data lives, e.g. ``"./color/2-2-1"``; None in old files.
    cube_length : int or None
        WKW file side length in voxels (``cubeLength``); None for other formats.
    axis_order : dict or None
        ``axisOrder``; None (and the order without ``c``) becomes
        ``{"c": 0, "x": 1, "y": 2, "z": 3}``, which webknossos writes for every mag. In a
        layer, every mag gets the layer's order (`LayerProperties.axis_order`), which keeps
        the order without ``c`` of n-d layers.
    extra : dict
        Keys this model does not know, written back unchanged.
    """

    mag: Mag
    path: str | None = None
    cube_length: int | None = None
    axis_order: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.mag, Mag):
            self.mag = Mag(self.mag)
        self.axis_order = normal_axis_order(self.axis_order)

    @classmethod
    def _from_json(cls, value: Any, where: str, mag_key: str = "mag") -> MagProperties:
        obj = as_object(value, where)
        mag = parse_mag_value(required(obj, mag_key, where), at(where, mag_key))
        path = obj.get("path")
        if path is not None:
            path = _check_mag_path(as_string(path, at(where, "path")), at(where, "path"))
        cube_length = obj.get("cubeLength")
        if cube_length is not None:
            cube_length = as_integer(cube_length, at(where, "cubeLength"), 1)
        axis_order = parse_axis_order(obj.get("axisOrder"), at(where, "axisOrder"))
        known = {mag_key, "path", "cubeLength", "axisOrder"}
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in known}
        return cls(mag, path, cube_length, axis_order, extra)

    def to_json(self, axis_order: dict[str, int] | None = None) -> dict[str, Any]:
        """The JSON object webknossos writes for this mag (with the layer's `axis_order`)."""
        known: dict[str, Any] = {"mag": list(self.mag.to_list())}
        if self.path is not None:
            known["path"] = self.path
        if self.cube_length is not None:
            known["cubeLength"] = self.cube_length
        known["axisOrder"] = dict(axis_order) if axis_order is not None else normal_axis_order(self.axis_order)
        return ordered(known, self.extra, MAG_KEYS)


@dataclass
class LayerProperties:
    """One entry of ``dataLayers``.

    Attributes
    ----------
    name : str
    category : str
        ``"color"`` or ``"segmentation"``.
    bounding_box : BoundingBox
        In mag-1 voxels.
    element_class : str
        Canonical ``elementClass`` (``"uint24"``, ``"float"``...).
    data_format : str
        ``"wkw"``, ``"zarr3"``, ``"zarr"``, ``"n5"`` or ``"neuroglancerPrecomputed"``.
    num_channels : int or None
        None derives it from `element_class` on construction.
    mags : list of MagProperties
    largest_segment_id : int or None
        Segmentation layers only; written as a bigint envelope above 2**53 - 1.
    default_view_configuration : dict or None
    extra : dict
        Other keys (``coordinateTransformations``, ``mappings``, ``attachments``, unknown
        ones), written back.
    additional_axes : list of AdditionalAxis
        ``additionalAxes``: the axes of an n-d layer beyond c, x, y, z (none for 3-D layers).
    axis_order : dict or None
        The ``axisOrder`` of every mag (also of ``boundingBox`` when there is no mag): the
        positions of c, x, y, z in the layer's arrays. None takes the first mag's, or
        webknossos' default ``{"c": 0, "x": 1, "y": 2, "z": 3}``; without additional axes
        the order without c is completed, as webknossos 4.3.3 does.

    Raises
    ------
    PropertiesError
        Additional axes that clash with c, x, y, z or each other, or whose indices do not
        fit the axis order (the message names the field).
    """

    name: str
    category: str
    bounding_box: BoundingBox
    element_class: str
    data_format: str = "wkw"
    num_channels: int | None = None
    mags: list[MagProperties] = field(default_factory=list)
    largest_segment_id: int | None = None
    default_view_configuration: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    additional_axes: list[AdditionalAxis] = field(default_factory=list)
    axis_order: dict[str, int] | None = None

    def __post_init__(self) -> None:
        dtype, self.num_channels = dtype_and_channels(self.element_class, self.num_channels)
        self.element_class = element_class_for(dtype, self.num_channels)
        self.additional_axes = list(self.additional_axes)
        if self.axis_order is None and self.mags:
            self.axis_order = self.mags[0].axis_order
        self.axis_order = layer_axis_order(self.axis_order, bool(self.additional_axes))
        try:
            check_axes(self.axis_order, self.additional_axes, "")
        except Invalid as exc:
            raise PropertiesError(f"layer {self.name!r}: {exc.where}: {exc.message}") from None
        for m in self.mags:
            m.axis_order = dict(self.axis_order)
        if self.category == "segmentation" and type(self) is LayerProperties:
            # webknossos models segmentation layers as a subclass; every segmentation
            # entry is one here too, however it was built
            self.__class__ = SegmentationLayerProperties

    @property
    def dtype_per_channel(self) -> np.dtype:
        """The numpy dtype of one channel."""
        return dtype_and_channels(self.element_class, self.num_channels)[0]

    @property
    def dtype(self) -> str:
        """The dtype of one channel by name (``"uint8"``), as webknossos' ``dtype`` field."""
        return self.dtype_per_channel.name

    @property
    def dtype_np(self) -> np.dtype:
        return self.dtype_per_channel

    @property
    def coordinate_transformations(self) -> list[CoordinateTransformation] | None:
        """The ``coordinateTransformations`` (None when there are none, as in webknossos).

        Raises
        ------
        PropertiesError
            An entry is malformed or of an unknown type.
        """
        try:
            found = transformations_from_json(self.extra.get("coordinateTransformations"))
        except Invalid as exc:
            raise PropertiesError(f"layer {self.name!r}: {exc.where}: {exc.message}") from None
        return found or None

    @coordinate_transformations.setter
    def coordinate_transformations(self, value: list[CoordinateTransformation] | None) -> None:
        value = transformations_to_json(value or ())
        if value is None:
            self.extra.pop("coordinateTransformations", None)
        else:
            self.extra["coordinateTransformations"] = value

    @property
    def array_axes(self) -> tuple[str, ...] | None:
        """The axis names of the layer's arrays in their order, e.g. ``("t", "x", "y", "z")``;
        None for a layer without additional axes (its arrays are (c,) x, y, z)."""
        return array_axes(self.axis_order or {}, self.additional_axes)

    @property
    def nd_bounding_box(self) -> NDBoundingBox:
        """The box over all of the layer's axes: for an n-d layer an `NDBoundingBox` as
        webknossos 4.3.3's ``Layer.bounding_box`` (see `nd_layer_box`), else `bounding_box`."""
        if not self.additional_axes:
            return self.bounding_box
        return nd_layer_box(self.bounding_box, self.num_channels or 1, self.axis_order or {}, self.additional_axes)

    def set_nd_bounding_box(self, box: NDBoundingBox) -> None:
        """Set `bounding_box` and the bounds of the additional axes from `box` (a
        `BoundingBox` sets x, y, z only; an `NDBoundingBox` must have the layer's axes).

        Raises
        ------
        InvalidRequestError
            An `NDBoundingBox` over other axes than the layer's, or bounds of an
            additional axis that start below 0 or are empty.
        """
        if isinstance(box, BoundingBox):
            self.bounding_box = BoundingBox(box.topleft, box.size)
            return
        own = self.nd_bounding_box
        if set(box.axes) - {"c"} != set(own.axes) - {"c"}:
            raise InvalidRequestError(f"layer {self.name!r}: the box {box} does not have the layer's axes {own.axes}")
        bounds = {a: (int(t), int(t) + int(s)) for a, t, s in zip(box.axes, box.topleft, box.size)}
        additional = [AdditionalAxis(a.name, bounds[a.name], a.index) for a in self.additional_axes]
        try:  # bounds the properties could not be read back with (negative, empty) are refused
            parse_additional_axes([a.to_json() for a in additional], "bounding_box.additionalAxes")
        except Invalid as exc:
            raise InvalidRequestError(f"layer {self.name!r}: {exc.where}: {exc.message}") from None
        self.bounding_box = BoundingBox(box.topleft_xyz, box.size_xyz)
        self.additional_axes = additional

    @classmethod
    def nd_layout(cls, box: NDBoundingBox, name: str) -> tuple[BoundingBox, dict[str, int] | None, list[AdditionalAxis]]:
        """(`bounding_box`, `axis_order`, `additional_axes`) of a new layer whose box is
        `box`: a `BoundingBox`, or an `NDBoundingBox` over x, y, z only, makes a 3-D layer.

        Raises
        ------
        InvalidRequestError
            An `NDBoundingBox` without x, y or z.
        """
        if isinstance(box, BoundingBox) or set(box.axes) <= set(CXYZ):
            if not {"x", "y", "z"} <= set(box.axes):
                raise InvalidRequestError(f"layer {name!r}: the box {box} lacks an x, y or z axis")
            return BoundingBox(box.topleft_xyz, box.size_xyz), None, []
        try:
            return split_nd_box(box, "bounding_box")
        except Invalid as exc:
            raise InvalidRequestError(f"layer {name!r}: {exc.where}: {exc.message}") from None

    def get_mag(self, mag: Any) -> MagProperties | None:
        """The entry for `mag` (anything `Mag` accepts), or None."""
        wanted = Mag(mag).to_list()
        return next((m for m in self.mags if list(m.mag.to_list()) == list(wanted)), None)

    @classmethod
    def _from_json(cls, value: Any, where: str) -> LayerProperties:
        obj = as_object(value, where)
        name = as_string(required(obj, "name", where), at(where, "name"))
        try:
            check_name(name, "layer name", error=PropertiesError)
        except PropertiesError as exc:
            raise Invalid(at(where, "name"), str(exc)) from None
        category = required(obj, "category", where)
        if category not in CATEGORIES:
            message = f"expected 'color' or 'segmentation', got {show(category)}"
            raise Invalid(at(where, "category"), message)
        bbox = parse_bounding_box(required(obj, "boundingBox", where), at(where, "boundingBox"))
        data_format = obj.get("dataFormat", "wkw")
        if data_format not in DATA_FORMATS:
            message = f"expected one of {', '.join(DATA_FORMATS)}, got {show(data_format)}"
            raise Invalid(at(where, "dataFormat"), message)
        if "wkwResolutions" in obj:
            key, mag_key = "wkwResolutions", "resolution"
        elif "mags" in obj:
            key, mag_key = "mags", "mag"
        else:
            raise Invalid(at(where, "mags"), "missing required field")
        mags_where = at(where, key)
        mags = [
            MagProperties._from_json(m, at(mags_where, i), mag_key)
            for i, m in enumerate(as_list(obj[key], mags_where))
        ]
        seen: set[tuple[int, ...]] = set()
        for i, m in enumerate(mags):
            if tuple(m.mag.to_list()) in seen:
                raise Invalid(at(at(mags_where, i), mag_key), f"duplicate mag {m.mag.to_list()}")
            seen.add(tuple(m.mag.to_list()))
        orders = [normal_axis_order(m.axis_order) for m in mags]
        if any(o != orders[0] for o in orders):
            raise Invalid(mags_where, "axisOrder must be the same for all mags")
        additional = parse_additional_axes(obj.get("additionalAxes"), at(where, "additionalAxes"))
        box_order = as_object(obj["boundingBox"], at(where, "boundingBox")).get("axisOrder")
        raw_order = (as_object(obj[key][0], at(mags_where, 0)).get("axisOrder") if mags else box_order)
        axis_order = layer_axis_order(parse_axis_order(raw_order, at(mags_where, 0) if mags
                                                       else at(at(where, "boundingBox"), "axisOrder")),
                                      bool(additional))
        check_axes(axis_order, additional, where)
        element_class = required(obj, "elementClass", where)
        num_channels = obj.get("numChannels")
        if num_channels is not None:
            num_channels = as_integer(num_channels, at(where, "numChannels"), 1)
        try:
            dtype_and_channels(element_class, num_channels)
        except DataMismatchError as exc:
            raise Invalid(at(where, "elementClass"), str(exc)) from None
        largest = None
        if category == "segmentation":
            largest = parse_segment_id(
                obj.get("largestSegmentId"), at(where, "largestSegmentId")
            )
        view = obj.get("defaultViewConfiguration")
        if view is not None:
            view = normal_layer_view(view, at(where, "defaultViewConfiguration"))
        known = {"name", "category", "boundingBox", "dataFormat", "mags", "wkwResolutions",
                 "elementClass", "numChannels", "defaultViewConfiguration", "additionalAxes"}  # fmt: skip
        if category == "segmentation":
            known.add("largestSegmentId")
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in known}
        transformations_from_json(extra.get("coordinateTransformations"), at(where, "coordinateTransformations"))
        if category == "segmentation":
            AttachmentsProperties.from_json(extra.get("attachments"), at(where, "attachments"))
        return cls(name, category, bbox, element_class, data_format, num_channels, mags,
                   largest, view, extra, additional, axis_order)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The JSON object webknossos writes for this layer."""
        dtype, channels = dtype_and_channels(self.element_class, self.num_channels)
        topleft, size = self.bounding_box.topleft, self.bounding_box.size
        order = layer_axis_order(self.axis_order, bool(self.additional_axes))
        known: dict[str, Any] = {
            "name": self.name,
            "category": self.category,
            "boundingBox": {
                "topLeft": [int(v) for v in topleft],
                "width": int(size[0]),
                "height": int(size[1]),
                "depth": int(size[2]),
            },
            "dataFormat": self.data_format,
            "mags": [m.to_json(order) for m in self.mags],
        }
        if not self.mags:  # webknossos keeps the axis order in the box when there is no mag
            known["boundingBox"]["axisOrder"] = order
        if self.additional_axes:
            known["additionalAxes"] = [a.to_json() for a in self.additional_axes]
        if self.default_view_configuration is not None:
            known["defaultViewConfiguration"] = copy.deepcopy(self.default_view_configuration)
        if self.category == "segmentation" and self.largest_segment_id is not None:
            lsid = int(self.largest_segment_id)
            known["largestSegmentId"] = (
                {"customJsonEncoding": "bigint", "value": str(lsid)}
                if lsid > JS_MAX_SAFE_INTEGER
                else lsid
            )
        known["numChannels"] = channels
        known["elementClass"] = element_class_for(dtype, channels)
        return ordered(known, layer_extra_for_writing(self.extra), LAYER_KEYS)


class SegmentationLayerProperties(LayerProperties):
    """A ``dataLayers`` entry of category ``"segmentation"`` (every such `LayerProperties`
    is one): adds webknossos' `mappings` and `attachments` views of the JSON."""

    @property
    def mappings(self) -> list[str]:
        return list(self.extra.get("mappings") or [])

    @property
    def attachments(self) -> AttachmentsProperties:
        """A parsed copy of ``attachments``; assign it back to change them."""
        try:
            return AttachmentsProperties.from_json(self.extra.get("attachments"))
        except Invalid as exc:
            raise PropertiesError(f"layer {self.name!r}: {exc.where}: {exc.message}") from None

    @attachments.setter
    def attachments(self, value: AttachmentsProperties) -> None:
        found = value.to_json()
        if found is None:
            self.extra.pop("attachments", None)
        else:
            self.extra["attachments"] = found


MagViewProperties = MagProperties


@dataclass
class DatasetProperties:
    """The whole ``datasource-properties.json``.

    Attributes
    ----------
    id : dict
        ``{"name": ..., "team": ...}`` (legacy, kept as read).
    voxel_size : tuple of 3 floats
        ``scale.factor``.
    unit : str
        ``scale.unit``, a full unit name such as ``"nanometer"``.
    version : int
    data_layers : list of LayerProperties
    default_view_configuration : dict or None
    extra : dict
        Unknown top-level keys, written back after the known ones.
    """

    id: dict[str, Any]
    voxel_size: tuple[float, float, float]
    unit: str = "nanometer"
    version: int = 1
    data_layers: list[LayerProperties] = field(default_factory=list)
    default_view_configuration: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.voxel_size = tuple(float(v) for v in self.voxel_size)  # type: ignore[assignment]
        self.unit = LENGTH_UNITS.get(self.unit, self.unit)

    @property
    def scale(self) -> Any:
        """The voxel size with its unit (webknossos' ``scale`` field), a `wkpy.VoxelSize`."""
        from wkpy.voxel_size import VoxelSize

        return VoxelSize(self.voxel_size, self.unit)  # type: ignore[arg-type]

    def get_layer(self, name: str) -> LayerProperties | None:
        """The layer called `name`, or None."""
        return next((layer for layer in self.data_layers if layer.name == name), None)

    @classmethod
    def from_json(cls, obj: Any, *, source: str | None = None) -> DatasetProperties:
        """Parse and validate a decoded properties file.

        Parameters
        ----------
        obj : dict
            The decoded JSON; not modified.
        source : str, optional
            File name prefixed to error messages.

        Raises
        ------
        PropertiesError
            A field is missing, has the wrong type or an unknown value; the message
            names the field, e.g. ``dataLayers[0].boundingBox.width``.
        """
        try:
            check_depth(obj)
            return cls._from_json(obj)
        except Invalid as exc:
            prefix = "".join(f"{p}: " for p in (source, exc.where) if p)
            raise PropertiesError(prefix + exc.message) from None

    @classmethod
    def _from_json(cls, value: Any) -> DatasetProperties:
        obj = as_object(value, "")
        id_ = copy.deepcopy(as_object(required(obj, "id", ""), "id"))
        scale = required(obj, "scale", "")
        unit = "nanometer"
        if isinstance(scale, dict):
            factor = required(scale, "factor", "scale")
            factor_where = "scale.factor"
            if "unit" in scale:
                unit = scale["unit"]
                if not isinstance(unit, str) or unit not in LENGTH_UNITS:
                    raise Invalid("scale.unit", f"unknown length unit {show(unit)}")
                unit = LENGTH_UNITS[unit]
        else:
            factor, factor_where = scale, "scale"
        if not isinstance(factor, list) or len(factor) != 3:
            raise Invalid(factor_where, f"expected a list of 3 numbers, got {show(factor)}")
        for i, f in enumerate(factor):
            if not _positive_finite(f):
                raise Invalid(at(factor_where, i), f"expected a positive number, got {show(f)}")
        version = as_integer(obj.get("version", 1), "version")
        layers = [
            LayerProperties._from_json(layer, at("dataLayers", i))
            for i, layer in enumerate(as_list(required(obj, "dataLayers", ""), "dataLayers"))
        ]
        names: set[str] = set()
        for i, layer in enumerate(layers):
            if layer.name in names:
                raise Invalid(f"dataLayers[{i}].name", f"duplicate layer name {layer.name!r}")
            names.add(layer.name)
        view = obj.get("defaultViewConfiguration")
        if view is not None:
            view = normal_dataset_view(view, "defaultViewConfiguration")
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in DATASET_KEYS}
        return cls(id_, tuple(factor), unit, version, layers, view, extra)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The JSON object webknossos writes for these properties."""
        known: dict[str, Any] = {
            "id": copy.deepcopy(self.id),
            "scale": {"factor": [float(v) for v in self.voxel_size], "unit": self.unit},
            "dataLayers": [layer.to_json() for layer in self.data_layers],
            "version": self.version,
        }
        if self.default_view_configuration is not None:
            known["defaultViewConfiguration"] = copy.deepcopy(self.default_view_configuration)
        return ordered(known, self.extra, DATASET_KEYS)

    def to_json_text(self) -> str:
        """The file content webknossos writes: 4-space indent, no trailing newline."""
        return json.dumps(self.to_json(), indent=4, allow_nan=False)
