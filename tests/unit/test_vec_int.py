"""VecInt, Vec3Int and Vec3Float against webknossos 4.3.3: the same calls on generated
vectors give the same values, axis names and result classes (or both raise)."""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Raised
from wkpy.errors import InvalidRequestError, MissingAxisError
from wkpy.geometry import Vec3Float, Vec3Int, VecInt

with warnings.catch_warnings():  # webknossos warns about optional image readers on import
    warnings.simplefilter("ignore")
    import webknossos.geometry as wkg

SETTINGS = settings(deadline=None, database=None, max_examples=150)

ints = st.integers(-1000, 1000)


@st.composite
def vectors(draw, min_size: int = 1, max_size: int = 5):
    axes = tuple(draw(st.lists(st.sampled_from("cxyzts"), min_size=min_size, max_size=max_size, unique=True)))
    return tuple(draw(st.lists(ints, min_size=len(axes), max_size=len(axes)))), axes


def result(fn):
    """`fn()` as (class name, values, axes), or `Raised` for the error it raised."""
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - the error's classes are the result
        return Raised(exc)
    if isinstance(value, (VecInt, wkg.VecInt)):
        return (type(value).__name__, tuple(value), tuple(str(a) for a in value.axes))
    return value


ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod,
              lambda a, b: a.pairmax(b), lambda a, b: a.pairmin(b)]  # fmt: skip


@SETTINGS
@given(vectors(), st.data())
def test_vec_int_arithmetic_matches_webknossos(vec, data) -> None:
    values, axes = vec
    ours, theirs = VecInt(values, axes=axes), wkg.VecInt(values, axes=axes)
    other = tuple(data.draw(st.lists(ints.filter(bool), min_size=len(values), max_size=len(values))))
    scalar = data.draw(ints.filter(bool))
    for op in ARITHMETIC:
        for arg_ours, arg_theirs in [(other, other), (scalar, scalar),
                                     (VecInt(other, axes=axes), wkg.VecInt(other, axes=axes))]:  # fmt: skip
            assert result(lambda: op(ours, arg_ours)) == result(lambda: op(theirs, arg_theirs))
    positive = tuple(abs(v) for v in other)
    assert result(lambda: ours.ceildiv(positive)) == result(lambda: theirs.ceildiv(positive))
    assert result(lambda: -ours) == result(lambda: -theirs)
    assert ours.prod() == theirs.prod() or abs(theirs.prod()) >= 2**63  # webknossos wraps at 64 bits
    for strict in (False, True):
        assert ours.is_positive(strict) == theirs.is_positive(strict)
    assert ours.is_uniform() == theirs.is_uniform() and ours.contains(scalar) == theirs.contains(scalar)
    assert ours.to_list() == theirs.to_list() and ours.to_tuple() == theirs.to_tuple()
    assert np.array_equal(ours.to_np(), theirs.to_np())
    assert repr(ours) == repr(theirs) and hash(ours) == hash(theirs)
    assert ours == theirs.to_tuple() and (ours == other) == (theirs == other)
    assert (ours < other) == (theirs < other) and (ours >= other) == (theirs >= other)
    # a shorter operand is refused by both
    if len(values) > 1:
        assert result(lambda: ours + other[1:]) == result(lambda: theirs + other[1:])


@SETTINGS
@given(vectors(), st.data())
def test_vec_int_components_match_webknossos(vec, data) -> None:
    values, axes = vec
    ours, theirs = VecInt(values, axes=axes), wkg.VecInt(values, axes=axes)
    new = data.draw(ints)
    for name in "cxyz":
        assert result(lambda: getattr(ours, name)) == result(lambda: getattr(theirs, name))
        assert result(lambda: getattr(ours, f"with_{name}")(new)) == result(lambda: getattr(theirs, f"with_{name}")(new))
    for name in ("c", "t", "q"):
        assert result(lambda: ours[name]) == result(lambda: theirs[name])
        assert result(lambda: ours.get(name)) == result(lambda: theirs.get(name))
        assert result(lambda: ours.get(name, 7)) == result(lambda: theirs.get(name, 7))
    position = data.draw(st.integers(0, len(values) - 1))
    assert result(lambda: ours.with_replaced(position, new)) == result(lambda: theirs.with_replaced(position, new))
    axis = axes[position]
    assert result(lambda: ours.with_replaced(axis, new)) == result(lambda: theirs.with_replaced(axis, new))
    assert result(lambda: ours.xyz) == result(lambda: theirs.xyz)
    xyz = (1, 2, 3)
    assert result(lambda: ours.with_xyz(Vec3Int(xyz))) == result(lambda: theirs.with_xyz(wkg.Vec3Int(xyz)))
    assert result(lambda: ours[position]) == result(lambda: theirs[position])
    assert ours[position:] == theirs[position:]
    for kind in ("zeros", "ones"):
        assert result(lambda: getattr(VecInt, kind)(axes)) == result(lambda: getattr(wkg.VecInt, kind)(axes))
    assert result(lambda: VecInt.full(new, axes)) == result(lambda: wkg.VecInt.full(new, axes))


@SETTINGS
@given(vectors(min_size=2), st.data())
def test_vec_int_moveaxis_matches_numpy(vec, data) -> None:
    values, axes = vec
    ours = VecInt(values, axes=axes)
    source = data.draw(st.integers(0, len(values) - 1))
    target = data.draw(st.integers(-len(values), len(values) - 1))
    moved = ours.moveaxis(source, target)
    order = list(np.moveaxis(np.empty(tuple(range(1, len(values) + 1))), source, target).shape)
    assert moved.to_tuple() == tuple(values[i - 1] for i in order)
    assert moved.axes == tuple(axes[i - 1] for i in order)
    # (webknossos 4.3.3's own VecInt.moveaxis fails on the numpy axis names it makes)


def test_vec_int_construction_forms_match_webknossos() -> None:
    axes = ("x", "y", "z", "t")
    forms = [
        lambda m: m.VecInt(1, 2, 3, 4, axes=axes),
        lambda m: m.VecInt((1, 2, 3, 4), axes),
        lambda m: m.VecInt([1, 2, 3, 4], axes=axes),
        lambda m: m.VecInt(np.array([1, 2, 3, 4]), axes=axes),
        lambda m: m.VecInt(x=1, y=2, z=3, t=4),
        lambda m: m.VecInt(m.VecInt(x=1, y=2, z=3, t=4), axes=("a", "b", "c", "d")),
        lambda m: m.VecInt(m.Vec3Int(1, 2, 3)),  # the vector itself, a Vec3Int
        lambda m: m.VecInt(m.Vec3Int(1, 2, 3), axes=("z", "y", "x")),
        lambda m: m.Vec3Int(m.VecInt(z=3, y=2, x=1)),  # positional, as in webknossos
        lambda m: m.Vec3Int(3, 2, 1, axes=("z", "y", "x")),
        lambda m: m.Vec3Int(z=3, y=2, x=1),
        lambda m: m.VecInt(1, 2, 3),  # no axis names
        lambda m: m.VecInt(m.VecInt(x=1, y=2), axes=("x", "y", "z")),
        lambda m: m.VecInt(np.array([1.5, 2]), axes=("x", "y")),
    ]
    import wkpy.geometry as ours

    for form in forms:
        assert result(lambda: form(ours)) == result(lambda: form(wkg))


def test_vec3_int_quirks() -> None:
    v = Vec3Int(1, 2, 3)
    assert v.get("x") == 1 and v.x == 1
    with pytest.raises(TypeError):
        v["x"]  # unlike webknossos: plain tuple indexing keeps Vec3Int fast
    with pytest.raises(MissingAxisError):
        v.c
    with pytest.raises(MissingAxisError):
        v.with_replaced("t", 1)
    assert v._is_power_of_two() is False and Vec3Int(1, 2, 4)._is_power_of_two()
    assert wkg.Vec3Int(1, 2, 4)._is_power_of_two()
    with pytest.raises(InvalidRequestError):
        VecInt(1, 2, 3)


# ---- Vec3Float ----------------------------------------------------------------------

floats = st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: abs(f) > 1e-3)


@SETTINGS
@given(st.tuples(floats, floats, floats), st.tuples(floats, floats, floats), floats)
def test_vec3_float_matches_webknossos(values, other, scalar) -> None:
    ours, theirs = Vec3Float(values), wkg.Vec3Float(values)
    for op in (operator.add, operator.sub, operator.mul, operator.truediv,
               lambda a, b: a.pairmax(b), lambda a, b: a.pairmin(b)):  # fmt: skip
        for arg in (other, scalar, Vec3Float(other)):
            theirs_arg = wkg.Vec3Float(other) if isinstance(arg, Vec3Float) else arg
            a, b = op(ours, arg), op(theirs, theirs_arg)
            assert type(a) is Vec3Float and a.to_tuple() == b.to_tuple()
    assert (-ours).to_tuple() == (-theirs).to_tuple() and ours.prod() == theirs.prod()
    assert ours.to_vec3_int() == theirs.to_vec3_int() and type(ours.to_vec3_int()) is Vec3Int
    assert repr(ours) == repr(theirs) and hash(ours) == hash(theirs) and ours == theirs.to_tuple()
    assert (ours < other) == (theirs < other) and sorted([ours, Vec3Float(other)]) == sorted([theirs.to_tuple(), other])
    assert ours.with_x(scalar).to_tuple() == theirs.with_x(scalar).to_tuple()
    assert np.array_equal(np.asarray(ours), np.asarray(theirs)) and np.array_equal(ours.to_np(), theirs.to_np())
    text = ",".join(map(str, values))
    assert Vec3Float.from_str(text) == wkg.Vec3Float.from_str(text)
    assert Vec3Float.from_str(f"({text})") == wkg.Vec3Float.from_str(f"({text})")


def test_vec3_float_errors_are_typed() -> None:
    for bad in [(1, 2), ("a", 1, 2), (object(),)]:
        with pytest.raises(ValueError):
            wkg.Vec3Float(*bad)
        with pytest.raises(InvalidRequestError):
            Vec3Float(*bad)
