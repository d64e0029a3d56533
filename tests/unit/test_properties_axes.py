"""``additionalAxes`` and ``axisOrder`` of n-d layers in the properties model."""

from __future__ import annotations

import copy

import pytest

from wkpy.errors import PropertiesError
from wkpy.geometry import BoundingBox, Mag
from wkpy.properties import AdditionalAxis, DatasetProperties, LayerProperties, MagProperties


def _doc(additional, axis_order=None, mags=True):
    layer = {
        "name": "color", "category": "color",
        "boundingBox": {"topLeft": [0, 0, 0], "width": 20, "height": 30, "depth": 10},
        "dataFormat": "zarr3",
        "mags": [{"mag": [1, 1, 1], "path": "./color/1", "axisOrder": axis_order or {"x": 1, "y": 2, "z": 3}},
                 {"mag": [2, 2, 2], "path": "./color/2", "axisOrder": axis_order or {"x": 1, "y": 2, "z": 3}}]
        if mags else [],
        "additionalAxes": additional,
        "numChannels": 1, "elementClass": "uint8",
    }
    if not mags:
        layer["boundingBox"]["axisOrder"] = axis_order or {"x": 1, "y": 2, "z": 3}
    return {"id": {"name": "ds", "team": ""}, "scale": {"factor": [1.0, 1.0, 1.0], "unit": "nanometer"},
            "dataLayers": [layer], "version": 1}


T0 = [{"name": "t", "bounds": [2, 7], "index": 0}]


@pytest.mark.parametrize("mags", [True, False])
def test_an_nd_layer_round_trips_exactly(mags):
    doc = _doc(T0, mags=mags)
    props = DatasetProperties.from_json(copy.deepcopy(doc))
    layer = props.data_layers[0]
    assert layer.additional_axes == [AdditionalAxis("t", (2, 7), 0)]
    assert layer.axis_order == {"x": 1, "y": 2, "z": 3}            # no c: the arrays have none
    assert layer.array_axes == ("t", "x", "y", "z")
    assert layer.bounding_box == BoundingBox((0, 0, 0), (20, 30, 10))   # stays 3-D
    assert props.to_json() == doc
    assert DatasetProperties.from_json(props.to_json()) == props


def test_a_3d_layer_still_completes_the_order_without_c():
    doc = _doc(None)
    del doc["dataLayers"][0]["additionalAxes"]
    props = DatasetProperties.from_json(doc)
    assert props.data_layers[0].axis_order == {"c": 0, "x": 1, "y": 2, "z": 3}
    assert props.data_layers[0].array_axes is None
    assert props.to_json()["dataLayers"][0]["mags"][0]["axisOrder"] == {"c": 0, "x": 1, "y": 2, "z": 3}
    assert "additionalAxes" not in props.to_json()["dataLayers"][0]


def test_extra_axes_with_a_channel_axis_and_two_axes():
    axes = [{"name": "t", "bounds": [0, 3], "index": 1}, {"name": "s", "bounds": [1, 2], "index": 5}]
    layer = DatasetProperties.from_json(_doc(axes, {"c": 0, "x": 2, "y": 3, "z": 4})).data_layers[0]
    assert layer.array_axes == ("c", "t", "x", "y", "z", "s")


@pytest.mark.parametrize("additional,order,where", [
    ([{"name": "x", "bounds": [0, 2], "index": 0}], None, "additionalAxes[0].name"),
    ([{"name": "c", "bounds": [0, 2], "index": 0}], None, "additionalAxes[0].name"),
    ([{"name": "", "bounds": [0, 2], "index": 0}], None, "additionalAxes[0].name"),
    ([{"name": 5, "bounds": [0, 2], "index": 0}], None, "additionalAxes[0].name"),
    ([{"name": "t", "bounds": [0, 2], "index": 0}, {"name": "t", "bounds": [0, 2], "index": 4}],
     {"c": 1, "x": 2, "y": 3, "z": 5}, "additionalAxes[1].name"),
    ([{"name": "t", "bounds": [5, 5], "index": 0}], None, "additionalAxes[0].bounds"),
    ([{"name": "t", "bounds": [7, 2], "index": 0}], None, "additionalAxes[0].bounds"),
    ([{"name": "t", "bounds": [-1, 2], "index": 0}], None, "additionalAxes[0].bounds[0]"),
    ([{"name": "t", "bounds": [0, 2**70], "index": 0}], None, "additionalAxes[0].bounds"),
    ([{"name": "t", "bounds": [0], "index": 0}], None, "additionalAxes[0].bounds"),
    ([{"name": "t", "bounds": [0, 2]}], None, "additionalAxes[0].index"),
    ([{"name": "t", "bounds": [0, 2], "index": -1}], None, "additionalAxes[0].index"),
    ([{"name": "t", "bounds": [0, 2], "index": 2}], None, "additionalAxes[0].index"),      # y's index
    ([{"name": "t", "bounds": [0, 2], "index": 0}, {"name": "s", "bounds": [0, 2], "index": 0}],
     {"x": 2, "y": 3, "z": 4}, "additionalAxes[1].index"),
    ([{"name": "t", "bounds": [0, 2], "index": 7}], None, "additionalAxes"),              # indices 1, 2, 3, 7
    ([{"name": "t", "bounds": [0, 2], "index": 0}], {"x": 1, "y": 2}, "mags"),             # no z
    ([{"name": "t", "bounds": [0, 2], "index": 0}], {"x": 1, "y": 2, "z": 3, "q": 4}, "mags"),
    ([{"name": "t", "bounds": [0, 2], "index": 0}], {"x": 1, "y": 1, "z": 3}, "mags"),
    ({"name": "t"}, None, "additionalAxes"),
])
def test_bad_additional_axes_are_properties_errors_naming_the_field(additional, order, where):
    with pytest.raises(PropertiesError, match=f"dataLayers\\[0\\].{where.replace('[', '.').replace(']', '.')}") as info:
        DatasetProperties.from_json(_doc(additional, order), source="ds/datasource-properties.json")
    assert str(info.value).startswith("ds/datasource-properties.json: ")


def test_hand_built_nd_layers_are_checked_too():
    layer = LayerProperties("n", "color", BoundingBox((0, 0, 0), (4, 4, 4)), "uint8", "zarr3",
                            mags=[MagProperties(Mag(1), "./n/1")],
                            additional_axes=[AdditionalAxis("t", (0, 3), 4)])
    assert layer.array_axes == ("c", "x", "y", "z", "t")
    assert layer.to_json()["additionalAxes"] == [{"name": "t", "bounds": [0, 3], "index": 4}]
    with pytest.raises(PropertiesError, match="index"):
        LayerProperties("n", "color", BoundingBox((0, 0, 0), (4, 4, 4)), "uint8", "zarr3",
                        additional_axes=[AdditionalAxis("t", (0, 3), 1)])
