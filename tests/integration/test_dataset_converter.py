"""`get_dataset_converter` against webknossos 4.3.3's: the same JSON structured and
unstructured by both gives the same JSON, and the same objects unstructure alike."""

from __future__ import annotations

import copy
import importlib
import json
import warnings

import pytest

import wkpy as wk
from wkpy.dataset_properties import (
    DatasetProperties,
    LayerProperties,
    SegmentationLayerProperties,
    get_dataset_converter,
)
from wkpy.errors import InvalidRequestError, PropertiesError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Float, Vec3Int

with warnings.catch_warnings():  # webknossos warns about optional image readers on import
    warnings.simplefilter("ignore")
    import webknossos

    # (the package's ``dataset_properties`` attribute is its submodule of the same name)
    wk_props = importlib.import_module("webknossos.dataset_properties")


def as_json(value):
    """`value` through a JSON text and back, so tuples and lists compare alike."""
    return json.loads(json.dumps(value))


@pytest.fixture
def webknossos_properties(tmp_path):
    """A properties file written by webknossos: a 3-channel zarr3 layer with a view
    configuration, a WKW segmentation layer and a zarr3 layer with a time axis."""
    ds = webknossos.Dataset(tmp_path / "wk", voxel_size=(11.2, 11.2, 25))
    color = ds.add_layer("color", webknossos.COLOR_CATEGORY, dtype="uint8", num_channels=3,
                         bounding_box=webknossos.BoundingBox((0, 0, 0), (64, 64, 32)))  # fmt: skip
    color.add_mag(1, chunk_shape=32, shard_shape=64)
    color.default_view_configuration = webknossos.LayerViewConfiguration(color=(255, 0, 0), alpha=50)
    seg = ds.add_layer("seg", webknossos.SEGMENTATION_CATEGORY, dtype="uint32", largest_segment_id=7,
                       data_format="wkw")  # fmt: skip
    seg.add_mag(1, chunk_shape=32, shard_shape=32)
    with warnings.catch_warnings():  # webknossos warns that n-d support is experimental
        warnings.simplefilter("ignore")
        timed = ds.add_layer("timed", webknossos.COLOR_CATEGORY, dtype="uint8", data_format="zarr3",
                             bounding_box=webknossos.geometry.NDBoundingBox(
                                 (0, 0, 0, 0), (5, 16, 16, 16), ("t", "x", "y", "z"), (0, 1, 2, 3)))  # fmt: skip
        timed.add_mag(1, chunk_shape=16, shard_shape=16)
    return json.loads((tmp_path / "wk" / "datasource-properties.json").read_text())


def test_round_trip_matches_webknossos(webknossos_properties) -> None:
    ours, theirs = get_dataset_converter(), wk_props.get_dataset_converter()
    # whole properties: the 3-D layers (the properties model of n-d layers is not
    # part of this converter's parity yet)
    flat = {**webknossos_properties,
            "dataLayers": [d for d in webknossos_properties["dataLayers"] if "additionalAxes" not in d]}  # fmt: skip
    props = ours.structure(copy.deepcopy(flat), DatasetProperties)
    their_props = theirs.structure(copy.deepcopy(flat), wk_props.DatasetProperties)
    assert as_json(ours.unstructure(props)) == as_json(theirs.unstructure(their_props)) == as_json(flat)
    assert isinstance(props.scale.factor, Vec3Float) and props.scale.factor == their_props.scale.factor
    for layer_json in webknossos_properties["dataLayers"]:
        segmentation = layer_json["category"] == "segmentation"
        their_cls = wk_props.SegmentationLayerProperties if segmentation else wk_props.LayerProperties
        their_layer = theirs.structure(copy.deepcopy(layer_json), their_cls)
        if "additionalAxes" not in layer_json:
            layer = ours.structure(copy.deepcopy(layer_json),
                                   SegmentationLayerProperties if segmentation else LayerProperties)  # fmt: skip
            assert type(layer).__name__ == type(their_layer).__name__
            assert as_json(ours.unstructure(layer)) == as_json(theirs.unstructure(their_layer))
        # the layer's box with its channels and extra axes, as webknossos models it
        box = NormalizedBoundingBox.from_wkw_dict({
            **layer_json["boundingBox"], "numChannels": layer_json["numChannels"],
            "axisOrder": layer_json["mags"][0]["axisOrder"],
            **({"additionalAxes": layer_json["additionalAxes"]} if "additionalAxes" in layer_json else {}),
        })  # fmt: skip
        assert repr(box) == repr(their_layer.bounding_box)
        assert ours.unstructure(box) == theirs.unstructure(their_layer.bounding_box)
    timed = NormalizedBoundingBox.from_wkw_dict({**webknossos_properties["dataLayers"][2]["boundingBox"],
                                                 "axisOrder": {"x": 1, "y": 2, "z": 3},
                                                 "additionalAxes": [{"name": "t", "bounds": [0, 5], "index": 0}]})
    assert timed.axes == ("t", "x", "y", "z") and timed.get_bounds("t") == (0, 5)


def test_values_unstructure_like_webknossos() -> None:
    ours, theirs = get_dataset_converter(), wk_props.get_dataset_converter()
    pairs = [
        (wk.VoxelSize((1, 1, 2.5)), webknossos.VoxelSize((1, 1, 2.5))),
        (wk.VoxelSize((4, 4, 40), wk.LengthUnit.MICROMETER), webknossos.VoxelSize((4, 4, 40), webknossos.LengthUnit.MICROMETER)),
        (Mag("2-2-1"), webknossos.Mag("2-2-1")),
        (Vec3Int(1, 2, 3), webknossos.Vec3Int(1, 2, 3)),
        (Vec3Float(1, 2, 3), webknossos.Vec3Float(1, 2, 3)),
        (BoundingBox((1, 2, 3), (4, 5, 6)).normalize_axes(2), webknossos.BoundingBox((1, 2, 3), (4, 5, 6)).normalize_axes(2)),
        (NormalizedBoundingBox((0, 0, 0, 0, 1), (1, 2, 3, 4, 5), "cxyzt"),
         webknossos.geometry.NormalizedBoundingBox((0, 0, 0, 0, 1), (1, 2, 3, 4, 5), "cxyzt")),
        (wk.LayerViewConfiguration(color=(1, 2, 3), intensity_range=(0, 10)),
         webknossos.LayerViewConfiguration(color=(1, 2, 3), intensity_range=(0, 10))),
        (wk.DatasetViewConfiguration(zoom=2.0, position=(1, 2, 3)),
         webknossos.DatasetViewConfiguration(zoom=2.0, position=(1, 2, 3))),
        (wk.AffineCoordinateTransformation.identity().translate((1, 2, 3)),
         webknossos.AffineCoordinateTransformation.identity().translate((1, 2, 3))),
        ([Mag(1), {"a": Vec3Int(1, 1, 1)}], [webknossos.Mag(1), {"a": webknossos.Vec3Int(1, 1, 1)}]),
        (wk.DataFormat.Zarr3, webknossos.DataFormat.Zarr3),
        (wk.LengthUnit.NANOMETER, webknossos.LengthUnit.NANOMETER),
    ]  # fmt: skip
    for value, their_value in pairs:
        assert as_json(ours.unstructure(value)) == as_json(theirs.unstructure(their_value)), value


def test_values_structure_like_webknossos() -> None:
    ours, theirs = get_dataset_converter(), wk_props.get_dataset_converter()
    cases = [
        ({"factor": [1, 1, 2], "unit": "µm"}, wk.VoxelSize, webknossos.VoxelSize),
        ([2, 2, 1], Mag, webknossos.Mag),
        (4, Vec3Int, webknossos.Vec3Int),
        ([1, 2, 3], Vec3Int, webknossos.Vec3Int),
        ([1.5, 2, 3], Vec3Float, webknossos.Vec3Float),
        ({"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6, "numChannels": 2},
         NormalizedBoundingBox, webknossos.geometry.NormalizedBoundingBox),
        ({"color": [1, 2, 3], "alpha": 20}, wk.LayerViewConfiguration, webknossos.LayerViewConfiguration),
        ({"type": "affine", "matrix": [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]]},
         wk.CoordinateTransformation, webknossos.CoordinateTransformation),
        ("zarr3", wk.DataFormat, webknossos.DataFormat),
    ]  # fmt: skip
    for value, cls, their_cls in cases:
        mine, theirs_value = ours.structure(copy.deepcopy(value), cls), theirs.structure(copy.deepcopy(value), their_cls)
        assert isinstance(mine, cls)
        assert as_json(ours.unstructure(mine)) == as_json(theirs.unstructure(theirs_value)), value
    assert ours.structure({"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6}, BoundingBox) == BoundingBox(
        (1, 2, 3), (4, 5, 6))  # fmt: skip
    assert isinstance(ours.structure({"topLeft": [0, 0, 0], "width": 1, "height": 1, "depth": 1}, NDBoundingBox),
                      NormalizedBoundingBox)  # fmt: skip


def test_bad_input_raises_typed_errors() -> None:
    converter = get_dataset_converter()
    with pytest.raises(PropertiesError):
        converter.structure({"id": {}, "scale": [1, 1], "dataLayers": []}, DatasetProperties)
    with pytest.raises(PropertiesError):
        converter.structure({"factor": [1, 1, 1], "unit": "furlong"}, wk.VoxelSize)
    with pytest.raises(InvalidRequestError):
        converter.structure({"topLeft": [0, 0, 0], "width": 1}, NormalizedBoundingBox)
    with pytest.raises(InvalidRequestError):
        converter.structure({"a": 1}, dict[str, int])
    with pytest.raises(InvalidRequestError):
        converter.structure("wkx", wk.DataFormat)
