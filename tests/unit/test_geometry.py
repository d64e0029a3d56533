"""Geometry value types: unit tests plus cross-checks against webknossos' own classes."""

from __future__ import annotations

import copy
import importlib.util
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wkpy.errors import InvalidRequestError
from wkpy.geometry import bounding_box as bounding_box_module
from wkpy.geometry.bounding_box import BoundingBox
from wkpy.geometry.mag import Mag
from wkpy.geometry.vec3_int import Vec3Int

with warnings.catch_warnings():  # webknossos warns about optional image readers on import
    warnings.simplefilter("ignore")
    import webknossos as wk

NONE: object = None  # compared with `!=` on purpose
SETTINGS = settings(deadline=None, database=None, max_examples=150)

small = st.integers(-1000, 1000)
triples = st.tuples(small, small, small)
nonzero = st.integers(-50, 50).filter(bool)
nonzero_triples = st.tuples(nonzero, nonzero, nonzero)
exponents = st.tuples(*[st.integers(0, 8)] * 3)
mag_triples = exponents.map(lambda e: tuple(2**i for i in e))
coords = st.integers(-60, 60)
extents = st.integers(-20, 40)
boxes = st.tuples(st.tuples(coords, coords, coords), st.tuples(extents, extents, extents))


def key(box: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Comparable (topleft, size) of our box or a webknossos box."""
    return (tuple(box.topleft), tuple(box.size))  # type: ignore[attr-defined]


def outcome(fn):
    """Result of `fn()` as a comparable value, or the marker of an assertion failure."""
    try:
        result = fn()
    except AssertionError:
        return "AssertionError"
    if isinstance(result, (BoundingBox, wk.BoundingBox)):
        return key(result)
    return result


# ---- package ------------------------------------------------------------------------


def test_package_reexports_the_public_types() -> None:
    import wkpy.geometry as pkg

    if not hasattr(pkg, "__all__"):
        # A stale editable install can map `wkpy.geometry` as a namespace package,
        # hiding its __init__.py; execute that file directly to check it.
        init = Path(bounding_box_module.__file__).with_name("__init__.py")
        spec = importlib.util.spec_from_file_location("wkpy.geometry", init)
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pkg)
    assert set(pkg.__all__) == {"Vec3Int", "Vec3IntLike", "Mag", "MagLike", "BoundingBox", "VecInt", "VecIntLike",
                                "Vec3Float", "Vec3FloatLike", "as_vec3_int_or_none", "as_vec3_float_or_none",
                                "NDBoundingBox", "NormalizedBoundingBox", *pkg.constants.__all__}
    assert pkg.Vec3Int is Vec3Int and pkg.Mag is Mag and pkg.BoundingBox is BoundingBox


def test_geometry_does_not_import_webknossos() -> None:
    for path in Path(bounding_box_module.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+webknossos", source, re.MULTILINE)


# ---- Vec3Int ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Vec3Int(1, 2, 3),
        lambda: Vec3Int((1, 2, 3)),
        lambda: Vec3Int([1, 2, 3]),
        lambda: Vec3Int(np.array([1, 2, 3])),
        lambda: Vec3Int(np.array([1, 2, 3], dtype=np.uint8)),
        lambda: Vec3Int(Vec3Int(1, 2, 3)),
        lambda: Vec3Int(x=1, y=2, z=3),
        lambda: Vec3Int(3, 2, 1, axes=("z", "y", "x")),
        lambda: Vec3Int(iter([1, 2, 3])),
        lambda: Vec3Int("1,2,3"),
        lambda: Vec3Int(np.int64(1), np.int32(2), 3),
        lambda: Vec3Int.from_xyz(1, 2, 3),
        lambda: Vec3Int.from_str("(1,2,3)"),
        lambda: Vec3Int.from_vec_or_int([1, 2, 3]),
        lambda: Vec3Int(wk.Vec3Int(1, 2, 3)),
    ],
)
def test_vec3int_constructor_forms(make) -> None:
    v = make()
    assert type(v) is Vec3Int
    assert v == (1, 2, 3) and (v.x, v.y, v.z) == (1, 2, 3)
    assert all(type(c) is int for c in v)
    assert repr(v) == str(v) == "Vec3Int(1,2,3)"


def test_vec3int_from_another_vec3int_is_identity() -> None:
    v = Vec3Int(4, 5, 6)
    assert Vec3Int(v) is v


@pytest.mark.parametrize("bad", [(), (1, 2), (1, 2, 3, 4), ([1, 2],), ([1, 2, 3, 4],), (5,),
                                 (np.zeros((1, 3)),), (np.zeros(4),)])
def test_vec3int_wrong_arity_raises_value_and_assertion_error(bad) -> None:
    with pytest.raises(ValueError):
        Vec3Int(*bad)
    with pytest.raises(AssertionError):
        Vec3Int(*bad)


def test_vec3int_bad_keywords_and_types() -> None:
    with pytest.raises(ValueError):
        Vec3Int(x=1, y=2)
    with pytest.raises(ValueError):
        Vec3Int(1, 2, 3, axes=("x", "y", "q"))
    with pytest.raises(TypeError):
        Vec3Int(None, 1, 2)
    with pytest.raises(TypeError):
        Vec3Int(1, 2, 3) + None
    with pytest.raises(TypeError):
        Vec3Int(1, 2, 3).pairmax(None)  # type: ignore[arg-type]


def test_vec3int_truncates_floats_like_webknossos() -> None:
    for value in [(1.5, 2.9, -3.7), np.array([1.5, 2.9, -3.7])]:
        assert Vec3Int(value) == tuple(wk.Vec3Int(value)) == (1, 2, -3)
    assert Vec3Int(1.5, 2.9, -3.7) == tuple(wk.Vec3Int(1.5, 2.9, -3.7))
    assert Vec3Int.from_vec3_float((1.9, -1.9, 2.0)) == (1, -1, 2)


def test_vec3int_is_an_immutable_hashable_tuple() -> None:
    v = Vec3Int(1, 2, 3)
    assert isinstance(v, tuple) and len(v) == 3 and list(v) == [1, 2, 3]
    assert hash(v) == hash((1, 2, 3)) == hash(wk.Vec3Int(1, 2, 3))
    assert v == wk.Vec3Int(1, 2, 3) and wk.Vec3Int(1, 2, 3) == v
    assert {v: "a"}[(1, 2, 3)] == "a"
    assert v != [1, 2, 3]
    assert v < (1, 2, 4) and v[0:2] == (1, 2)
    with pytest.raises(AttributeError):
        v.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        v.foo = 5  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(v)) == v and type(pickle.loads(pickle.dumps(v))) is Vec3Int
    assert copy.deepcopy(v) == v


@SETTINGS
@given(triples, triples)
def test_vec3int_arithmetic_matches_webknossos(a, b) -> None:
    ours, theirs = Vec3Int(a), wk.Vec3Int(a)
    for other in (Vec3Int(b), b, list(b), np.array(b), b[0]):
        assert ours + other == tuple(theirs + other)
        assert ours - other == tuple(theirs - other)
        assert ours * other == tuple(theirs * other)
        assert ours.pairmax(other) == tuple(theirs.pairmax(other))
        assert ours.pairmin(other) == tuple(theirs.pairmin(other))
        assert type(ours + other) is Vec3Int
    assert -ours == tuple(-theirs)
    assert ours.prod() == theirs.prod()
    assert ours.is_positive() == theirs.is_positive()
    assert ours.is_positive(strictly_positive=True) == theirs.is_positive(strictly_positive=True)
    assert ours.is_uniform() == theirs.is_uniform()
    assert ours.contains(b[0]) == theirs.contains(b[0]) == (b[0] in ours)
    assert ours.add_or_none(Vec3Int(b)) == tuple(theirs.add_or_none(wk.Vec3Int(b)))
    assert ours.add_or_none(None) is None


@SETTINGS
@given(triples, nonzero_triples)
def test_vec3int_division_matches_webknossos(a, b) -> None:
    ours, theirs = Vec3Int(a), wk.Vec3Int(a)
    for other in (Vec3Int(b), b, b[0]):
        assert ours // other == tuple(theirs // other)
        assert ours % other == tuple(theirs % other)
        assert ours.ceildiv(other) == tuple(theirs.ceildiv(other))


@SETTINGS
@given(triples, nonzero_triples)
def test_vec3int_reflected_operators_are_elementwise(a, b) -> None:
    v, arr, other = Vec3Int(a), np.array(a), np.array(b)
    assert b + v == tuple(other + arr) and type(b + v) is Vec3Int
    assert list(b) + v == tuple(other + arr)
    assert b - v == tuple(other - arr)
    assert b[0] * v == tuple(b[0] * arr)
    assert b * v == tuple(other * arr)
    assume(all(a))
    assert b // v == tuple(other // arr)
    assert b % v == tuple(other % arr)


def test_vec3int_ceildiv_of_positive_divisors_is_ceiling() -> None:
    assert Vec3Int(5, 6, 0).ceildiv(3) == (2, 2, 0)
    assert Vec3Int(5, 6, 7).ceildiv((2, 4, 7)) == (3, 2, 1)
    with pytest.raises(ZeroDivisionError):
        Vec3Int(1, 2, 3) // 0


@pytest.mark.parametrize(
    "source,target",
    [(0, 2), (2, 0), (1, 1), (-1, 0), ([0, 1], [2, 0]), ([0, 1, 2], [2, 1, 0]), ((2,), (1,))],
)
def test_vec3int_moveaxis_matches_numpy(source, target) -> None:
    expected = np.moveaxis(np.zeros((1, 2, 3)), source, target).shape
    assert Vec3Int(1, 2, 3).moveaxis(source, target) == expected


def test_vec3int_moveaxis_rejects_bad_axes() -> None:
    with pytest.raises(IndexError):
        Vec3Int(1, 2, 3).moveaxis(3, 0)
    with pytest.raises(ValueError):
        Vec3Int(1, 2, 3).moveaxis([0, 0], [1, 2])
    with pytest.raises(ValueError):
        Vec3Int(1, 2, 3).moveaxis([0, 1], [1])


@pytest.mark.parametrize("text", ["1,2,3", "(1,2,3)", "7", "42", "-3", "0,0,10"])
def test_vec3int_from_str_matches_webknossos(text: str) -> None:
    assert Vec3Int.from_str(text) == tuple(wk.Vec3Int.from_str(text))


@pytest.mark.parametrize("text", ["1, 2, 3", "1,2", "a", "-1,2,3", ""])
def test_vec3int_from_str_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        Vec3Int.from_str(text)


def test_vec3int_helpers() -> None:
    v = Vec3Int(1, 2, 3)
    assert Vec3Int.zeros() == (0, 0, 0) and Vec3Int.ones() == (1, 1, 1)
    assert Vec3Int.full(4) == (4, 4, 4) == Vec3Int.from_vec_or_int(4)
    assert Vec3Int.from_vec_or_int(np.int64(4)) == (4, 4, 4)
    assert v.with_x(9) == (9, 2, 3) and v.with_y(9) == (1, 9, 3) and v.with_z(9) == (1, 2, 9)
    assert v.with_replaced("y", 7) == (1, 7, 3) == v.with_replaced(1, 7)
    with pytest.raises(IndexError):
        v.with_replaced(3, 0)
    assert v.get("z") == 3 and v.get("t", 5) == 5
    with pytest.raises(KeyError):
        v.get("t")
    with pytest.raises(KeyError):
        _ = v.c
    assert v.xyz is v and v.with_xyz((4, 5, 6)) == (4, 5, 6) and v.axes == ("x", "y", "z")
    assert v.to_list() == [1, 2, 3] and type(v.to_tuple()) is tuple and v.to_tuple() == (1, 2, 3)
    arr = v.to_np()
    assert arr.dtype.kind == "i" and arr.tolist() == [1, 2, 3]
    assert v.index(2) == 1 and v.count(3) == 1


# ---- Mag ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mag_like,expected",
    [
        (1, (1, 1, 1)), ("1", (1, 1, 1)), (2, (2, 2, 2)), ("2", (2, 2, 2)), ("2-2-2", (2, 2, 2)),
        ("2-2-1", (2, 2, 1)), ((2, 2, 1), (2, 2, 1)), ([2, 2, 1], (2, 2, 1)),
        (np.array([2, 2, 1]), (2, 2, 1)), (Vec3Int(4, 2, 1), (4, 2, 1)), (np.int64(8), (8, 8, 8)),
        (Mag("16-8-1"), (16, 8, 1)), (wk.Mag("2-2-1"), (2, 2, 1)),
    ],
)
def test_mag_constructor_forms(mag_like, expected) -> None:
    mag = Mag(mag_like)
    assert mag.to_tuple() == expected and (mag.x, mag.y, mag.z) == expected
    assert mag.to_vec3_int() == expected and type(mag.to_vec3_int()) is Vec3Int
    assert mag.to_list() == list(expected) and mag.to_np().tolist() == list(expected)
    assert tuple(mag) == expected


@pytest.mark.parametrize("bad", [0, -2, 3, 6, "3", "0-1-1", (1, 2, 3), [2, 2, 0]])
def test_mag_rejects_non_powers_of_two(bad) -> None:
    with pytest.raises(ValueError):
        Mag(bad)
    with pytest.raises(AssertionError):
        Mag(bad)


@pytest.mark.parametrize("bad", ["2-2", " 2", "x", "", 2.0, None, (2, 2), object()])
def test_mag_rejects_malformed_input(bad) -> None:
    with pytest.raises(ValueError):
        Mag(bad)


def test_mag_equality_and_hash() -> None:
    assert Mag("2") == Mag(2) == Mag((2, 2, 2)) == Mag("2-2-2")
    assert Mag(2) == 2 and Mag(2) == "2" and Mag(2) == (2, 2, 2) and Mag(2) == wk.Mag(2)
    assert 2 == Mag(2) and "2-2-1" == Mag("2-2-1") and (2, 2, 1) == Mag("2-2-1")
    assert len({Mag("2"), Mag(2), Mag((2, 2, 2))}) == 1
    assert hash(Mag(2)) == hash((2, 2, 2)) == hash(wk.Mag(2))
    assert Mag(2) != Mag("2-2-1") and Mag(2) != "x" and Mag(2) != 3 and Mag(2) != NONE
    two = Mag(2)
    assert Mag(two) is two
    mag = Mag("4-2-1")
    assert pickle.loads(pickle.dumps(mag)) == mag and copy.copy(mag) is mag
    with pytest.raises(AttributeError):
        mag._mag = Vec3Int(1, 1, 1)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        mag.x = 1  # type: ignore[misc]


@SETTINGS
@given(mag_triples)
def test_mag_naming_matches_webknossos(triple) -> None:
    ours, theirs = Mag(triple), wk.Mag(triple)
    assert ours.to_layer_name() == theirs.to_layer_name() == str(ours) == str(theirs)
    assert ours.to_long_layer_name() == theirs.to_long_layer_name()
    assert repr(ours) == repr(theirs)
    assert ours.max_dim == theirs.max_dim and ours.max_dim_log2 == theirs.max_dim_log2
    assert Mag(ours.to_layer_name()) == ours == Mag(ours.to_long_layer_name())
    assert hash(ours) == hash(theirs)


@SETTINGS
@given(mag_triples, mag_triples)
def test_mag_ordering_and_arithmetic_match_webknossos(a, b) -> None:
    ours_a, ours_b, theirs_a, theirs_b = Mag(a), Mag(b), wk.Mag(a), wk.Mag(b)
    assert (ours_a < ours_b) == (theirs_a < theirs_b)
    assert (ours_a <= ours_b) == (theirs_a <= theirs_b)
    assert (ours_a > ours_b) == (theirs_a > theirs_b)
    assert (ours_a >= ours_b) == (theirs_a >= theirs_b)
    assert (ours_a == ours_b) == (theirs_a == theirs_b)
    assert (ours_a != ours_b) == (theirs_a != theirs_b)
    assert (ours_a < b) == (theirs_a < b)
    assert outcome(lambda: (ours_a * ours_b).to_tuple()) == outcome(lambda: (theirs_a * theirs_b).to_tuple())
    assert (ours_a * 2).to_tuple() == (theirs_a * 2).to_tuple() == (2 * ours_a).to_tuple()
    try:
        expected = (theirs_a // theirs_b).to_tuple()
    except (ValueError, AssertionError):
        with pytest.raises(ValueError):
            ours_a // ours_b
    else:
        assert (ours_a // ours_b).to_tuple() == expected
    exact = all(x % y == 0 for x, y in zip(a, b, strict=True))
    if exact:
        assert ours_a / ours_b == ours_a // ours_b
    else:
        with pytest.raises(ValueError):
            ours_a / ours_b


@SETTINGS
@given(st.lists(mag_triples, min_size=1, max_size=8))
def test_mag_sorting_matches_webknossos(triples_list) -> None:
    ours = [m.to_tuple() for m in sorted(Mag(t) for t in triples_list)]
    theirs = [m.to_tuple() for m in sorted(wk.Mag(t) for t in triples_list)]
    assert ours == theirs
    assert max(Mag(t) for t in triples_list).max_dim == max(max(t) for t in triples_list)


def test_mag_ordering_quirks_follow_webknossos() -> None:
    # Ordering only looks at max_dim, so an anisotropic and an isotropic mag with the
    # same max_dim are both "<=" and ">" each other, exactly as in webknossos.
    assert Mag("2-2-1") <= Mag(2) and Mag("2-2-1") > Mag(2) and Mag(2) > Mag("2-2-1")
    assert not Mag("2-2-1") < Mag(2) and Mag(1) < Mag(2) < 4
    with pytest.raises(ValueError):
        _ = Mag(2) < "x"


def test_mag_division_errors() -> None:
    assert Mag(4) // 2 == Mag(2) and Mag(4) / 2 == Mag(2) and Mag(4) // Mag("2-2-1") == Mag("2-2-4")
    with pytest.raises(ValueError):
        Mag(2) // 4
    with pytest.raises(ValueError):
        Mag("2-2-1") / 2


# ---- BoundingBox --------------------------------------------------------------------


def test_bounding_box_basics() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    assert box.topleft == (1, 2, 3) and box.size == (4, 5, 6) and box.bottomright == (5, 7, 9)
    assert all(type(v) is Vec3Int for v in (box.topleft, box.size, box.bottomright))
    assert repr(box) == str(box) == repr(wk.BoundingBox((1, 2, 3), (4, 5, 6)))
    assert box.volume() == 120 and not box.is_empty() and len(box) == 3 and box.ndim == 3
    assert box.axes == ("x", "y", "z")
    assert box.topleft_xyz == box.topleft and box.size_xyz == box.size
    assert box.bottomright_xyz == box.bottomright
    assert box.get_shape("y") == 5 and box.get_bounds("z") == (3, 9)
    with pytest.raises(KeyError):
        box.get_shape("t")
    assert box.to_slices() == box.to_slices_xyz() == (slice(1, 5), slice(2, 7), slice(3, 9))
    data = np.arange(10 * 10 * 10).reshape(10, 10, 10)
    assert np.array_equal(box.slice_array(data), data[1:5, 2:7, 3:9])
    assert BoundingBox(np.array([1, 2, 3]), [4, 5, 6]) == box
    assert BoundingBox(topleft=Vec3Int(1, 2, 3), size=Vec3Int(4, 5, 6)) == box


def test_bounding_box_zero_size_is_empty() -> None:
    box = BoundingBox((1, 2, 3), (4, 0, 6))
    assert box.is_empty() and box.volume() == 0 and box.bottomright == (5, 2, 9)
    assert BoundingBox.empty() == BoundingBox((0, 0, 0), (0, 0, 0)) and BoundingBox.empty().is_empty()
    assert BoundingBox((0, 0, 0), (0, 0, 0)) != BoundingBox((1, 1, 1), (0, 0, 0))


@SETTINGS
@given(boxes)
def test_bounding_box_constructor_matches_webknossos_incl_negative_sizes(args) -> None:
    ours, theirs = BoundingBox(*args), wk.BoundingBox(*args)
    assert key(ours) == key(theirs) and ours.bottomright == tuple(theirs.bottomright)
    assert ours.size.is_positive()
    assert ours.is_empty() == theirs.is_empty() and ours.volume() == theirs.volume()
    assert repr(ours) == repr(theirs)
    assert ours.to_tuple6() == theirs.to_tuple6() and ours.to_csv() == theirs.to_csv()
    assert ours.to_checkpoint_name() == theirs.to_checkpoint_name()
    assert ours.to_config_dict() == theirs.to_config_dict()
    assert ours.to_slices() == theirs.to_slices()


def test_bounding_box_negative_size_is_flipped() -> None:
    assert BoundingBox((10, 10, 10), (-5, 5, 5)) == BoundingBox((5, 10, 10), (5, 5, 5))


def test_bounding_box_is_immutable_hashable_and_picklable() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    for name in ("topleft", "size", "bottomright", "other"):
        with pytest.raises(AttributeError):
            setattr(box, name, Vec3Int(0, 0, 0))
    with pytest.raises(AttributeError):
        del box.topleft
    same = BoundingBox([1, 2, 3], [4, 5, 6])
    assert box == same and hash(box) == hash(same) and len({box, same}) == 1
    assert box != BoundingBox((1, 2, 3), (4, 5, 7)) and box != (1, 2, 3, 4, 5, 6) and box != 1
    for clone in (pickle.loads(pickle.dumps(box)), copy.copy(box), copy.deepcopy(box)):
        assert clone == box and clone.bottomright == box.bottomright
    with pytest.raises(TypeError):
        _ = box < same  # type: ignore[operator]


@SETTINGS
@given(boxes)
def test_bounding_box_serialisation_round_trips(args) -> None:
    box = BoundingBox(*args)
    assert BoundingBox.from_tuple6(box.to_tuple6()) == box
    assert BoundingBox.from_tuple2((box.topleft, box.size)) == box
    assert BoundingBox.from_wkw_dict(box.to_wkw_dict()) == box
    assert BoundingBox.from_config_dict(box.to_config_dict()) == box
    assert BoundingBox.from_csv(box.to_csv()) == box
    assert BoundingBox.from_auto(box.to_csv()) == box
    assert BoundingBox.from_auto(box.to_wkw_dict()) == box
    assert BoundingBox.from_auto(box.to_config_dict()) == box
    assert BoundingBox.from_auto(list(box.to_tuple6())) == box
    assert BoundingBox.from_auto(box) is box
    if box.topleft.is_positive():
        name = f"chunk_{box.to_checkpoint_name()}.done"
        assert BoundingBox.from_checkpoint_name(name) == box
        assert key(BoundingBox.from_checkpoint_name(name)) == key(wk.BoundingBox.from_checkpoint_name(name))


def test_bounding_box_wkw_dict_format() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    assert box.to_wkw_dict() == {"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6}
    wkw = {"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6}
    assert key(BoundingBox.from_wkw_dict(wkw)) == key(wk.BoundingBox.from_auto(wkw))
    json_text = '{"topleft": [1, 2, 3], "size": [4, 5, 6]}'
    assert BoundingBox.from_auto(json_text) == box


def test_bounding_box_bad_formats() -> None:
    with pytest.raises(AssertionError):
        BoundingBox.from_checkpoint_name("a_1_2_3_4_5_b")
    with pytest.raises(ValueError):
        BoundingBox.from_csv("1,2,3")
    with pytest.raises(InvalidRequestError):  # webknossos raises a bare Exception
        BoundingBox.from_auto(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BoundingBox.from_auto([1, 2, 3])
    with pytest.raises(ValueError):
        BoundingBox((1, 2), (3, 4, 5))
    with pytest.raises(ValueError):
        BoundingBox.from_points([])


@SETTINGS
@given(boxes, boxes)
def test_bounding_box_set_operations_match_webknossos(a, b) -> None:
    ours_a, ours_b = BoundingBox(*a), BoundingBox(*b)
    theirs_a, theirs_b = wk.BoundingBox(*a), wk.BoundingBox(*b)
    expected = outcome(lambda: theirs_a.intersected_with(theirs_b))
    assert outcome(lambda: ours_a.intersected_with(ours_b)) == expected
    assert key(ours_a.intersected_with(ours_b, dont_assert=True)) == key(
        theirs_a.intersected_with(theirs_b, dont_assert=True)
    )
    assert key(ours_a.extended_by(ours_b)) == key(theirs_a.extended_by(theirs_b))
    assert ours_a.contains_bbox(ours_b) == theirs_a.contains_bbox(theirs_b)
    assert (ours_a == ours_b) == (theirs_a == theirs_b)


@SETTINGS
@given(boxes, boxes)
def test_intersection_and_union_properties(a, b) -> None:
    box_a, box_b = BoundingBox(*a), BoundingBox(*b)
    union = box_a.extended_by(box_b)
    if not box_a.is_empty():
        assert union.contains_bbox(box_a)
    if not box_b.is_empty():
        assert union.contains_bbox(box_b)
    inter = box_a.intersected_with(box_b, dont_assert=True)
    assert inter == box_b.intersected_with(box_a, dont_assert=True) or inter.is_empty()
    assert box_a.contains_bbox(inter) and box_b.contains_bbox(inter)
    if inter.is_empty():
        with pytest.raises(InvalidRequestError):
            box_a.intersected_with(box_b)
    assert BoundingBox.empty().extended_by(box_a) is box_a


@SETTINGS
@given(boxes, st.tuples(coords, coords, coords))
def test_bounding_box_contains_point_matches_webknossos(args, point) -> None:
    ours, theirs = BoundingBox(*args), wk.BoundingBox(*args)
    assert ours.contains(point) == theirs.contains(point)
    assert ours.contains(Vec3Int(point)) == theirs.contains(list(point))
    float_point = np.array(point, dtype=float) + 0.5
    assert ours.contains(float_point) == bool(theirs.contains(float_point))
    assert ours.contains(float_point - 1.0) == bool(theirs.contains(float_point - 1.0))


def test_bounding_box_contains_rejects_bad_numpy_shape() -> None:
    with pytest.raises(AssertionError):
        BoundingBox((0, 0, 0), (1, 1, 1)).contains(np.array([0, 0]))


mag_or_vec = st.one_of(
    mag_triples.map(lambda t: ("mag", t)),
    st.tuples(*[st.integers(1, 7)] * 3).map(lambda t: ("vec", t)),
)


@SETTINGS
@given(boxes, mag_or_vec, st.booleans())
def test_align_with_mag_matches_webknossos(args, mag, ceil) -> None:
    kind, triple = mag
    ours_mag = Mag(triple) if kind == "mag" else Vec3Int(triple)
    theirs_mag = wk.Mag(triple) if kind == "mag" else wk.Vec3Int(triple)
    ours = BoundingBox(*args).align_with_mag(ours_mag, ceil=ceil)
    theirs = wk.BoundingBox(*args).align_with_mag(theirs_mag, ceil=ceil)
    assert key(ours) == key(theirs)
    slow = wk.BoundingBox(*args)._align_with_mag_slow(wk.Mag(triple), ceil) if kind == "mag" else None
    if slow is not None:
        assert key(ours) == key(slow)
    if ceil:
        assert ours.topleft % triple == (0, 0, 0) and ours.bottomright % triple == (0, 0, 0)
        assert ours.contains_bbox(BoundingBox(*args)) or BoundingBox(*args).is_empty()


def test_align_with_mag_accepts_int_and_string() -> None:
    box = BoundingBox((1, 3, 0), (7, 2, 2))
    assert box.align_with_mag(2) == box.align_with_mag(Mag(2)) == box.align_with_mag(Vec3Int(2, 2, 2))
    assert box.align_with_mag("2-2-1", ceil=True) == box.align_with_mag(Mag("2-2-1"), ceil=True)
    # Shrinking past itself flips, as in webknossos.
    assert key(BoundingBox((1, 3, 0), (2, 2, 2)).align_with_mag(Mag(4))) == ((0, 4, 0), (4, 0, 0))


@SETTINGS
@given(boxes, mag_triples)
def test_in_mag_and_back_match_webknossos(args, triple) -> None:
    ours, theirs = BoundingBox(*args), wk.BoundingBox(*args)
    assert outcome(lambda: ours.in_mag(Mag(triple))) == outcome(lambda: theirs.in_mag(wk.Mag(triple)))
    aligned_ours = ours.align_with_mag(Mag(triple), ceil=True)
    aligned_theirs = theirs.align_with_mag(wk.Mag(triple), ceil=True)
    assert key(aligned_ours.in_mag(Mag(triple))) == key(aligned_theirs.in_mag(wk.Mag(triple)))
    assert aligned_ours.in_mag(Mag(triple)).from_mag_to_mag1(Mag(triple)) == aligned_ours
    assert key(ours.from_mag_to_mag1(Mag(triple))) == key(theirs.from_mag_to_mag1(wk.Mag(triple)))
    assert ours.from_mag_to_mag1(triple) == ours.from_mag_to_mag1(Mag(triple))


def test_in_mag_misaligned_raises() -> None:
    with pytest.raises(AssertionError, match="not aligned"):
        BoundingBox((1, 0, 0), (2, 2, 2)).in_mag(Mag(2))
    with pytest.raises(ValueError, match="bottomright"):
        BoundingBox((0, 0, 0), (3, 2, 2)).in_mag(Mag(2))
    assert BoundingBox((0, 0, 0), (4, 2, 2)).in_mag("2-2-1") == BoundingBox((0, 0, 0), (2, 1, 2))


# sizes up to 20: a box of 20³ cut into 1³ chunks is already 8000 webknossos BoundingBoxes per example
chunk_boxes = st.tuples(st.tuples(coords, coords, coords), st.tuples(*[st.integers(-12, 20)] * 3))
chunk_shapes = st.tuples(*[st.integers(1, 12)] * 3)


@st.composite
def shapes_and_alignments(draw):
    alignment = draw(st.tuples(*[st.integers(1, 6)] * 3))
    factors = draw(st.tuples(*[st.integers(1, 3)] * 3))
    return tuple(a * f for a, f in zip(alignment, factors, strict=True)), alignment


@settings(SETTINGS, max_examples=60)  # each example chunks with webknossos (slow): fewer examples
@given(chunk_boxes, chunk_shapes)
def test_chunk_matches_webknossos(args, shape) -> None:
    ours = [key(c) for c in BoundingBox(*args).chunk(shape)]
    theirs = [key(c) for c in wk.BoundingBox(*args).chunk(shape)]
    assert ours == theirs
    box = BoundingBox(*args)
    assert sum(c.volume() for c in box.chunk(shape)) == box.volume()
    assert list(box.iter_chunk_toplefts(shape)) == list(wk.BoundingBox(*args).iter_chunk_toplefts(shape))


@settings(SETTINGS, max_examples=60)
@given(chunk_boxes, shapes_and_alignments())
def test_chunk_with_alignment_matches_webknossos(args, shape_and_alignment) -> None:
    shape, alignment = shape_and_alignment
    box = BoundingBox(*args)
    chunks = list(box.chunk(shape, alignment))
    assert [key(c) for c in chunks] == [key(c) for c in wk.BoundingBox(*args).chunk(shape, alignment)]
    assert sum(c.volume() for c in chunks) == box.volume()
    for c in chunks:
        assert box.contains_bbox(c) and not c.is_empty()
        for i in range(3):
            if c.topleft[i] != box.topleft[i]:
                assert c.topleft[i] % alignment[i] == 0
            if c.bottomright[i] != box.bottomright[i]:
                assert c.bottomright[i] % alignment[i] == 0


@SETTINGS
@given(chunk_boxes, shapes_and_alignments(), chunk_boxes)
def test_iter_chunk_toplefts_with_clip_matches_webknossos(args, shape_and_alignment, clip) -> None:
    shape, alignment = shape_and_alignment
    ours = BoundingBox(*args).iter_chunk_toplefts(shape, alignment, clip_to=BoundingBox(*clip))
    theirs = wk.BoundingBox(*args).iter_chunk_toplefts(shape, alignment, clip_to=wk.BoundingBox(*clip))
    assert list(ours) == list(theirs)


def test_chunk_example_and_errors() -> None:
    chunks = list(BoundingBox((1, 1, 1), (5, 5, 1)).chunk((4, 4, 1), (2, 2, 1)))
    assert [key(c) for c in chunks] == [
        ((1, 1, 1), (3, 3, 1)), ((1, 4, 1), (3, 2, 1)), ((4, 1, 1), (2, 3, 1)), ((4, 4, 1), (2, 2, 1))
    ]
    assert all(type(c.topleft) is Vec3Int for c in chunks)
    box = BoundingBox((0, 0, 0), (5, 5, 1))
    for bad_shape in [(0, 2, 1), (-2, 2, 1)]:
        with pytest.raises(ValueError):
            box.chunk(bad_shape)  # raised eagerly, before iterating
    with pytest.raises(AssertionError, match="not divisible"):
        box.chunk((2, 2, 1), (3, 3, 1))
    with pytest.raises(ValueError):
        box.chunk((2, 2, 1), (0, 1, 1))
    assert list(BoundingBox((0, 0, 0), (0, 5, 1)).chunk((2, 2, 1))) == []


@SETTINGS
@given(boxes, triples, st.one_of(st.none(), st.tuples(*[st.integers(-10, 10)] * 3)))
def test_derived_boxes_match_webknossos(args, vector, right) -> None:
    ours, theirs = BoundingBox(*args), wk.BoundingBox(*args)
    left = tuple(v % 21 - 10 for v in vector)
    assert key(ours.padded_with_margins(left, right)) == key(theirs.padded_with_margins(left, right))
    assert key(ours.offset(vector)) == key(theirs.offset(vector))
    assert key(ours.with_topleft(vector)) == key(theirs.with_topleft(vector))
    assert key(ours.with_size(left)) == key(theirs.with_size(left))
    assert key(ours.with_bottomright(vector)) == key(theirs.with_bottomright(vector))
    assert key(ours.with_topleft_xyz(vector)) == key(theirs.with_topleft_xyz(vector))
    assert key(ours.with_size_xyz(left)) == key(theirs.with_size_xyz(left))
    assert key(ours.with_bottomright_xyz(vector)) == key(theirs.with_bottomright_xyz(vector))
    assert key(ours.with_bounds_x(vector[0])) == key(theirs.with_bounds_x(vector[0]))
    assert key(ours.with_bounds_y(None, left[1])) == key(theirs.with_bounds_y(None, left[1]))
    assert key(ours.with_bounds_z(vector[2], left[2])) == key(theirs.with_bounds_z(vector[2], left[2]))
    assert ours.get_bounds("x") == theirs.get_bounds("x") and ours.get_shape("z") == theirs.get_shape("z")
    with pytest.raises(KeyError):
        ours.with_bounds("t", 0)


@SETTINGS
@given(st.lists(st.tuples(coords, coords, coords), min_size=1, max_size=10))
def test_from_points_matches_webknossos(points) -> None:
    ours = BoundingBox.from_points(points)
    assert key(ours) == key(wk.BoundingBox.from_points(points))
    assert all(ours.contains(p) for p in points)


@SETTINGS
@given(st.lists(boxes, max_size=8), mag_triples)
def test_group_boxes_with_aligned_mag_matches_webknossos(box_args, triple) -> None:
    ours = BoundingBox.group_boxes_with_aligned_mag([BoundingBox(*a) for a in box_args], Mag(triple))
    theirs_boxes = [wk.BoundingBox(*a) for a in box_args]
    theirs = wk.BoundingBox.group_boxes_with_aligned_mag(theirs_boxes, wk.Mag(triple))
    assert {key(k): [key(b) for b in v] for k, v in ours.items()} == {
        key(k): [key(b) for b in v] for k, v in theirs.items()
    }
