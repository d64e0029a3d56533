"""`NormalizedBoundingBox`: a layer's box with its channel axis, and its JSON form.

A layer's ``boundingBox`` in ``datasource-properties.json`` holds x, y and z only;
the channel count, the axis order and any further axes (``additionalAxes``, e.g. time)
sit beside it. `NormalizedBoundingBox.from_wkw_dict` and `to_wkw_dict` translate between
that JSON and one box over all axes (``c`` first by default), as webknossos 4.3.3 does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from wkpy.errors import InvalidRequestError

from .constants import C_AXIS, CXYZ_AXES, X_AXIS, XYZ_AXES, Y_AXIS, Z_AXIS
from .nd_bounding_box import NDBoundingBox, _int_tuple

__all__ = ["NormalizedBoundingBox"]

_DEFAULT_AXIS_ORDER: dict[str, int] = {C_AXIS: 0, X_AXIS: 1, Y_AXIS: 2, Z_AXIS: 3}
_DEFAULT_AXIS_ORDER_MISSING_C: dict[str, int] = {X_AXIS: 1, Y_AXIS: 2, Z_AXIS: 3}


class _Axis(NamedTuple):
    name: str
    min: int
    size: int
    order: int  # the axis' index


def _field(bbox: dict[str, Any], key: str, where: str = "bounding box") -> Any:
    try:
        return bbox[key]
    except KeyError:
        raise InvalidRequestError(f"{where}: missing field {key!r} in {bbox!r}") from None


def _integer(value: Any, where: str) -> int:
    return _int_tuple((value,), where)[0]


class NormalizedBoundingBox(NDBoundingBox):
    """An `NDBoundingBox` whose axes include the channel axis ``c`` (normally
    ``c, x, y, z`` and any extra axes): the form a layer's box takes in its properties.

    With a `BoundingBox`, equality, `intersected_with`, `extended_by` and
    `contains_bbox` look at x, y and z only, as in webknossos 4.3.3; results keep this
    box's channel count.
    """

    __slots__ = ()

    def denormalize(self) -> NDBoundingBox:
        """A `BoundingBox` for axes ``c, x, y, z``; otherwise an `NDBoundingBox` over the same axes."""
        name, is_visible, color = self.name, self.is_visible, self.color
        if self.axes == CXYZ_AXES:
            from .bounding_box import BoundingBox

            return BoundingBox(self.topleft_xyz, self.size_xyz, name=name, is_visible=is_visible, color=color)
        return NDBoundingBox(self.topleft, self.size, self.axes, self.index, name, is_visible, color)

    def _as_3d(self, other: NDBoundingBox) -> NDBoundingBox | None:
        """This box without ``c`` when `other` is a `BoundingBox` and the axes allow it."""
        from .bounding_box import BoundingBox

        if isinstance(other, BoundingBox) and self.axes == CXYZ_AXES:
            return self.denormalize()
        return None

    def __eq__(self, other: object) -> bool:
        """Compares x, y and z with a `BoundingBox` (False unless the axes are
        ``c, x, y, z``), otherwise like `NDBoundingBox`."""
        from .bounding_box import BoundingBox

        if isinstance(other, BoundingBox):
            flat = self._as_3d(other)
            return flat is not None and flat == other
        return super().__eq__(other)

    __hash__ = NDBoundingBox.__hash__

    def intersected_with(self, other: NDBoundingBox, dont_assert: bool = False) -> NormalizedBoundingBox:  # type: ignore[override]
        """Overlap; with a `BoundingBox`, along x, y and z, keeping this box's channel count."""
        flat = self._as_3d(other)
        if flat is not None:
            return flat.intersected_with(other, dont_assert).normalize_axes(self.size.c)
        return super().intersected_with(other, dont_assert)  # type: ignore[arg-type]

    def extended_by(self, other: NDBoundingBox) -> NormalizedBoundingBox:  # type: ignore[override]
        """Union hull; with a `BoundingBox`, along x, y and z, keeping this box's channel count."""
        flat = self._as_3d(other)
        if flat is not None:
            return flat.extended_by(other).normalize_axes(self.size.c)
        return super().extended_by(other)  # type: ignore[arg-type]

    def contains_bbox(self, inner_bbox: NDBoundingBox) -> bool:
        """Containment; of a `BoundingBox`, along x, y and z."""
        flat = self._as_3d(inner_bbox)
        if flat is not None:
            return flat.contains_bbox(inner_bbox)
        return super().contains_bbox(inner_bbox)

    # ---- the properties JSON -------------------------------------------------------

    @classmethod
    def from_wkw_dict(cls, bbox: dict[str, Any]) -> NormalizedBoundingBox:
        """From a layer's ``boundingBox`` JSON, with the keys webknossos keeps beside it.

        Parameters
        ----------
        bbox : dict
            ``topLeft`` (x, y, z), ``width``, ``height``, ``depth``, and optionally
            ``numChannels`` (default 1), ``channelIndex`` (the first channel, default 0),
            ``axisOrder`` (``{"c": 0, "x": 1, ...}``; an axis it leaves out is dropped,
            ``c`` included) and ``additionalAxes`` (``[{"name": "t", "bounds": [0, 5],
            "index": 4}]``, which needs ``axisOrder``).

        Returns
        -------
        NormalizedBoundingBox
            Axes sorted by their index: ``c, x, y, z`` plus the extra axes by default.

        Raises
        ------
        InvalidRequestError
            A missing field, extra axes without ``axisOrder``, or an ``axisOrder`` naming
            an unknown axis (also an `AssertionError` and a `ValueError`).
        """
        if not isinstance(bbox, dict):
            raise InvalidRequestError(f"A bounding box must be a JSON object, got {bbox!r}.")
        num_channels = _integer(bbox.get("numChannels", 1), "numChannels")
        channel_index = _integer(bbox.get("channelIndex", 0), "channelIndex")
        topleft = _int_tuple(_field(bbox, "topLeft"), "topLeft")
        if len(topleft) != 3:
            raise InvalidRequestError(f"topLeft needs three values (x, y, z), got {topleft}.")
        sizes = tuple(_integer(_field(bbox, key), key) for key in ("width", "height", "depth"))
        extra = bbox.get("additionalAxes") or []
        if not isinstance(extra, list) or not all(isinstance(axis, dict) for axis in extra):
            raise InvalidRequestError(f"additionalAxes must be a list of objects, got {extra!r}.")
        order = bbox.get("axisOrder")
        if channel_index == 0 and not extra and order in (None, _DEFAULT_AXIS_ORDER, _DEFAULT_AXIS_ORDER_MISSING_C):
            from .bounding_box import BoundingBox

            return BoundingBox(topleft, sizes).normalize_axes(num_channels)

        axes = [_Axis(C_AXIS, channel_index, num_channels, 0)]
        axes += [_Axis(a, t, s, i) for i, (a, t, s) in enumerate(zip(XYZ_AXES, topleft, sizes), start=1)]
        if extra:
            if order is None:
                raise InvalidRequestError("If there are additionalAxes an axisOrder needs to be provided.")
            for n, axis in enumerate(extra):
                where = f"additionalAxes[{n}]"
                lo, hi = _int_tuple(_field(axis, "bounds", where), f"{where}.bounds")
                axis_name = _field(axis, "name", where)
                if not isinstance(axis_name, str):
                    raise InvalidRequestError(f"{where}.name must be a string, got {axis_name!r}.")
                axes.append(_Axis(axis_name, lo, hi - lo, _integer(_field(axis, "index", where), f"{where}.index")))
        if order is not None:
            if not isinstance(order, dict):
                raise InvalidRequestError(f"axisOrder must be an object, got {order!r}.")
            names = [a.name for a in axes]
            for axis_name, axis_index in order.items():
                if axis_name not in names:
                    raise InvalidRequestError(f"Axis {axis_name} of axisOrder not found in {names}")
                at = names.index(axis_name)
                axes[at] = axes[at]._replace(order=_integer(axis_index, f"axisOrder.{axis_name}"))
        kept = set(order if order is not None else _DEFAULT_AXIS_ORDER) | {a["name"] for a in extra}
        axes = sorted((a for a in axes if a.name in kept), key=lambda a: a.order)
        return cls(tuple(a.min for a in axes), tuple(a.size for a in axes),
                   tuple(a.name for a in axes), tuple(a.order for a in axes))  # fmt: skip

    def to_wkw_dict(self) -> dict[str, Any]:
        """As a layer's ``boundingBox`` JSON with ``numChannels``, ``axisOrder``,
        ``channelIndex`` and ``additionalAxes`` beside it, as webknossos 4.3.3 writes them.

        Keys: ``topLeft``, ``width``, ``height``, ``depth``, then (axes ``c, x, y, z``)
        ``numChannels``, ``axisOrder`` and ``channelIndex`` when the first channel is not
        0; for other axes ``additionalAxes`` (each with ``name``, ``bounds`` and
        ``index``), ``axisOrder`` (of ``c``, ``x``, ``y``, ``z``), ``channelIndex`` and
        ``numChannels``. An absent x, y or z is written as None.
        """
        if self.axes == CXYZ_AXES:
            c, x, y, z = self.size
            out: dict[str, Any] = {
                "topLeft": list(self.topleft[1:]), "width": x, "height": y, "depth": z,
                "numChannels": c, "axisOrder": dict(_DEFAULT_AXIS_ORDER),
            }  # fmt: skip
            if self.topleft[0] != 0:
                out["channelIndex"] = self.topleft[0]
            return out
        topleft: list[int | None] = [None, None, None]
        extent: list[int | None] = [None, None, None]
        additional = []
        for i, axis in enumerate(self.axes):
            if axis in XYZ_AXES:
                topleft[XYZ_AXES.index(axis)] = self.topleft[i]
                extent[XYZ_AXES.index(axis)] = self.size[i]
            elif axis != C_AXIS:
                additional.append({"name": axis, "bounds": [self.topleft[i], self.bottomright[i]],
                                   "index": self.index[i]})  # fmt: skip
        out = {"topLeft": topleft, "width": extent[0], "height": extent[1], "depth": extent[2]}
        if additional:
            out["additionalAxes"] = additional
        axis_order = {a: i for a, i in zip(self.axes, self.index) if a in _DEFAULT_AXIS_ORDER}
        if axis_order:
            out["axisOrder"] = axis_order
        if C_AXIS in self.axes:
            if self.topleft.c != 0:
                out["channelIndex"] = self.topleft.c
            out["numChannels"] = self.size.c
        return out
