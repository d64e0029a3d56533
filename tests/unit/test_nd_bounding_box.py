"""NDBoundingBox, NormalizedBoundingBox and BoundingBox as the 3-D NDBoundingBox.

Each property is checked against a tiny model (a box is one half-open interval per
named axis) and, in the same test, against webknossos 4.3.3's classes: the same
calls must give the same axes, index, bounds, reprs and JSON.
"""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from itertools import product

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import Raised
from wkpy.errors import InvalidRequestError, MissingAxisError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Int, VecInt
from wkpy.geometry.nd_bounding_box import derive_nd_bounding_box_from_shape
from wkpy.geometry.normalized_bounding_box import _DEFAULT_AXIS_ORDER

with warnings.catch_warnings():  # webknossos warns about optional image readers on import
    warnings.simplefilter("ignore")
    import webknossos.geometry as wkg
    from webknossos.geometry.nd_bounding_box import derive_nd_bounding_box_from_shape as wk_derive

SETTINGS = settings(deadline=None, database=None, max_examples=120)

AXIS_NAMES = ("x", "y", "z", "t", "s", "c")
coords = st.integers(-40, 40)
extents = st.integers(-15, 30)


@st.composite
def nd_args(draw, min_axes: int = 1, max_axes: int = 5, axes_from: tuple[str, ...] = AXIS_NAMES):
    """(topleft, size, axes, index): index a permutation of 0..n-1 (or None)."""
    axes = tuple(draw(st.lists(st.sampled_from(axes_from), min_size=min_axes, max_size=max_axes, unique=True)))
    n = len(axes)
    topleft = tuple(draw(st.lists(coords, min_size=n, max_size=n)))
    size = tuple(draw(st.lists(extents, min_size=n, max_size=n)))
    index = draw(st.one_of(st.none(), st.permutations(range(n)).map(tuple)))
    return topleft, size, axes, index


def both(args):
    """The same box built by wkpy and by webknossos."""
    topleft, size, axes, index = args
    return NDBoundingBox(topleft, size, axes, index), wkg.NDBoundingBox(topleft, size, axes, index)


def state(box) -> tuple:
    """Comparable state of our box or a webknossos box (any class)."""
    return (type(box).__name__, tuple(box.axes), tuple(box.index), tuple(box.topleft), tuple(box.size),
            tuple(box.bottomright))  # fmt: skip


def outcome(fn):
    """`fn()` as comparable state, or `Raised` for the error it raised."""
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - the error's classes are the result
        return Raised(exc)
    if isinstance(result, (NDBoundingBox, wkg.NDBoundingBox)):
        return state(result)
    if isinstance(result, (VecInt, wkg.VecInt)):
        return (tuple(result), tuple(result.axes))
    return result


def model(args) -> dict[str, tuple[int, int]]:
    """The model of a box: axis name -> half-open interval [lo, hi)."""
    topleft, size, axes, _ = args
    return {a: (min(t, t + s), max(t, t + s)) for a, t, s in zip(axes, topleft, size)}


def as_model(box) -> dict[str, tuple[int, int]]:
    return {a: box.get_bounds(a) for a in box.axes}


# ---- construction ---------------------------------------------------------------------


@SETTINGS
@given(nd_args())
def test_construction_matches_model_and_webknossos(args) -> None:
    ours, theirs = both(args)
    assert as_model(ours) == model(args)
    assert state(ours) == state(theirs)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert ours.ndim == theirs.ndim == len(ours)
    assert ours.topleft_xyz == theirs.topleft_xyz and ours.size_xyz == theirs.size_xyz
    assert ours.bottomright_xyz == theirs.bottomright_xyz and ours.index_xyz == theirs.index_xyz
    assert type(ours.topleft) is VecInt and ours.topleft.axes == ours.axes == ours.size.axes
    assert ours.is_empty() == theirs.is_empty() and ours.volume() == theirs.volume()
    assert ours.volume() == math.prod(hi - lo for lo, hi in model(args).values())
    assert ours.to_slices() == theirs.to_slices()
    assert ours.to_checkpoint_name() == theirs.to_checkpoint_name()
    assert ours.to_config_dict() == theirs.to_config_dict()
    for axis in ours.axes:
        assert ours.get_shape(axis) == theirs.get_shape(axis) and ours.get_bounds(axis) == theirs.get_bounds(axis)


def test_index_orders_the_axes() -> None:
    box = NDBoundingBox((1, 2, 3, 4), (5, 6, 7, 8), ("t", "x", "y", "z"), (3, 0, 1, 2))
    assert box.axes == ("x", "y", "z", "t") and box.index == (0, 1, 2, 3)
    assert box.topleft == (2, 3, 4, 1) and box.topleft.axes == box.axes
    assert repr(box) == "NDBoundingBox(topleft=(2, 3, 4, 1), size=(6, 7, 8, 5), axes={'x': 0, 'y': 1, 'z': 2, 't': 3})"
    # a string gives one axis per character, as in webknossos
    assert NDBoundingBox((0, 0), (1, 2), "xy").axes == ("x", "y")


@pytest.mark.parametrize("bad", [
    lambda: NDBoundingBox((0, 0), (1, 2, 3), ("x", "y")),
    lambda: NDBoundingBox((0, 0), (1, 2), ("x", "y"), (0, 1, 2)),
    lambda: NDBoundingBox((0, 0), (1, 2), ("x", "x")),
    lambda: NDBoundingBox((0, 0.5), (1, 2), ("x", "y")),
    lambda: NDBoundingBox("0,0", (1, 2), ("x", "y")),
    lambda: NDBoundingBox((0, 0), (1, 2), (1, 2)),
])
def test_bad_construction_raises_typed_errors(bad) -> None:
    with pytest.raises(InvalidRequestError) as info:
        bad()
    assert isinstance(info.value, (AssertionError, ValueError))


def test_missing_axis_is_a_key_error() -> None:
    box = NDBoundingBox((0, 0, 0, 0), (1, 2, 3, 4), ("x", "y", "z", "t"))
    theirs = wkg.NDBoundingBox((0, 0, 0, 0), (1, 2, 3, 4), ("x", "y", "z", "t"))
    for call in (lambda b: b.get_bounds("q"), lambda b: b.get_shape("q"), lambda b: b.with_bounds("q", 1)):
        with pytest.raises(KeyError):
            call(theirs)
        with pytest.raises(MissingAxisError):
            call(box)


def test_immutable_copyable_picklable_and_labelled() -> None:
    box = NDBoundingBox((0, 1, 2, 3), (4, 5, 6, 7), ("x", "y", "z", "t"), name="cells", color=(1, 0, 0, 1))
    with pytest.raises(AttributeError):
        box.topleft = VecInt(x=1, y=1, z=1, t=1)  # type: ignore[misc]
    assert copy.copy(box) is box and copy.deepcopy(box) is box
    back = pickle.loads(pickle.dumps(box))
    assert state(back) == state(box) and back.name == "cells" and back.color == (1, 0, 0, 1)
    theirs = wkg.NDBoundingBox((0, 1, 2, 3), (4, 5, 6, 7), ("x", "y", "z", "t"), name="cells", color=(1, 0, 0, 1))
    for ours_b, theirs_b in [(box, theirs), (box.with_name("a"), theirs.with_name("a")),
                             (box.with_is_visible(False), theirs.with_is_visible(False)),
                             (box.with_color(None), theirs.with_color(None))]:  # fmt: skip
        assert (ours_b.name, ours_b.is_visible, ours_b.color) == (theirs_b.name, theirs_b.is_visible, theirs_b.color)
    # labels survive derived boxes, are not part of equality, and chunks of a BoundingBox drop them
    assert box.offset((1, 1, 1)).name == "cells" and box.with_name("other") == box
    bbox = BoundingBox((0, 0, 0), (4, 4, 4), name="roi", is_visible=False)
    assert bbox.intersected_with(BoundingBox((1, 1, 1), (9, 9, 9))).name == "roi"
    assert pickle.loads(pickle.dumps(bbox)).is_visible is False
    assert {c.name for c in bbox.chunk((2, 2, 2))} == {wkg.BoundingBox((0, 0, 0), (1, 1, 1)).name}
    assert bbox == BoundingBox((0, 0, 0), (4, 4, 4)) and hash(bbox) == hash(BoundingBox((0, 0, 0), (4, 4, 4)))


# ---- derived boxes against the model --------------------------------------------------


def model_intersection(a: dict, b: dict) -> dict:
    out = {}
    for axis, (lo, hi) in a.items():
        lo2, hi2 = b[axis]
        start = max(lo, lo2)
        out[axis] = (start, max(min(hi, hi2), start))
    return out


@SETTINGS
@given(nd_args(), st.data())
def test_intersection_and_union_match_model_and_webknossos(args, data) -> None:
    _, _, axes, index = args
    n = len(axes)
    other = (tuple(data.draw(st.lists(coords, min_size=n, max_size=n))),
             tuple(data.draw(st.lists(extents, min_size=n, max_size=n))), axes, index)  # fmt: skip
    (a, wa), (b, wb) = both(args), both(other)
    inter = a.intersected_with(b, dont_assert=True)
    assert as_model(inter) == model_intersection(model(args), model(other))
    assert state(inter) == state(wa.intersected_with(wb, dont_assert=True))
    assert outcome(lambda: a.intersected_with(b)) == outcome(lambda: wa.intersected_with(wb))
    union = a.extended_by(b)
    assert state(union) == state(wa.extended_by(wb))
    if not a.is_empty() and not b.is_empty():
        assert as_model(union) == {x: (min(model(args)[x][0], model(other)[x][0]),
                                       max(model(args)[x][1], model(other)[x][1])) for x in axes}  # fmt: skip
    assert a.contains_bbox(b) == wa.contains_bbox(wb)
    assert (a == b) == (wa == wb)
    if a == b:
        assert hash(a) == hash(b)


@SETTINGS
@given(nd_args(), st.data())
def test_points_match_model_and_webknossos(args, data) -> None:
    ours, theirs = both(args)
    point = tuple(data.draw(st.lists(st.integers(-60, 80), min_size=len(ours.axes), max_size=len(ours.axes))))
    inside = all(ours.get_bounds(a)[0] <= p < ours.get_bounds(a)[1] for a, p in zip(ours.axes, point))
    assert ours.contains(point) == theirs.contains(point) == inside
    assert ours.contains(VecInt(point, axes=ours.axes)) == inside
    assert ours.contains(np.array(point) + 0.5) == theirs.contains(np.array(point) + 0.5)
    with pytest.raises(InvalidRequestError):
        ours.contains(np.zeros(len(ours.axes) + 1))


@SETTINGS
@given(nd_args(), st.data())
def test_derived_boxes_match_webknossos(args, data) -> None:
    ours, theirs = both(args)
    n = len(ours.axes)
    vec_n = tuple(data.draw(st.lists(coords, min_size=n, max_size=n)))
    vec3 = data.draw(st.tuples(coords, coords, coords))
    small3 = data.draw(st.tuples(*[st.integers(-10, 10)] * 3))
    axis = data.draw(st.sampled_from(ours.axes))
    start, length = data.draw(st.one_of(st.none(), coords)), data.draw(st.one_of(st.none(), extents))
    calls = [
        lambda b: b.with_topleft(vec_n),
        lambda b: b.with_size(vec_n),
        lambda b: b.with_bottomright(vec_n),
        lambda b: b.with_topleft_xyz(vec3),
        lambda b: b.with_size_xyz(small3),
        lambda b: b.with_bottomright_xyz(vec3),
        lambda b: b.with_bounds(axis, start, length),
        lambda b: b.offset(vec3),
        lambda b: b.padded_with_margins(small3),
        lambda b: b.padded_with_margins(small3, vec3),
        lambda b: b.normalize_axes(1),
        lambda b: b.normalize_axes(3),
        lambda b: b.denormalize(),
    ]
    if n != 3:  # webknossos reads three values as x, y, z
        calls.append(lambda b: b.offset(vec_n))
    for call in calls:
        assert outcome(lambda: call(ours)) == outcome(lambda: call(theirs))
    if start is not None and length is not None:
        assert ours.with_bounds(axis, start, length).get_bounds(axis) == (min(start, start + length),
                                                                          max(start, start + length))  # fmt: skip


@SETTINGS
@given(nd_args(), st.permutations(range(5)))
def test_with_index_reorders_like_webknossos(args, perm) -> None:
    ours, theirs = both(args)
    new_index = tuple(p for p in perm if p < len(ours.axes))
    assert state(ours.with_index(new_index)) == state(theirs.with_index(new_index))
    assert outcome(lambda: ours.with_index_xyz((5, 4, 3))) == outcome(lambda: theirs.with_index_xyz((5, 4, 3)))


mags = st.tuples(*[st.integers(0, 4)] * 3).map(lambda e: tuple(2**i for i in e))


@SETTINGS
@given(nd_args(), mags, st.booleans())
def test_mag_operations_match_model_and_webknossos(args, mag, ceil) -> None:
    ours, theirs = both(args)
    aligned = ours.align_with_mag(Mag(mag), ceil)
    assert state(aligned) == state(theirs.align_with_mag(wkg.Mag(mag), ceil))
    assert state(aligned) == state(ours._align_with_mag_slow(Mag(mag), ceil))
    for axis, factor in zip("xyz", mag):
        if axis in ours.axes:
            assert all(v % factor == 0 for v in aligned.get_bounds(axis))
    for axis in set(ours.axes) - set("xyz"):
        assert aligned.get_bounds(axis) == ours.get_bounds(axis)
    assert outcome(lambda: ours.in_mag(Mag(mag))) == outcome(lambda: theirs.in_mag(wkg.Mag(mag)))
    assert state(ours.from_mag_to_mag1(Mag(mag))) == state(theirs.from_mag_to_mag1(wkg.Mag(mag)))
    ceiled = ours.align_with_mag(Mag(mag), ceil=True)
    assert state(ceiled.in_mag(Mag(mag)).from_mag_to_mag1(Mag(mag))) == state(ceiled)


# ---- chunking ---------------------------------------------------------------------------


@st.composite
def chunk_args(draw):
    topleft, size, axes, index = draw(nd_args(max_axes=4))
    size = tuple(abs(s) % 9 for s in size)  # small boxes: webknossos chunks slowly
    assume(not ("c" in axes and size[axes.index("c")] == 0))  # webknossos divides by it
    n = len(axes)
    per_axis = draw(st.booleans())
    step = tuple(draw(st.lists(st.integers(1, 5), min_size=3 if not per_axis else n, max_size=3 if not per_axis else n)))
    align = draw(st.one_of(st.none(), st.just("divisor")))
    return (topleft, size, axes, index), step, align


@settings(SETTINGS, max_examples=80)
@given(chunk_args(), st.integers(1, 3))
def test_chunk_tiles_the_box_like_webknossos(case, divisor_seed) -> None:
    args, step, align = case
    ours, theirs = both(args)
    alignment = None
    if align is not None:
        alignment = tuple(max(1, s // (1 + divisor_seed % 2)) if s % max(1, s // (1 + divisor_seed % 2)) == 0 else s
                          for s in step)  # fmt: skip
    chunks = list(ours.chunk(step, alignment))
    if ours.is_empty():
        # an empty box has no chunks (webknossos may yield an aligned cell and then
        # fail on its empty intersection)
        assert chunks == []
        return
    assert [state(c) for c in chunks] == [state(c) for c in theirs.chunk(step, alignment)]
    # the model: chunks are inside, disjoint and cover the box
    assert sum(c.volume() for c in chunks) == ours.volume()
    for c in chunks:
        assert ours.contains_bbox(c) and not c.is_empty()
    cells = [set(product(*(range(*c.get_bounds(a)) for a in c.axes))) for c in chunks]
    assert len(set().union(*cells)) == sum(len(x) for x in cells)


def test_chunk_examples_and_errors() -> None:
    box = NDBoundingBox((0, 0, 0, 0, 2), (2, 4, 4, 4, 2), ("c", "x", "y", "z", "t"))
    chunks = list(box.chunk((2, 2, 4)))
    # three values chunk x, y, z: the whole channel axis, one step along t
    assert [c.get_bounds("c") for c in chunks] == [(0, 2)] * 8
    assert {c.get_bounds("t") for c in chunks} == {(2, 3), (3, 4)}
    with pytest.raises(InvalidRequestError):
        box.chunk((2, 2))
    with pytest.raises(InvalidRequestError):
        box.chunk((0, 2, 2))
    with pytest.raises(InvalidRequestError, match="not divisible"):
        box.chunk((2, 2, 2), (3, 3, 3))


# ---- BoundingBox is the 3-D NDBoundingBox ---------------------------------------------------


@SETTINGS
@given(nd_args(min_axes=3, max_axes=3, axes_from=("x", "y", "z")).filter(lambda a: a[2] == ("x", "y", "z")))
def test_bounding_box_is_an_nd_bounding_box(args) -> None:
    topleft, size, _, _ = args
    ours, theirs = BoundingBox(topleft, size), wkg.BoundingBox(topleft, size)
    nd = NDBoundingBox(topleft, size, ("x", "y", "z"))
    assert isinstance(ours, NDBoundingBox) and isinstance(theirs, wkg.NDBoundingBox)
    assert state(ours) == state(theirs) and ours.ndim == 3 and ours.index == (1, 2, 3)
    assert type(ours.topleft) is Vec3Int and ours.index_xyz == theirs.index_xyz
    assert ours == nd and nd == ours and hash(ours) == hash(nd)
    assert outcome(lambda: ours.intersected_with(nd, dont_assert=True)) == outcome(
        lambda: theirs.intersected_with(wkg.NDBoundingBox(topleft, size, ("x", "y", "z")), dont_assert=True))
    assert state(BoundingBox.from_ndbbox(nd)) == state(wkg.BoundingBox.from_ndbbox(wkg.NDBoundingBox(
        topleft, size, ("x", "y", "z"))))  # fmt: skip
    normalized = ours.normalize_axes(2)
    assert state(normalized) == state(theirs.normalize_axes(2)) and repr(normalized) == repr(theirs.normalize_axes(2))
    assert state(normalized.denormalize()) == state(ours)
    assert ours.xyz_array_to_bbox_shape(np.zeros((1, 2, 3))).shape == (1, 2, 3)


def test_bounding_box_and_other_axes() -> None:
    box = BoundingBox((0, 0, 0), (4, 4, 4))
    txyz = NDBoundingBox((0, 0, 0, 0), (1, 4, 4, 4), ("t", "x", "y", "z"))
    theirs_box, theirs_txyz = wkg.BoundingBox((0, 0, 0), (4, 4, 4)), wkg.NDBoundingBox(
        (0, 0, 0, 0), (1, 4, 4, 4), ("t", "x", "y", "z"))  # fmt: skip
    for call in (lambda a, b: a == b, lambda a, b: a.intersected_with(b), lambda a, b: a.extended_by(b),
                 lambda a, b: a.contains_bbox(b)):  # fmt: skip
        with pytest.raises(ValueError):
            call(theirs_box, theirs_txyz)
        with pytest.raises(InvalidRequestError):
            call(box, txyz)
    with pytest.raises(InvalidRequestError):
        BoundingBox((0, 0, 0), (1, 1, 1), axes=("z", "y", "x"))
    with pytest.raises(InvalidRequestError):
        box.with_index((3, 2, 1))  # a BoundingBox keeps x, y, z
    assert BoundingBox.from_axes(("x", "y", "z"), (1, 2, 3)) == BoundingBox((0, 0, 0), (1, 2, 3))


# ---- NormalizedBoundingBox and the properties JSON -------------------------------------------


@SETTINGS
@given(st.tuples(coords, coords, coords), st.tuples(*[st.integers(0, 30)] * 3), st.integers(1, 4))
def test_bounding_box_and_normalized_box_combine_like_webknossos(topleft, size, channels) -> None:
    ours, theirs = BoundingBox(topleft, size), wkg.BoundingBox(topleft, size)
    other_ours, other_theirs = BoundingBox((0, 0, 0), (10, 10, 10)), wkg.BoundingBox((0, 0, 0), (10, 10, 10))
    norm_ours, norm_theirs = other_ours.normalize_axes(channels), other_theirs.normalize_axes(channels)
    for call in (lambda a, b: a.intersected_with(b, dont_assert=True), lambda a, b: a.extended_by(b),
                 lambda a, b: a.contains_bbox(b), lambda a, b: a == b):  # fmt: skip
        assert outcome(lambda: call(ours, norm_ours)) == outcome(lambda: call(theirs, norm_theirs))
        assert outcome(lambda: call(norm_ours, ours)) == outcome(lambda: call(norm_theirs, theirs))


def test_normalized_box_with_extra_axes_is_never_equal_to_a_bounding_box() -> None:
    # webknossos means False here (its comment says so) but raises ValueError on the way
    box = NormalizedBoundingBox((0, 0, 0, 0, 0), (1, 4, 4, 4, 2), ("c", "x", "y", "z", "t"))
    assert box != BoundingBox((0, 0, 0), (4, 4, 4))
    assert not box == BoundingBox((0, 0, 0), (4, 4, 4))  # noqa: SIM201


wkw_dicts = st.fixed_dictionaries(
    {"topLeft": st.lists(coords, min_size=3, max_size=3), "width": st.integers(0, 30),
     "height": st.integers(0, 30), "depth": st.integers(0, 30)},
    optional={
        "numChannels": st.integers(1, 4),
        "channelIndex": st.integers(0, 3),
        "axisOrder": st.sampled_from([dict(_DEFAULT_AXIS_ORDER), {"x": 1, "y": 2, "z": 3}, {"x": 2, "y": 1, "z": 0},
                                      {"c": 3, "z": 0, "y": 1, "x": 2}, {"c": 0, "x": 1, "y": 2, "z": 3, "t": 4}]),
        "additionalAxes": st.lists(st.tuples(st.sampled_from(["t", "s"]), coords, st.integers(0, 9)),
                                   max_size=2, unique_by=lambda a: a[0]),
    },
)  # fmt: skip


def _finish(d: dict) -> dict:
    """Give the extra axes indices after c, x, y, z, and axisOrder entries for them."""
    extra = d.pop("additionalAxes", [])
    if extra:
        d["additionalAxes"] = [{"name": n, "bounds": [lo, lo + s], "index": 4 + i} for i, (n, lo, s) in enumerate(extra)]
        d.setdefault("axisOrder", dict(_DEFAULT_AXIS_ORDER))
        d["axisOrder"] = {**{k: v for k, v in d["axisOrder"].items() if k in "cxyz"},
                          **{a["name"]: a["index"] for a in d["additionalAxes"]}}  # fmt: skip
    elif "t" in d.get("axisOrder", {}):
        d["axisOrder"] = {k: v for k, v in d["axisOrder"].items() if k != "t"}
    return d


@SETTINGS
@given(wkw_dicts.map(_finish))
def test_wkw_dict_round_trips_like_webknossos(d) -> None:
    ours = NormalizedBoundingBox.from_wkw_dict(copy.deepcopy(d))
    theirs = wkg.NormalizedBoundingBox.from_wkw_dict(copy.deepcopy(d))
    assert state(ours) == state(theirs) and isinstance(ours, NormalizedBoundingBox)
    try:
        their_json = theirs.to_wkw_dict()
    except IndexError:
        # webknossos looks values up by index instead of position and fails when the
        # index is not 0, 1, 2, ... (e.g. c dropped by an axisOrder without it); wkpy
        # writes the values at their positions
        assert tuple(ours.index) != tuple(range(len(ours.axes)))
        their_json = None
    if their_json is not None:
        assert ours.to_wkw_dict() == their_json
        assert list(ours.to_wkw_dict()) == list(their_json)  # the key order too
        again = NormalizedBoundingBox.from_wkw_dict(ours.to_wkw_dict())
        assert state(again) == state(wkg.NormalizedBoundingBox.from_wkw_dict(their_json))
        if ours.axes[0] == "c" or "c" not in ours.axes:
            assert state(again) == state(ours)
    assert state(ours.denormalize()) == state(theirs.denormalize())
    assert outcome(lambda: BoundingBox.from_auto(copy.deepcopy(d))) == outcome(
        lambda: wkg.BoundingBox.from_auto(copy.deepcopy(d)))


def test_wkw_dict_examples_and_errors() -> None:
    timed = {"topLeft": [0, 0, 0], "width": 8, "height": 8, "depth": 8, "numChannels": 1,
             "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3, "t": 4},
             "additionalAxes": [{"name": "t", "bounds": [2, 7], "index": 4}]}  # fmt: skip
    box = NormalizedBoundingBox.from_wkw_dict(timed)
    assert box.axes == ("c", "x", "y", "z", "t") and box.get_bounds("t") == (2, 7)
    assert box.to_wkw_dict() == {"topLeft": [0, 0, 0], "width": 8, "height": 8, "depth": 8,
                                 "additionalAxes": [{"name": "t", "bounds": [2, 7], "index": 4}],
                                 "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3}, "numChannels": 1}  # fmt: skip
    # the returned axisOrder is a copy: changing it does not change later results
    plain = BoundingBox((0, 0, 0), (1, 1, 1)).normalize_axes(1).to_wkw_dict()
    plain["axisOrder"]["c"] = 7
    assert _DEFAULT_AXIS_ORDER == {"c": 0, "x": 1, "y": 2, "z": 3}
    bad = [
        {"topLeft": [0, 0, 0], "width": 1, "height": 1},  # no depth
        {**timed, "axisOrder": None},  # extra axes need an axis order
        {"topLeft": [0, 0, 0], "width": 1, "height": 1, "depth": 1, "axisOrder": {"q": 0}},
        {"topLeft": [0, 0], "width": 1, "height": 1, "depth": 1},
        {**timed, "additionalAxes": [{"name": "t", "index": 4}]},
    ]
    for d in bad:
        with pytest.raises(InvalidRequestError):
            NormalizedBoundingBox.from_wkw_dict(d)


# ---- helpers shared with webknossos -------------------------------------------------------


@pytest.mark.parametrize("shape, axes, offset", [
    ((5,), None, None), ((5, 6), None, None), ((5, 6, 7), None, (1, 2, 3)), ((2, 5, 6, 7), None, None),
    ((2, 5, 6, 7, 3), ("c", "x", "y", "z", "t"), None), ((4, 5, 6, 2), ("x", "y", "z", "t"), (1, 1, 1, 1)),
])  # fmt: skip
def test_derive_nd_bounding_box_from_shape_matches_webknossos(shape, axes, offset) -> None:
    ours, channels = derive_nd_bounding_box_from_shape(shape, axes=axes, absolute_offset=offset)
    theirs, their_channels = wk_derive(shape, axes=axes, absolute_offset=offset)
    assert state(ours) == state(theirs) and channels == their_channels
    for bad_shape, bad_axes in [((), None), ((1, 2, 3, 4, 5), None), ((1, 2), ("x", "y", "z"))]:
        with pytest.raises(InvalidRequestError):
            derive_nd_bounding_box_from_shape(bad_shape, axes=bad_axes)


def test_xyz_views_of_flat_boxes_match_webknossos() -> None:
    args = ((1, 2, 3, 4, 0), (1, 5, 6, 7, 2), ("t", "z", "y", "x", "c"))
    ours, theirs = NDBoundingBox(*args), wkg.NDBoundingBox(*args)
    data = np.arange(7 * 6 * 5).reshape(7, 6, 5)
    for call in (lambda b: b.xyz_array_to_bbox_shape(data), lambda b: b.to_slices_xyz()):
        with pytest.raises(AssertionError):
            call(theirs)
        with pytest.raises(InvalidRequestError):
            call(ours)  # thicker than one along c
    flat = ours.with_bounds("c", 0, 1)
    assert flat.to_slices_xyz() == theirs.with_bounds("c", 0, 1).to_slices_xyz()
    assert np.array_equal(flat.xyz_array_to_bbox_shape(data), theirs.with_bounds("c", 0, 1).xyz_array_to_bbox_shape(data))
    array = np.zeros((12, 12, 12, 12, 12))
    assert flat.slice_array(array).shape == tuple(flat.size)


def test_group_boxes_with_aligned_mag_on_nd_boxes() -> None:
    axes = ("x", "y", "z", "t")
    boxes = [NDBoundingBox((x, 0, 0, 1), (3, 3, 3, 1), axes) for x in range(0, 12, 3)]
    groups = NDBoundingBox.group_boxes_with_aligned_mag(boxes, Mag(4))
    theirs = wkg.NDBoundingBox.group_boxes_with_aligned_mag(
        [wkg.NDBoundingBox((x, 0, 0, 1), (3, 3, 3, 1), axes) for x in range(0, 12, 3)], wkg.Mag(4))
    assert sorted((state(k), [state(b) for b in v]) for k, v in groups.items()) == sorted(
        (state(k), [state(b) for b in v]) for k, v in theirs.items())
    assert state(NDBoundingBox.from_axes(axes, (1, 2, 3, 4))) == state(wkg.NDBoundingBox.from_axes(axes, (1, 2, 3, 4)))
