"""``defaultViewConfiguration`` of datasets and layers: how webknossos shows them at first.

The two classes carry webknossos 4.3.3's fields, in its order, each ``None`` unless set;
``None`` fields are left out of the JSON, the others are written under their camelCase
name (``intensity_range`` → ``intensityRange``). Keys webknossos does not know are kept
in ``extra`` and written after the known ones (webknossos drops them).

The getters convert values as webknossos does when it loads a file (``"alpha": 100``
becomes ``100.0``, ``"position": [1, 2, 3]`` the tuple ``(1, 2, 3)``). The file keeps
the values as they were set or read: a file webknossos reopens and rewrites may spell
``100`` as ``100.0``, the same number. Per-layer views inside a dataset's view are
written as webknossos 4.3.3 writes them, with snake_case keys and null fields; both
spellings are read.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._schema import Invalid, as_object, at, show

__all__ = [
    "DatasetViewConfiguration",
    "LayerViewConfiguration",
    "normal_dataset_view",
    "normal_layer_view",
    "view_to_json",
]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(where, f"expected a number, got {show(value)}")
    return value


def _as_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(where, f"expected true or false, got {show(value)}")
    return value


def _as_float(value: Any, where: str) -> float:
    return float(_number(value, where))


def _as_int(value: Any, where: str) -> int:
    try:
        return int(_number(value, where))
    except (OverflowError, ValueError):
        raise Invalid(where, f"expected a finite number, got {show(value)}") from None


def _as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(where, f"expected a string, got {show(value)}")
    return value


def _tuple_of(n: int, item: Callable[[Any, str], Any]) -> Callable[[Any, str], tuple[Any, ...]]:
    def parse(value: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(value, list) or len(value) != n:
            raise Invalid(where, f"expected a list of {n} numbers, got {show(value)}")
        return tuple(item(v, at(where, i)) for i, v in enumerate(value))

    return parse


def _str_dict(value: Any, where: str) -> dict[str, str]:
    return {k: _as_str(v, at(where, k)) for k, v in as_object(value, where).items()}


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(where, f"expected a list of strings, got {show(value)}")
    return [_as_str(v, at(where, i)) for i, v in enumerate(value)]


@dataclass
class LayerViewConfiguration:
    """How webknossos shows a layer by default (``Layer.default_view_configuration``).

    Attributes
    ----------
    color : tuple of 3 ints or None
        RGB, 0 to 255 (webknossos shows white when unset).
    alpha : float or None
        Opacity, 0 to 100.
    intensity_range : tuple of 2 floats or None
        The data range mapped onto the colour ramp.
    min, max : float or None
        The histogram's limits.
    is_disabled, is_inverted, is_in_edit_mode : bool or None
    mapping : dict or None
        Segmentation layers: the mapping applied by default, e.g.
        ``{"name": "agglomerate_view_70", "type": "HDF5"}``.
    extra : dict
        Keys webknossos does not know, written back unchanged (not compared).
    """

    color: tuple[int, int, int] | None = None
    alpha: float | None = None
    intensity_range: tuple[float, float] | None = None
    min: float | None = None
    max: float | None = None
    is_disabled: bool | None = None
    is_inverted: bool | None = None
    is_in_edit_mode: bool | None = None
    mapping: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, kw_only=True)


@dataclass
class DatasetViewConfiguration:
    """How webknossos shows a dataset by default (``Dataset.default_view_configuration``).

    Attributes
    ----------
    four_bit, interpolation, render_missing_data_black : bool or None
    loading_strategy : str or None
        ``"BEST_QUALITY_FIRST"`` or ``"PROGRESSIVE_QUALITY"``.
    segmentation_pattern_opacity : int or None
    zoom : float or None
    position, rotation : tuple of 3 ints or None
    layers : dict of str to LayerViewConfiguration, or None
    color_layer_order : list of str or None
    blend_mode : str or None
    natively_rendered_layer_name : str or None
    extra : dict
        Keys webknossos does not know, written back unchanged (not compared).
    """

    four_bit: bool | None = None
    interpolation: bool | None = None
    render_missing_data_black: bool | None = None
    loading_strategy: str | None = None
    segmentation_pattern_opacity: int | None = None
    zoom: float | None = None
    position: tuple[int, int, int] | None = None
    rotation: tuple[int, int, int] | None = None
    layers: dict[str, LayerViewConfiguration] | None = None
    color_layer_order: list[str] | None = None
    blend_mode: str | None = None
    natively_rendered_layer_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, kw_only=True)


def _parse_layer_views(value: Any, where: str) -> dict[str, LayerViewConfiguration]:
    return {k: _parse(LayerViewConfiguration, v, at(where, k), nested=True)
            for k, v in as_object(value, where).items()}


# how a value read from a file becomes the field's value (webknossos' cattrs conversions)
_READERS: dict[str, Callable[[Any, str], Any]] = {
    "color": _tuple_of(3, _as_int), "alpha": _as_float, "intensity_range": _tuple_of(2, _as_float),
    "min": _as_float, "max": _as_float, "is_disabled": _as_bool, "is_inverted": _as_bool,
    "is_in_edit_mode": _as_bool, "mapping": _str_dict,
    "four_bit": _as_bool, "interpolation": _as_bool, "render_missing_data_black": _as_bool,
    "loading_strategy": _as_str, "segmentation_pattern_opacity": _as_int, "zoom": _as_float,
    "position": _tuple_of(3, _as_int), "rotation": _tuple_of(3, _as_int), "layers": _parse_layer_views,
    "color_layer_order": _str_list, "blend_mode": _as_str, "natively_rendered_layer_name": _as_str,
}  # fmt: skip


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]


def _parse(cls: type, value: Any, where: str, nested: bool = False) -> Any:
    obj = as_object(value, where)
    known = {_camel(name): name for name in _fields(cls)}
    if nested:  # the per-layer views inside a dataset's view: webknossos writes snake_case
        known.update({name: name for name in _fields(cls)})
    values = {}
    for key, name in known.items():
        if obj.get(key) is not None:
            values[name] = _READERS[name](obj[key], at(where, key))
    extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in known}
    return cls(**values, extra=extra)


def _nested_view_json(view: LayerViewConfiguration) -> dict[str, Any]:
    """A layer view inside a dataset view as webknossos 4.3.3 writes it: every field under
    its Python name, None included (its converter's default for nested classes)."""
    out = {name: _plain(getattr(view, name)) for name in _fields(type(view))}
    for key, value in view.extra.items():
        out.setdefault(key, copy.deepcopy(value))
    return out


def _plain(value: Any) -> Any:
    """A field value as JSON: tuples become lists, layer views their nested JSON objects."""
    if isinstance(value, LayerViewConfiguration):
        return _nested_view_json(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def view_to_json(view: LayerViewConfiguration | DatasetViewConfiguration) -> dict[str, Any]:
    """The JSON object webknossos writes for `view`: fields that are not None, camelCase,
    in webknossos' order; then the `extra` keys."""
    out = {_camel(name): _plain(getattr(view, name)) for name in _fields(type(view))
           if getattr(view, name) is not None}
    for key, value in view.extra.items():
        out.setdefault(key, copy.deepcopy(value))
    return out


def normal_layer_view(value: Any, where: str) -> dict[str, Any]:
    """A layer's ``defaultViewConfiguration`` read from a file: checked (raises `Invalid`)
    and kept as written."""
    _parse(LayerViewConfiguration, value, where)
    return copy.deepcopy(value)  # type: ignore[no-any-return]


def normal_dataset_view(value: Any, where: str) -> dict[str, Any]:
    """A dataset's ``defaultViewConfiguration`` read from a file: checked (raises
    `Invalid`) and kept as written."""
    _parse(DatasetViewConfiguration, value, where)
    return copy.deepcopy(value)  # type: ignore[no-any-return]


def layer_view_from_json(value: dict[str, Any]) -> LayerViewConfiguration:
    return _parse(LayerViewConfiguration, value, "defaultViewConfiguration")  # type: ignore[no-any-return]


def dataset_view_from_json(value: dict[str, Any]) -> DatasetViewConfiguration:
    return _parse(DatasetViewConfiguration, value, "defaultViewConfiguration")  # type: ignore[no-any-return]


def view_json_for_setting(value: Any, cls: type, what: str) -> dict[str, Any] | None:
    """The JSON to store for a ``default_view_configuration`` setter's `value`.

    `value` is a `cls` instance, its JSON object (camelCase keys) or None. The JSON is
    written as given (as webknossos writes a freshly set value); it is checked first, so
    nothing is stored that would make the file unreadable.

    Raises
    ------
    InvalidRequestError
        `value` has another type, a field has a wrong value, or it is nested too deeply.
    """
    from wkpy.errors import InvalidRequestError

    from ._schema import check_depth

    if value is None:
        return None
    try:
        if isinstance(value, cls):
            obj = view_to_json(value)
        elif isinstance(value, dict):
            check_depth(value, "defaultViewConfiguration")
            obj = copy.deepcopy(value)
        else:
            raise InvalidRequestError(f"{what} must be a {cls.__name__} or None, got {type(value).__name__}")
        check_depth(obj, "defaultViewConfiguration")
        _parse(cls, obj, "defaultViewConfiguration")
    except Invalid as exc:
        raise InvalidRequestError(f"{what}: {exc.where}: {exc.message}") from None
    except RecursionError:
        raise InvalidRequestError(f"{what}: a value is nested too deeply") from None
    return obj
