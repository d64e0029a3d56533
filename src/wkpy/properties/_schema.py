"""Field names, key order and the validating readers for ``datasource-properties.json``."""

from __future__ import annotations

import copy
import re
from typing import Any

from wkpy.geometry import BoundingBox, Mag

PROPERTIES_FILE_NAME = "datasource-properties.json"
DEFAULT_AXIS_ORDER: dict[str, int] = {"c": 0, "x": 1, "y": 2, "z": 3}
AXIS_ORDER_WITHOUT_C = {"x": 1, "y": 2, "z": 3}
CATEGORIES = ("color", "segmentation")
DATA_FORMATS = ("wkw", "zarr", "zarr3", "neuroglancerPrecomputed", "n5")
JS_MAX_SAFE_INTEGER = 2**53 - 1
# Deepest nesting accepted in a metadata file. webknossos' own files nest 5 levels; the
# bound keeps every later recursive walk (copying, comparing, writing) far from Python's
# recursion limit, so hostile nesting is refused once, where the file is read.
MAX_JSON_DEPTH = 100

# Key order webknossos writes; keys kept in `extra` under one of these names go to
# their slot, all other extra keys follow at the end.
DATASET_KEYS = ("id", "scale", "dataLayers", "version", "defaultViewConfiguration")
LAYER_KEYS = (
    "name", "category", "boundingBox", "dataFormat", "mags", "defaultViewConfiguration",
    "coordinateTransformations", "largestSegmentId", "mappings", "attachments",
    "additionalAxes", "numChannels", "elementClass",
)  # fmt: skip
MAG_KEYS = ("mag", "path", "cubeLength", "axisOrder", "channelIndex")

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


class Invalid(Exception):
    """Internal: a field path and a message, turned into PropertiesError at the top."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where = where
        self.message = message


def at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_depth(value: Any, where: str = "", limit: int = MAX_JSON_DEPTH) -> None:
    """Raise `Invalid` naming the first value nested deeper than `limit` containers.

    Walks without recursion, so it is safe on any decoded document.
    """
    # each entry: (node, depth, key, parent entry); the chain gives the field's path
    stack: list[tuple[Any, int, str | int | None, Any]] = [(value, 1, None, None)]
    while stack:
        entry = stack.pop()
        node, depth = entry[0], entry[1]
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            keys = []
            while entry is not None and entry[2] is not None:
                keys.append(entry[2])
                entry = entry[3]
            path = where
            for key in reversed(keys[-4:]):  # the outermost fields name the place
                path = at(path, key)
            raise Invalid(path, f"nested more than {limit} levels deep")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, depth + 1, key, entry) for key, child in items)


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(where, f"expected an object, got {show(value)}")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(where, f"expected a list, got {show(value)}")
    return value


def required(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise Invalid(at(where, key), "missing required field")
    return obj[key]


def as_string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(where, f"expected a non-empty string, got {show(value)}")
    return value


def as_integer(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(where, f"expected an integer, got {show(value)}")
    if minimum is not None and value < minimum:
        raise Invalid(where, f"expected an integer >= {minimum}, got {value}")
    return value


def as_vec3(value: Any, where: str, minimum: int | None = None) -> list[int]:
    if not isinstance(value, list) or len(value) != 3:
        raise Invalid(where, f"expected a list of 3 integers, got {show(value)}")
    return [as_integer(v, at(where, i), minimum) for i, v in enumerate(value)]


def parse_segment_id(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, dict) and value.get("customJsonEncoding") == "bigint":
        digits = value.get("value")
        if isinstance(digits, str) and re.fullmatch(r"-?[0-9]+", digits):
            return int(digits)
        raise Invalid(at(where, "value"), f"expected a decimal string, got {show(digits)}")
    return as_integer(value, where)


def parse_bounding_box(value: Any, where: str) -> BoundingBox:
    obj = as_object(value, where)
    topleft = as_vec3(required(obj, "topLeft", where), at(where, "topLeft"))
    size = [
        as_integer(required(obj, k, where), at(where, k), 0) for k in ("width", "height", "depth")
    ]
    try:
        return BoundingBox(topleft, size)
    except (TypeError, ValueError, AssertionError) as exc:
        raise Invalid(where, f"invalid bounding box: {exc}") from None


def parse_mag_value(value: Any, where: str) -> Mag:
    if isinstance(value, list):
        parts = as_vec3(value, where, 1)
    else:
        parts = [as_integer(value, where, 1)] * 3
    if any(p & (p - 1) for p in parts):
        raise Invalid(where, f"mag components must be powers of two, got {parts}")
    try:
        return Mag(parts)
    except (TypeError, ValueError, AssertionError) as exc:
        raise Invalid(where, f"invalid mag: {exc}") from None


def parse_axis_order(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    obj = as_object(value, where)
    return {as_string(k, where): as_integer(v, at(where, k), 0) for k, v in obj.items()}


def normal_axis_order(axis_order: dict[str, int] | None) -> dict[str, int]:
    if axis_order is None or axis_order == AXIS_ORDER_WITHOUT_C:
        return dict(DEFAULT_AXIS_ORDER)
    return dict(axis_order)


def ordered(known: dict[str, Any], extra: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
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


def floats(value: Any) -> Any:
    if isinstance(value, list):
        return [floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def layer_extra_for_writing(extra: dict[str, Any]) -> dict[str, Any]:
    """Drop empty optional layer fields, write transformation numbers as floats (as webknossos)."""
    out = dict(extra)
    for key in ("coordinateTransformations", "mappings", "additionalAxes"):
        if key in out and (out[key] is None or out[key] == []):
            del out[key]
    attachments = out.get("attachments", 0)
    if attachments is None or (
        isinstance(attachments, dict)
        and all(v is None or v == [] or v == {} for v in attachments.values())
    ):
        del out["attachments"]
    transforms = out.get("coordinateTransformations")
    if isinstance(transforms, list):
        transforms = copy.deepcopy(transforms)
        for t in transforms:
            if isinstance(t, dict) and t.get("type") == "affine" and "matrix" in t:
                t["matrix"] = floats(t["matrix"])
            if isinstance(t, dict) and isinstance(t.get("correspondences"), dict):
                for k in ("source", "target"):
                    if k in t["correspondences"]:
                        t["correspondences"][k] = floats(t["correspondences"][k])
        out["coordinateTransformations"] = transforms
    return out
