"""View configurations and coordinate transformations, cross-checked against webknossos 4.3.3."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import wkpy

# links are what these tests are about: webknossos 4.3.3 deprecates them with this warning too
pytestmark = pytest.mark.filterwarnings("ignore:Using symlinks is deprecated:DeprecationWarning")

wk = pytest.importorskip("webknossos")

PROPS = "datasource-properties.json"


def _views(lib):
    layer_view = lib.LayerViewConfiguration(color=(255, 0, 0), alpha=100, intensity_range=(0, 250.5),
                                            min=1, is_inverted=True, mapping={"name": "m", "type": "HDF5"})
    ds_view = lib.DatasetViewConfiguration(four_bit=False, zoom=2, position=(12, 13, 14), rotation=(0, 90, 0),
                                           loading_strategy="BEST_QUALITY_FIRST", segmentation_pattern_opacity=40,
                                           layers={"color": lib.LayerViewConfiguration(alpha=20)},
                                           color_layer_order=["color"])
    return layer_view, ds_view


def _build(lib, path: Path):
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8")
    layer_view, ds_view = _views(lib)
    layer.default_view_configuration = layer_view
    ds.default_view_configuration = ds_view
    layer.coordinate_transformations = [
        lib.AffineCoordinateTransformation.identity().rotate("z", 90).translate((5, 0, 0)),
        lib.ThinPlateSplineCoordinateTransformation.from_pairs([((0, 0, 0), (1, 1, 1)), ((1, 2, 3), (2, 4, 6))]),
    ]
    return ds


def _json(path: Path) -> dict:
    return json.loads((path / PROPS).read_text())


def _fields(view) -> dict:
    names = [n for n in ("color", "alpha", "intensity_range", "min", "max", "is_disabled", "is_inverted",
                         "is_in_edit_mode", "mapping", "four_bit", "interpolation", "render_missing_data_black",
                         "loading_strategy", "segmentation_pattern_opacity", "zoom", "position", "rotation",
                         "color_layer_order", "blend_mode", "natively_rendered_layer_name") if hasattr(view, n)]
    out = {n: getattr(view, n) for n in names}
    if hasattr(view, "layers") and view.layers is not None:
        out["layers"] = {k: _fields(v) for k, v in view.layers.items()}
    return out


def test_same_calls_write_the_same_json(tmp_path: Path) -> None:
    _build(wk, tmp_path / "wk")
    _build(wkpy, tmp_path / "py")
    ours, theirs = _json(tmp_path / "py"), _json(tmp_path / "wk")
    assert ours["defaultViewConfiguration"] == theirs["defaultViewConfiguration"]
    layer_keys = ("defaultViewConfiguration", "coordinateTransformations")
    for key in layer_keys:
        assert ours["dataLayers"][0][key] == theirs["dataLayers"][0][key], key
    assert list(ours["dataLayers"][0]) == list(theirs["dataLayers"][0])


def test_reopened_objects_have_the_same_fields_and_rewrite_identically(tmp_path: Path) -> None:
    _build(wk, tmp_path / "wk")
    _build(wkpy, tmp_path / "py")
    theirs, ours = wk.Dataset.open(tmp_path / "wk"), wkpy.Dataset.open(tmp_path / "py")
    assert isinstance(ours.default_view_configuration, wkpy.DatasetViewConfiguration)
    assert isinstance(ours.get_layer("color").default_view_configuration, wkpy.LayerViewConfiguration)
    assert _fields(ours.default_view_configuration) == _fields(theirs.default_view_configuration)
    assert (_fields(ours.get_layer("color").default_view_configuration)
            == _fields(theirs.get_layer("color").default_view_configuration))
    ts_ours = ours.get_layer("color").coordinate_transformations
    ts_theirs = theirs.get_layer("color").coordinate_transformations
    assert [type(t).__name__ for t in ts_ours] == [type(t).__name__ for t in ts_theirs]
    assert np.array_equal(ts_ours[0].matrix, ts_theirs[0].matrix)
    assert ts_ours[1].pairs == tuple((tuple(s), tuple(t)) for s, t in ts_theirs[1].pairs)
    # a change after reopening rewrites the file; both write alpha 100 as 100.0 now
    theirs.get_layer("color").bounding_box = wk.BoundingBox((0, 0, 0), (8, 8, 8))
    ours.get_layer("color").bounding_box = wkpy.BoundingBox((0, 0, 0), (8, 8, 8))
    a, b = _json(tmp_path / "py"), _json(tmp_path / "wk")
    assert a["dataLayers"][0]["defaultViewConfiguration"]["alpha"] == 100.0
    assert a["defaultViewConfiguration"] == b["defaultViewConfiguration"]
    assert a["dataLayers"][0]["defaultViewConfiguration"] == b["dataLayers"][0]["defaultViewConfiguration"]


def test_unset_and_cleared_values(tmp_path: Path) -> None:
    for lib, name in ((wk, "wk"), (wkpy, "py")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color")
        assert ds.default_view_configuration is None and layer.default_view_configuration is None
        assert layer.coordinate_transformations == ()
        layer.default_view_configuration = lib.LayerViewConfiguration()
        layer.coordinate_transformations = [lib.AffineCoordinateTransformation.identity()]
        layer.coordinate_transformations = []
        ds.default_view_configuration = lib.DatasetViewConfiguration(zoom=1.5)
        ds.default_view_configuration = None
    a, b = _json(tmp_path / "py"), _json(tmp_path / "wk")
    assert a["dataLayers"][0].get("defaultViewConfiguration") == b["dataLayers"][0].get("defaultViewConfiguration") == {}
    assert "coordinateTransformations" not in a["dataLayers"][0]
    assert "coordinateTransformations" not in b["dataLayers"][0]
    assert "defaultViewConfiguration" not in a and "defaultViewConfiguration" not in b


def test_unknown_view_keys_survive_and_bad_values_are_refused(tmp_path: Path) -> None:
    ds = _build(wkpy, tmp_path / "py")
    obj = _json(ds.path)
    obj["dataLayers"][0]["defaultViewConfiguration"]["futureKnob"] = {"x": [1]}
    obj["defaultViewConfiguration"]["later"] = 3
    (ds.path / PROPS).write_text(json.dumps(obj))
    again = wkpy.Dataset.open(ds.path)
    view = again.get_layer("color").default_view_configuration
    assert view.extra == {"futureKnob": {"x": [1]}}
    view.alpha = 50.0
    again.get_layer("color").default_view_configuration = view
    out = _json(ds.path)
    assert out["dataLayers"][0]["defaultViewConfiguration"]["futureKnob"] == {"x": [1]}
    assert out["dataLayers"][0]["defaultViewConfiguration"]["alpha"] == 50.0
    assert out["defaultViewConfiguration"]["later"] == 3
    before = (ds.path / PROPS).read_text()
    with pytest.raises(wkpy.InvalidRequestError, match="alpha"):
        again.get_layer("color").default_view_configuration = wkpy.LayerViewConfiguration(alpha="opaque")
    with pytest.raises(wkpy.InvalidRequestError):
        again.default_view_configuration = wkpy.LayerViewConfiguration()
    with pytest.raises(wkpy.InvalidRequestError):
        again.get_layer("color").coordinate_transformations = [{"type": "affine"}]
    assert (ds.path / PROPS).read_text() == before
    obj["dataLayers"][0]["defaultViewConfiguration"]["color"] = "red"
    (ds.path / PROPS).write_text(json.dumps(obj))
    with pytest.raises(wkpy.PropertiesError, match=r"defaultViewConfiguration\.color"):
        wkpy.Dataset.open(ds.path)


def test_transformation_values_match_webknossos() -> None:
    ours = wkpy.AffineCoordinateTransformation.from_rotation("x", 30).scale((1, 2, 3)).flip("y").translate((1, 2, 3))
    theirs = wk.AffineCoordinateTransformation.from_rotation("x", 30).scale((1, 2, 3)).flip("y").translate((1, 2, 3))
    assert np.array_equal(ours.matrix, theirs.matrix)
    assert not ours.matrix.flags.writeable
    with pytest.raises(AttributeError):
        ours.matrix = np.eye(4)
    assert ours == wkpy.AffineCoordinateTransformation(theirs.matrix)
    with pytest.raises(ValueError):
        wkpy.AffineCoordinateTransformation(np.eye(3))
    with pytest.raises(ValueError):
        wkpy.ThinPlateSplineCoordinateTransformation([[0, 0, 0]], [[1, 1, 1], [2, 2, 2]])


def test_copies_carry_view_configuration_and_transformations(tmp_path: Path) -> None:
    for lib, name in ((wk, "wk"), (wkpy, "py")):
        ds = _build(lib, tmp_path / name)
        layer = ds.get_layer("color")
        layer.bounding_box = lib.BoundingBox((0, 0, 0), (4, 4, 4))
        layer.add_mag(1, chunk_shape=32, shard_shape=64).write(np.ones((4, 4, 4), np.uint8), absolute_offset=(0, 0, 0))
        ds.add_layer_like(layer, "like")
        ds.copy_dataset(tmp_path / f"{name}-copy")
        other = lib.Dataset(tmp_path / f"{name}-other", voxel_size=(1, 1, 1))
        other.add_layer_as_copy(layer, "copied")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            other.add_symlink_layer(layer, "linked")
    for suffix, names in (("", ["color", "like"]), ("-copy", ["color", "like"]), ("-other", ["copied", "linked"])):
        a, b = _json(tmp_path / f"py{suffix}"), _json(tmp_path / f"wk{suffix}")
        la = {x["name"]: x for x in a["dataLayers"]}
        lb = {x["name"]: x for x in b["dataLayers"]}
        for n in names:
            for key in ("defaultViewConfiguration", "coordinateTransformations"):
                assert la[n].get(key) == lb[n].get(key), (suffix, n, key)
                assert la[n].get(key) is not None
        if suffix == "-copy":
            assert a.get("defaultViewConfiguration") == b.get("defaultViewConfiguration") is not None


def test_webknossos_property_class_names() -> None:
    props = wkpy.Dataset  # noqa: F841 (the names exist at top level)
    assert wkpy.MagViewProperties is wkpy.properties.MagProperties
    seg = wkpy.LayerProperties("s", "segmentation", wkpy.BoundingBox((0, 0, 0), (1, 1, 1)), "uint32")
    assert isinstance(seg, wkpy.SegmentationLayerProperties)
    assert seg.dtype == "uint32" and seg.mappings == [] and list(seg.attachments) == []
    color = wkpy.LayerProperties("c", "color", wkpy.BoundingBox((0, 0, 0), (1, 1, 1)), "uint24")
    assert not isinstance(color, wkpy.SegmentationLayerProperties)
    assert color.dtype == "uint8" and color.num_channels == 3
