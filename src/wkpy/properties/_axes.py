"""A layer's axes: ``axisOrder`` of its mags and ``additionalAxes`` (n-d layers).

webknossos 4.3.3 stores an n-d layer (a time series, extra conditions) as Zarr3 arrays
with axes beyond c, x, y, z. Its properties keep ``boundingBox`` 3-D and describe the other
axes in ``additionalAxes``: a name, the bounds ``[lo, hi)`` and the axis's position
(``index``) in the arrays. The positions of c, x, y, z are each mag's ``axisOrder``; c is
absent from it when the arrays have no channel axis, as webknossos writes for n-d boxes
without one (``{"x": 1, "y": 2, "z": 3}`` beside ``t`` at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._schema import (
    AXIS_ORDER_WITHOUT_C,
    DEFAULT_AXIS_ORDER,
    Invalid,
    as_integer,
    as_list,
    as_object,
    as_string,
    at,
    required,
    show,
)

__all__ = ["AdditionalAxis", "parse_additional_axes", "check_axes", "array_axes", "layer_axis_order", "nd_layer_box",
           "split_nd_box"]

if TYPE_CHECKING:
    from wkpy.geometry import BoundingBox, NDBoundingBox

CXYZ = ("c", "x", "y", "z")
MAX_BOUND = 2**62          # the largest extent the arrays address (as for zarr.json shapes)


@dataclass(frozen=True)
class AdditionalAxis:
    """One entry of a layer's ``additionalAxes``.

    Attributes
    ----------
    name : str
        The axis's name (neither ``c``, ``x``, ``y`` nor ``z``), e.g. ``"t"``.
    bounds : tuple of 2 ints
        ``[lo, hi)``: the layer's extent along the axis (0 <= lo < hi), in array indices
        (mags do not scale additional axes).
    index : int
        The axis's position in the layer's arrays.
    """

    name: str
    bounds: tuple[int, int]
    index: int

    def to_json(self) -> dict[str, Any]:
        """The JSON object webknossos 4.3.3 writes: ``{"name", "bounds", "index"}``."""
        return {"name": self.name, "bounds": [int(self.bounds[0]), int(self.bounds[1])], "index": int(self.index)}


def parse_additional_axes(value: Any, where: str) -> list[AdditionalAxis]:
    """The ``additionalAxes`` list (None or absent: none); each entry's fields checked.

    Raises `Invalid` naming the field: a name that is empty, repeated or one of c, x, y, z;
    bounds that are not two integers ``0 <= lo < hi``; an index that is not an integer >= 0.
    """
    if value is None:
        return []
    out: list[AdditionalAxis] = []
    seen: set[str] = set()
    for i, entry in enumerate(as_list(value, where)):
        here = at(where, i)
        obj = as_object(entry, here)
        name = as_string(required(obj, "name", here), at(here, "name"))
        if name in CXYZ or name == "channel":
            raise Invalid(at(here, "name"), f"{show(name)} clashes with the axes c, x, y, z of every layer")
        if name in seen:
            raise Invalid(at(here, "name"), f"axis {show(name)} is listed twice")
        seen.add(name)
        bounds = required(obj, "bounds", here)
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise Invalid(at(here, "bounds"), f"expected [lo, hi], got {show(bounds)}")
        lo = as_integer(bounds[0], at(at(here, "bounds"), 0), 0)
        hi = as_integer(bounds[1], at(at(here, "bounds"), 1), 0)
        if lo >= hi:
            raise Invalid(at(here, "bounds"), f"[{lo}, {hi}) is empty: lo must be below hi")
        if hi > MAX_BOUND:
            raise Invalid(at(here, "bounds"), f"[{lo}, {hi}) ends beyond {MAX_BOUND}")
        index = as_integer(required(obj, "index", here), at(here, "index"), 0)
        out.append(AdditionalAxis(name, (lo, hi), index))
    return out


def layer_axis_order(axis_order: dict[str, int] | None, has_additional_axes: bool) -> dict[str, int]:
    """The layer's ``axisOrder`` as webknossos 4.3.3 writes it back: a missing one, and for a
    layer without additional axes the order without c, become ``{"c": 0, "x": 1, "y": 2, "z": 3}``."""
    if axis_order is None or (not has_additional_axes and axis_order == AXIS_ORDER_WITHOUT_C):
        return dict(DEFAULT_AXIS_ORDER)
    return dict(axis_order)


def check_axes(axis_order: dict[str, int], additional: list[AdditionalAxis], where: str) -> None:
    """Refuse an n-d layer whose axes do not fit together: ``axisOrder`` must give x, y, z
    (and maybe c) and nothing else, and the indices of all axes must be 0, 1, ..., n-1.

    Layers without additional axes are not checked here (webknossos reads any axisOrder).
    Raises `Invalid` naming the field.
    """
    if not additional:
        return
    names = set(axis_order)
    if not {"x", "y", "z"} <= names or not names <= set(CXYZ):
        raise Invalid(at(where, "mags"), f"axisOrder {show(axis_order)} must name x, y, z (and maybe c), "
                                         "and only them, in a layer with additionalAxes")
    taken = {index: name for name, index in axis_order.items()}
    if len(taken) != len(axis_order):
        raise Invalid(at(where, "mags"), f"axisOrder {show(axis_order)} gives two axes one index")
    for i, axis in enumerate(additional):
        if axis.index in taken:
            raise Invalid(at(at(at(where, "additionalAxes"), i), "index"),
                          f"{axis.index} is the index of axis {show(taken[axis.index])} already")
        taken[axis.index] = axis.name
    if sorted(taken) != list(range(len(taken))):
        raise Invalid(at(where, "additionalAxes"), f"the axes' indices {sorted(taken)} are not 0 to {len(taken) - 1}: "
                                                   "each array axis needs exactly one")


def array_axes(axis_order: dict[str, int], additional: list[AdditionalAxis]) -> tuple[str, ...] | None:
    """The layer's axis names in array order (e.g. ``("t", "x", "y", "z")``), or None for
    layers without additional axes (whose arrays name their own axes)."""
    if not additional:
        return None
    where = {**axis_order, **{a.name: a.index for a in additional}}
    return tuple(sorted(where, key=where.__getitem__))


def nd_layer_box(box: BoundingBox, num_channels: int, axis_order: dict[str, int],
                 additional: list[AdditionalAxis]) -> NDBoundingBox:
    """The box of an n-d layer as webknossos 4.3.3's ``Layer.bounding_box`` gives it: an
    `NDBoundingBox` over the layer's axes in array order (``c`` only if ``axisOrder``
    has it, spanning the channels), x, y, z from `box`, the additional axes' bounds."""
    from wkpy.geometry import NDBoundingBox

    spans = {"c": (0, num_channels), "x": (box.topleft.x, box.size.x), "y": (box.topleft.y, box.size.y),
             "z": (box.topleft.z, box.size.z)}
    spans.update({a.name: (a.bounds[0], a.bounds[1] - a.bounds[0]) for a in additional})
    where = {**axis_order, **{a.name: a.index for a in additional}}
    axes = tuple(sorted(where, key=where.__getitem__))
    return NDBoundingBox(tuple(spans[a][0] for a in axes), tuple(spans[a][1] for a in axes), axes,
                         tuple(where[a] for a in axes))


def split_nd_box(box: NDBoundingBox, where: str) -> tuple[BoundingBox, dict[str, int], list[AdditionalAxis]]:
    """An n-d layer's `box` (any `NDBoundingBox` with x, y, z and other axes) as its
    properties keep it, as webknossos 4.3.3 writes them: the 3-D ``boundingBox``, the
    ``axisOrder`` (the indices of c -- if the box has it -- x, y, z) and ``additionalAxes``
    (the other axes with their bounds and indices).

    Raises `Invalid` naming `where` for a box without x, y or z, and for other axes that
    ``additionalAxes`` cannot hold (as `parse_additional_axes` reads it back): named
    ``channel``, starting below 0, empty, or ending beyond `MAX_BOUND`. webknossos 4.3.3
    writes such layers; wkpy refuses them here rather than write properties it refuses
    to open.
    """
    from wkpy.geometry import BoundingBox

    if not {"x", "y", "z"} <= set(box.axes):
        raise Invalid(where, f"{box} lacks an x, y or z axis")
    order = {a: int(i) for a, i in zip(box.axes, box.index) if a in CXYZ}
    additional = [AdditionalAxis(a, (int(t), int(t) + int(s)), int(i))
                  for a, t, s, i in zip(box.axes, box.topleft, box.size, box.index) if a not in CXYZ]
    parse_additional_axes([a.to_json() for a in additional], at(where, "additionalAxes"))
    return BoundingBox(box.topleft_xyz, box.size_xyz), order, additional
