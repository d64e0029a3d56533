"""The `datasource-properties.json` model: parsing, validation and writing.

The JSON written by `DatasetProperties.to_json` (and `save_properties`) matches what
webknossos 4.3.3 writes for the same dataset: same keys, key order, number formatting
and indentation. Fields this module does not model are kept in ``extra`` dicts and
written back.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wkpy.errors import DataMismatchError, DatasetNotFoundError, PropertiesError
from wkpy.geometry import BoundingBox, Mag

__all__ = [
    "PROPERTIES_FILE_NAME",
    "DEFAULT_AXIS_ORDER",
    "MagProperties",
    "LayerProperties",
    "DatasetProperties",
    "dtype_and_channels",
    "element_class_for",
    "load_properties",
    "save_properties",
]

PROPERTIES_FILE_NAME = "datasource-properties.json"
DEFAULT_AXIS_ORDER: dict[str, int] = {"c": 0, "x": 1, "y": 2, "z": 3}
_AXIS_ORDER_WITHOUT_C = {"x": 1, "y": 2, "z": 3}
CATEGORIES = ("color", "segmentation")
DATA_FORMATS = ("wkw", "zarr", "zarr3", "neuroglancerPrecomputed", "n5")
JS_MAX_SAFE_INTEGER = 2**53 - 1

# Key order webknossos writes; keys kept in `extra` under one of these names go to
# their slot, all other extra keys follow at the end.
_DATASET_KEYS = ("id", "scale", "dataLayers", "version", "defaultViewConfiguration")
_LAYER_KEYS = (
    "name", "category", "boundingBox", "dataFormat", "mags", "defaultViewConfiguration",
    "coordinateTransformations", "largestSegmentId", "mappings", "attachments",
    "additionalAxes", "numChannels", "elementClass",
)  # fmt: skip
_MAG_KEYS = ("mag", "path", "cubeLength", "axisOrder", "channelIndex")

_UNIT_NAMES = (
    "yoctometer zeptometer attometer femtometer picometer nanometer micrometer millimeter "
    "centimeter decimeter meter hectometer kilometer megameter gigameter terameter "
    "petameter exameter zettameter yottameter angstrom inch foot yard mile parsec"
).split()
_UNIT_ABBREVIATIONS = (
    "ym zm am fm pm nm µm mm cm dm m hm km Mm Gm Tm Pm Em Zm Ym Å in ft yd mi pc"
).split()
LENGTH_UNITS: dict[str, str] = {u: u for u in _UNIT_NAMES}
LENGTH_UNITS.update(zip(_UNIT_ABBREVIATIONS, _UNIT_NAMES))

# ---------------------------------------------------------------------------- dtypes

_PER_CHANNEL_DTYPES = frozenset(
    ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"]
)
_FLOAT_ALIASES = {"float": "float32", "double": "float64"}
_FLOAT_NAMES = {v: k for k, v in _FLOAT_ALIASES.items()}


def _check_channels(num_channels: Any) -> int:
    if isinstance(num_channels, (bool, np.bool_)) or not isinstance(
        num_channels, (int, np.integer)
    ):
        raise DataMismatchError(f"number of channels must be an integer, got {num_channels!r}")
    if num_channels < 1:
        raise DataMismatchError(f"number of channels must be positive, got {num_channels}")
    return int(num_channels)


def dtype_and_channels(element_class: str, num_channels: int | None = None) -> tuple[np.dtype, int]:
    """Split a layer's element class into the per-channel dtype and channel count.

    Parameters
    ----------
    element_class : str
        ``elementClass`` as in the properties, e.g. ``"uint24"``, ``"float"``.
    num_channels : int or None
        ``numChannels``; None derives it (3 for ``uint24``, else 1).

    Returns
    -------
    tuple of numpy.dtype and int

    Raises
    ------
    DataMismatchError
        The element class is unknown or not divisible into `num_channels` supported dtypes.
    """
    if not isinstance(element_class, str):
        raise DataMismatchError(f"element class must be a string, got {element_class!r}")
    if num_channels is None:
        num_channels = 3 if element_class == "uint24" else 1
    channels = _check_channels(num_channels)
    match = re.fullmatch(r"(uint|int|float)([1-9][0-9]{0,5})", _FLOAT_ALIASES.get(element_class, element_class))
    bits = int(match.group(2)) if match else 0
    per_channel = f"{match.group(1)}{bits // channels}" if match else ""
    if not match or bits % channels or per_channel not in _PER_CHANNEL_DTYPES:
        raise DataMismatchError(
            f"unsupported element class {element_class!r} with {channels} channel(s)"
        )
    return np.dtype(per_channel), channels


def element_class_for(dtype_per_channel: Any, num_channels: int = 1) -> str:
    """The ``elementClass`` webknossos writes for `num_channels` channels of a dtype.

    Examples: uint8 x 3 is ``"uint24"``, float32 is ``"float"``, float64 is ``"double"``.

    Raises
    ------
    DataMismatchError
        The dtype is not one webknossos stores (u)int8..64, float32 or float64.
    """
    if dtype_per_channel is None:
        raise DataMismatchError("a dtype is required")
    try:
        name = np.dtype(dtype_per_channel).name
    except (TypeError, ValueError) as exc:
        raise DataMismatchError(f"not a dtype: {dtype_per_channel!r}") from exc
    if name not in _PER_CHANNEL_DTYPES:
        raise DataMismatchError(f"unsupported dtype {name}")
    channels = _check_channels(num_channels)
    kind, bits = re.fullmatch(r"([a-z]+)(\d+)", name).groups()  # type: ignore[union-attr]
    total = f"{kind}{int(bits) * channels}"
    return _FLOAT_NAMES.get(total, total)


# ----------------------------------------------------------------------- validation


class _Invalid(Exception):
    """Internal: a field path and a message, turned into PropertiesError at the top."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where = where
        self.message = message


def _at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(where, f"expected an object, got {_show(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(where, f"expected a list, got {_show(value)}")
    return value


def _required(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise _Invalid(_at(where, key), "missing required field")
    return obj[key]


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(where, f"expected a non-empty string, got {_show(value)}")
    return value


def _integer(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(where, f"expected an integer, got {_show(value)}")
    if minimum is not None and value < minimum:
        raise _Invalid(where, f"expected an integer >= {minimum}, got {value}")
    return value


def _vec3(value: Any, where: str, minimum: int | None = None) -> list[int]:
    if not isinstance(value, list) or len(value) != 3:
        raise _Invalid(where, f"expected a list of 3 integers, got {_show(value)}")
    return [_integer(v, _at(where, i), minimum) for i, v in enumerate(value)]


def _largest_segment_id(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, dict) and value.get("customJsonEncoding") == "bigint":
        digits = value.get("value")
        if isinstance(digits, str) and re.fullmatch(r"-?[0-9]+", digits):
            return int(digits)
        raise _Invalid(_at(where, "value"), f"expected a decimal string, got {_show(digits)}")
    return _integer(value, where)


def _parse_bounding_box(value: Any, where: str) -> BoundingBox:
    obj = _object(value, where)
    topleft = _vec3(_required(obj, "topLeft", where), _at(where, "topLeft"))
    size = [_integer(_required(obj, k, where), _at(where, k), 0) for k in ("width", "height", "depth")]
    try:
        return BoundingBox(topleft, size)
    except (TypeError, ValueError, AssertionError) as exc:
        raise _Invalid(where, f"invalid bounding box: {exc}") from None


def _parse_mag_value(value: Any, where: str) -> Mag:
    if isinstance(value, list):
        parts = _vec3(value, where, 1)
    else:
        parts = [_integer(value, where, 1)] * 3
    if any(p & (p - 1) for p in parts):
        raise _Invalid(where, f"mag components must be powers of two, got {parts}")
    try:
        return Mag(parts)
    except (TypeError, ValueError, AssertionError) as exc:
        raise _Invalid(where, f"invalid mag: {exc}") from None


def _parse_axis_order(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    obj = _object(value, where)
    return {_string(k, where): _integer(v, _at(where, k), 0) for k, v in obj.items()}


def _normal_axis_order(axis_order: dict[str, int] | None) -> dict[str, int]:
    if axis_order is None or axis_order == _AXIS_ORDER_WITHOUT_C:
        return dict(DEFAULT_AXIS_ORDER)
    return dict(axis_order)


def _ordered(known: dict[str, Any], extra: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """Merge `known` and `extra` keys in webknossos' order, other extra keys last."""
    out: dict[str, Any] = {}
    for key in order:
        if key in known:
            out[key] = known[key]
        elif key in extra:
            out[key] = copy.deepcopy(extra[key])
    for key, value in extra.items():
        if key not in out and key not in known:
            out[key] = copy.deepcopy(value)
    return out


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _layer_extra_for_writing(extra: dict[str, Any]) -> dict[str, Any]:
    """Drop empty optional fields and write transformation numbers as floats, as webknossos does."""
    out = dict(extra)
    for key in ("coordinateTransformations", "mappings", "additionalAxes"):
        if key in out and (out[key] is None or out[key] == []):
            del out[key]
    attachments = out.get("attachments", 0)
    if attachments is None or (
        isinstance(attachments, dict) and all(v is None or len(v) == 0 for v in attachments.values())
    ):
        del out["attachments"]
    transforms = out.get("coordinateTransformations")
    if isinstance(transforms, list):
        transforms = copy.deepcopy(transforms)
        for t in transforms:
            if isinstance(t, dict) and t.get("type") == "affine" and "matrix" in t:
                t["matrix"] = _floats(t["matrix"])
            if isinstance(t, dict) and isinstance(t.get("correspondences"), dict):
                for k in ("source", "target"):
                    if k in t["correspondences"]:
                        t["correspondences"][k] = _floats(t["correspondences"][k])
        out["coordinateTransformations"] = transforms
    return out


# ---------------------------------------------------------------------------- model


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
        ``axisOrder``; None (or the order without ``c``) becomes ``{"c":0,"x":1,"y":2,"z":3}``.
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
        self.axis_order = _normal_axis_order(self.axis_order)

    @classmethod
    def _from_json(cls, value: Any, where: str, mag_key: str = "mag") -> MagProperties:
        obj = _object(value, where)
        mag = _parse_mag_value(_required(obj, mag_key, where), _at(where, mag_key))
        path = obj.get("path")
        if path is not None:
            path = _string(path, _at(where, "path"))
        cube_length = obj.get("cubeLength")
        if cube_length is not None:
            cube_length = _integer(cube_length, _at(where, "cubeLength"), 1)
        axis_order = _parse_axis_order(obj.get("axisOrder"), _at(where, "axisOrder"))
        known = {mag_key, "path", "cubeLength", "axisOrder"}
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in known}
        return cls(mag, path, cube_length, axis_order, extra)

    def to_json(self) -> dict[str, Any]:
        """The JSON object webknossos writes for this mag."""
        known: dict[str, Any] = {"mag": list(self.mag.to_list())}
        if self.path is not None:
            known["path"] = self.path
        if self.cube_length is not None:
            known["cubeLength"] = self.cube_length
        known["axisOrder"] = _normal_axis_order(self.axis_order)
        return _ordered(known, self.extra, _MAG_KEYS)


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
        Other keys (``coordinateTransformations``, ``mappings``, ``attachments``,
        ``additionalAxes``, unknown ones), written back.
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

    def __post_init__(self) -> None:
        dtype, self.num_channels = dtype_and_channels(self.element_class, self.num_channels)
        self.element_class = element_class_for(dtype, self.num_channels)

    @property
    def dtype_per_channel(self) -> np.dtype:
        """The numpy dtype of one channel."""
        return dtype_and_channels(self.element_class, self.num_channels)[0]

    def get_mag(self, mag: Any) -> MagProperties | None:
        """The entry for `mag` (anything `Mag` accepts), or None."""
        wanted = Mag(mag).to_list()
        return next((m for m in self.mags if list(m.mag.to_list()) == list(wanted)), None)

    @classmethod
    def _from_json(cls, value: Any, where: str) -> LayerProperties:
        obj = _object(value, where)
        name = _string(_required(obj, "name", where), _at(where, "name"))
        category = _required(obj, "category", where)
        if category not in CATEGORIES:
            raise _Invalid(_at(where, "category"), f"expected 'color' or 'segmentation', got {_show(category)}")
        bbox = _parse_bounding_box(_required(obj, "boundingBox", where), _at(where, "boundingBox"))
        data_format = obj.get("dataFormat", "wkw")
        if data_format not in DATA_FORMATS:
            raise _Invalid(_at(where, "dataFormat"), f"expected one of {', '.join(DATA_FORMATS)}, got {_show(data_format)}")
        if "wkwResolutions" in obj:
            key, mag_key = "wkwResolutions", "resolution"
        elif "mags" in obj:
            key, mag_key = "mags", "mag"
        else:
            raise _Invalid(_at(where, "mags"), "missing required field")
        mags_where = _at(where, key)
        mags = [
            MagProperties._from_json(m, _at(mags_where, i), mag_key)
            for i, m in enumerate(_list(obj[key], mags_where))
        ]
        seen: set[tuple[int, ...]] = set()
        for i, m in enumerate(mags):
            if tuple(m.mag.to_list()) in seen:
                raise _Invalid(_at(_at(mags_where, i), mag_key), f"duplicate mag {m.mag.to_list()}")
            seen.add(tuple(m.mag.to_list()))
        orders = [_normal_axis_order(m.axis_order) for m in mags]
        if any(o != orders[0] for o in orders):
            raise _Invalid(mags_where, "axisOrder must be the same for all mags")
        element_class = _required(obj, "elementClass", where)
        num_channels = obj.get("numChannels")
        if num_channels is not None:
            num_channels = _integer(num_channels, _at(where, "numChannels"), 1)
        try:
            dtype_and_channels(element_class, num_channels)
        except DataMismatchError as exc:
            raise _Invalid(_at(where, "elementClass"), str(exc)) from None
        largest = None
        if category == "segmentation":
            largest = _largest_segment_id(obj.get("largestSegmentId"), _at(where, "largestSegmentId"))
        view = obj.get("defaultViewConfiguration")
        if view is not None:
            view = copy.deepcopy(_object(view, _at(where, "defaultViewConfiguration")))
        known = {"name", "category", "boundingBox", "dataFormat", "mags", "wkwResolutions",
                 "elementClass", "numChannels", "defaultViewConfiguration"}  # fmt: skip
        if category == "segmentation":
            known.add("largestSegmentId")
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in known}
        return cls(name, category, bbox, element_class, data_format, num_channels, mags,
                   largest, view, extra)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The JSON object webknossos writes for this layer."""
        dtype, channels = dtype_and_channels(self.element_class, self.num_channels)
        topleft, size = self.bounding_box.topleft, self.bounding_box.size
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
            "mags": [m.to_json() for m in self.mags],
        }
        if self.default_view_configuration is not None:
            known["defaultViewConfiguration"] = copy.deepcopy(self.default_view_configuration)
        if self.category == "segmentation" and self.largest_segment_id is not None:
            lsid = int(self.largest_segment_id)
            known["largestSegmentId"] = (
                {"customJsonEncoding": "bigint", "value": str(lsid)} if lsid > JS_MAX_SAFE_INTEGER else lsid
            )
        known["numChannels"] = channels
        known["elementClass"] = element_class_for(dtype, channels)
        return _ordered(known, _layer_extra_for_writing(self.extra), _LAYER_KEYS)


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
            return cls._from_json(obj)
        except _Invalid as exc:
            prefix = "".join(f"{p}: " for p in (source, exc.where) if p)
            raise PropertiesError(prefix + exc.message) from None

    @classmethod
    def _from_json(cls, value: Any) -> DatasetProperties:
        obj = _object(value, "")
        id_ = copy.deepcopy(_object(_required(obj, "id", ""), "id"))
        scale = _required(obj, "scale", "")
        unit = "nanometer"
        if isinstance(scale, dict):
            factor = _required(scale, "factor", "scale")
            factor_where = "scale.factor"
            if "unit" in scale:
                unit = scale["unit"]
                if not isinstance(unit, str) or unit not in LENGTH_UNITS:
                    raise _Invalid("scale.unit", f"unknown length unit {_show(unit)}")
                unit = LENGTH_UNITS[unit]
        else:
            factor, factor_where = scale, "scale"
        if not isinstance(factor, list) or len(factor) != 3:
            raise _Invalid(factor_where, f"expected a list of 3 numbers, got {_show(factor)}")
        for i, f in enumerate(factor):
            ok = isinstance(f, (int, float)) and not isinstance(f, bool)
            if not ok or not math.isfinite(f) or f <= 0:
                raise _Invalid(_at(factor_where, i), f"expected a positive number, got {_show(f)}")
        version = _integer(obj.get("version", 1), "version")
        layers = [
            LayerProperties._from_json(layer, _at("dataLayers", i))
            for i, layer in enumerate(_list(_required(obj, "dataLayers", ""), "dataLayers"))
        ]
        names: set[str] = set()
        for i, layer in enumerate(layers):
            if layer.name in names:
                raise _Invalid(f"dataLayers[{i}].name", f"duplicate layer name {layer.name!r}")
            names.add(layer.name)
        view = obj.get("defaultViewConfiguration")
        if view is not None:
            view = copy.deepcopy(_object(view, "defaultViewConfiguration"))
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in _DATASET_KEYS}
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
        return _ordered(known, self.extra, _DATASET_KEYS)

    def to_json_text(self) -> str:
        """The file content webknossos writes: 4-space indent, no trailing newline."""
        return json.dumps(self.to_json(), indent=4, allow_nan=False)


# ------------------------------------------------------------------------------- io


def _file_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / PROPERTIES_FILE_NAME if p.is_dir() else p


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_properties(path: str | os.PathLike[str]) -> DatasetProperties:
    """Read and validate a properties file (or the one in dataset folder `path`).

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    PropertiesError
        The file is not JSON or is malformed; the message names the file and field.
    """
    file = _file_path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{file}: properties file not found") from None
    try:
        obj = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PropertiesError(f"{file}: not valid JSON: {exc}") from None
    return DatasetProperties.from_json(obj, source=str(file))


def save_properties(path: str | os.PathLike[str], props: DatasetProperties) -> None:
    """Write `props` atomically to `path` (a file, or a dataset folder).

    The JSON goes to a temporary file in the same folder that then replaces the target,
    so readers see the old or the new file, never a partial one. On failure the
    temporary file is removed and the old file is untouched.
    """
    file = _file_path(path)
    obj = props.to_json()
    tmp = file.with_name(f".{file.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=4, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, file.stat().st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, file)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
