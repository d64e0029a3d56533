"""Coordinate transformations are immutable values that fail as webknossos 4.3.3's do."""

import attr
import numpy as np
import pytest
import webknossos

import wkpy as wk
from wkpy.errors import FrozenAttributeError


@pytest.mark.parametrize("lib", [wk, webknossos])
def test_assigning_raises_attrs_frozen_attribute_error(lib):
    affine = lib.AffineCoordinateTransformation(matrix=np.eye(4))
    spline = lib.ThinPlateSplineCoordinateTransformation(source=[[0, 0, 0]], target=[[1, 1, 1]])
    for obj, name, value in ((affine, "matrix", np.eye(4)), (spline, "source", [[1, 1, 1]])):
        with pytest.raises(attr.exceptions.FrozenAttributeError):
            setattr(obj, name, value)
        with pytest.raises(AttributeError):
            setattr(obj, name, value)
    with pytest.raises(ValueError, match="read-only"):
        affine.matrix[0][0] = 2
    if lib is wk:
        with pytest.raises(FrozenAttributeError, match="immutable"):
            affine.matrix = np.eye(4)


@pytest.mark.parametrize("call,message", [
    (lambda lib: lib.AffineCoordinateTransformation.from_rotation("w", 90), "must be `x`, `y` or `z`"),
    (lambda lib: lib.AffineCoordinateTransformation.identity().flip("w"), "must be `x`, `y` or `z`"),
    (lambda lib: lib.ThinPlateSplineCoordinateTransformation.from_pairs([[(0, 0, 0)]]), "pair of a source and a target"),
    (lambda lib: lib.ThinPlateSplineCoordinateTransformation.from_pairs([[(0, 0), (1, 1, 1)]]), "three floats"),
    (lambda lib: lib.ThinPlateSplineCoordinateTransformation.from_pairs([]), "at least one correspondence"),
    (lambda lib: lib.AffineCoordinateTransformation(matrix=np.eye(3)), r"shape \(4, 4\)"),
])
def test_bad_arguments_raise_as_webknossos(call, message):
    for lib in (wk, webknossos):
        with pytest.raises(ValueError, match=message):
            call(lib)


def test_pairs_are_vec3_floats_as_in_webknossos():
    pairs = [((0, 0, 0), (1, 1, 1)), ((1, 2, 3), (4.5, 5, 6))]
    ours = wk.ThinPlateSplineCoordinateTransformation.from_pairs(pairs).pairs
    theirs = webknossos.ThinPlateSplineCoordinateTransformation.from_pairs(pairs).pairs
    assert all(isinstance(v, wk.Vec3Float) for pair in ours for v in pair)
    assert [tuple(map(tuple, p)) for p in ours] == [tuple(map(tuple, p)) for p in theirs]
