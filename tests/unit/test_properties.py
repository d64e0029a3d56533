"""Tests of the `datasource-properties.json` model (`wkpy.properties`)."""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wkpy.errors import DataMismatchError, DatasetNotFoundError, PropertiesError
from wkpy.geometry import BoundingBox, Mag
from wkpy.properties import (
    DEFAULT_AXIS_ORDER,
    PROPERTIES_FILE_NAME,
    DatasetProperties,
    LayerProperties,
    MagProperties,
    default_mag_path,
    dtype_and_channels,
    element_class_for,
    load_properties,
    save_properties,
)
from wkpy.properties import _io as properties_io

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = Path(os.environ.get("WKPY_SHARED", SHARED)) / "fixtures"
PROPERTY_FILES = sorted(FIXTURES.rglob(PROPERTIES_FILE_NAME)) if FIXTURES.is_dir() else []
# Files webknossos 4.3.3 wrote itself (the upstream ones are older or hand-made).
WK_WRITTEN = [f for f in PROPERTY_FILES if "upstream" not in f.parts]
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures missing")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.parent.relative_to(FIXTURES)) for p in paths]


def _wk() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("webknossos")


def _wk_convert(obj: dict[str, Any]) -> dict[str, Any]:
    """Structure then unstructure `obj` with webknossos' own properties converter."""
    _wk()
    from webknossos.dataset_properties import DatasetProperties as WkProperties
    from webknossos.dataset_properties.structuring import get_dataset_converter

    converter = get_dataset_converter()
    out = converter.unstructure(converter.structure(copy.deepcopy(obj), WkProperties))
    return json.loads(json.dumps(out))  # tuples -> lists, as in the file


def _wk_parse(obj: dict[str, Any]) -> Any:
    _wk()
    from webknossos.dataset_properties import DatasetProperties as WkProperties
    from webknossos.dataset_properties.structuring import get_dataset_converter

    return get_dataset_converter().structure(copy.deepcopy(obj), WkProperties)


def _sample() -> dict[str, Any]:
    """A complete modern properties dict with one color and one segmentation layer."""
    def layer(name: str, category: str, element_class: str, channels: int) -> dict[str, Any]:
        return {
            "name": name,
            "category": category,
            "boundingBox": {"topLeft": [5, 6, 7], "width": 70, "height": 50, "depth": 40},
            "dataFormat": "wkw",
            "mags": [
                {"mag": [m, m, 1], "path": f"./{name}/{Mag([m, m, 1]).to_layer_name()}",
                 "cubeLength": 1024, "axisOrder": dict(DEFAULT_AXIS_ORDER)}
                for m in (1, 2)
            ],
            "numChannels": channels,
            "elementClass": element_class,
        }

    seg = layer("segmentation", "segmentation", "uint32", 1)
    seg["largestSegmentId"] = 4291840624
    seg = {k: seg[k] for k in ["name", "category", "boundingBox", "dataFormat", "mags",
                               "largestSegmentId", "numChannels", "elementClass"]}
    return {
        "id": {"name": "sample", "team": ""},
        "scale": {"factor": [11.2, 11.2, 25.0], "unit": "nanometer"},
        "dataLayers": [layer("color", "color", "uint24", 3), seg],
        "version": 1,
    }


def _write(path: Path, obj: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    file = path / PROPERTIES_FILE_NAME
    file.write_text(json.dumps(obj, indent=4))
    return file


# ------------------------------------------------------------------ fixture files


@needs_fixtures
@pytest.mark.parametrize("file", PROPERTY_FILES, ids=_ids(PROPERTY_FILES))
def test_fixture_loads(file: Path) -> None:
    raw = json.loads(file.read_text())
    props = load_properties(file)
    assert [layer.name for layer in props.data_layers] == [
        layer["name"] for layer in raw["dataLayers"]
    ]
    assert props.id == raw["id"]
    assert all(isinstance(v, float) for v in props.voxel_size)
    for layer, raw_layer in zip(props.data_layers, raw["dataLayers"]):
        assert layer.category == raw_layer["category"]
        box = raw_layer["boundingBox"]
        assert layer.bounding_box == BoundingBox(
            box["topLeft"], (box["width"], box["height"], box["depth"])
        )
        raw_mags = raw_layer.get("mags") or raw_layer["wkwResolutions"]
        assert len(layer.mags) == len(raw_mags)
        _, channels = dtype_and_channels(layer.element_class, layer.num_channels)
        assert channels == raw_layer.get("numChannels", channels)
    # the dataset folder works as well as the file
    assert load_properties(file.parent) == props


@needs_fixtures
@pytest.mark.parametrize("file", PROPERTY_FILES, ids=_ids(PROPERTY_FILES))
def test_fixture_round_trip(file: Path, tmp_path: Path) -> None:
    props = load_properties(file)
    save_properties(tmp_path, props)
    again = load_properties(tmp_path)
    assert again == props
    text = (tmp_path / PROPERTIES_FILE_NAME).read_text()
    save_properties(tmp_path / PROPERTIES_FILE_NAME, again)
    assert (tmp_path / PROPERTIES_FILE_NAME).read_text() == text
    assert sorted(os.listdir(tmp_path)) == [PROPERTIES_FILE_NAME]


@needs_fixtures
@pytest.mark.parametrize("file", WK_WRITTEN, ids=_ids(WK_WRITTEN))
def test_webknossos_written_fixture_is_reproduced_byte_for_byte(file: Path) -> None:
    assert load_properties(file).to_json_text() == file.read_text()


@needs_fixtures
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("file", PROPERTY_FILES, ids=_ids(PROPERTY_FILES))
def test_fixture_output_equals_webknossos_rewrite(file: Path) -> None:
    raw = json.loads(file.read_text())
    ours = load_properties(file).to_json()
    theirs = _wk_convert(raw)
    assert ours == theirs
    assert json.dumps(ours, indent=4) == json.dumps(theirs, indent=4)  # key order too


@needs_fixtures
def test_old_style_wkw_resolutions_convert() -> None:
    props = load_properties(FIXTURES / "upstream" / "old_wkw_dataset")
    assert props.voxel_size == (11.239999771118164, 11.239999771118164, 28.0)
    assert props.unit == "nanometer"
    assert props.version == 1
    (layer,) = props.data_layers
    assert layer.data_format == "wkw"
    assert [(m.mag, m.cube_length, m.path) for m in layer.mags] == [
        (Mag(1), 1024, None),
        (Mag(2), 512, None),
    ]
    out = props.to_json()
    assert "wkwResolutions" not in out["dataLayers"][0]
    assert out["scale"] == {"factor": [11.239999771118164, 11.239999771118164, 28.0],
                            "unit": "nanometer"}
    assert out["dataLayers"][0]["mags"][1] == {
        "mag": [2, 2, 2], "cubeLength": 512, "axisOrder": DEFAULT_AXIS_ORDER
    }
    assert out["dataLayers"][0]["numChannels"] == 1
    assert list(out) == ["id", "scale", "dataLayers", "version"]


@needs_fixtures
def test_old_style_list_resolution_and_uint24() -> None:
    props = load_properties(FIXTURES / "upstream" / "simple_wkw_dataset")
    layer = props.data_layers[0]
    assert (layer.element_class, layer.num_channels) == ("uint24", 3)
    assert layer.dtype_per_channel == np.dtype("uint8")
    assert layer.mags == [MagProperties(Mag(1), None, 32)]
    assert layer.default_view_configuration == {"color": [255, 0, 0]}
    assert props.default_view_configuration == {"position": [12, 12, 12]}
    assert props.voxel_size == (1.0, 1.0, 1.0)
    assert props.to_json()["scale"]["factor"] == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------- defaults


def test_missing_num_channels_and_data_format_are_derived() -> None:
    obj = _sample()
    for layer in obj["dataLayers"]:
        del layer["numChannels"]
        del layer["dataFormat"]
    props = DatasetProperties.from_json(obj)
    assert [(la.num_channels, la.data_format) for la in props.data_layers] == [
        (3, "wkw"), (1, "wkw")
    ]
    assert props.to_json() == _sample()


def test_missing_version_defaults_to_one_and_unit_abbreviations_expand() -> None:
    obj = _sample()
    del obj["version"]
    obj["scale"]["unit"] = "µm"
    props = DatasetProperties.from_json(obj)
    assert (props.version, props.unit) == (1, "micrometer")
    assert props.to_json()["version"] == 1
    del obj["scale"]["unit"]
    assert DatasetProperties.from_json(obj).unit == "nanometer"


def test_axis_order_without_c_is_completed() -> None:
    obj = _sample()
    for mag in obj["dataLayers"][0]["mags"]:
        mag["axisOrder"] = {"x": 1, "y": 2, "z": 3}
    props = DatasetProperties.from_json(obj)
    assert props.to_json() == _sample()


def test_hand_built_properties() -> None:
    layer = LayerProperties("f", "color", BoundingBox((0, 0, 0), (4, 4, 4)), "float32",
                            "zarr3", mags=[MagProperties(Mag(1), "./f/1")])
    assert (layer.element_class, layer.num_channels) == ("float", 1)
    assert layer.mags[0].axis_order == DEFAULT_AXIS_ORDER
    assert layer.get_mag("1") is layer.mags[0]
    assert layer.get_mag(2) is None
    props = DatasetProperties({"name": "x", "team": ""}, (1, 2, 3), data_layers=[layer])
    assert props.voxel_size == (1.0, 2.0, 3.0)
    assert props.get_layer("f") is layer
    assert props.get_layer("nope") is None
    assert props.to_json()["dataLayers"][0] == {
        "name": "f", "category": "color",
        "boundingBox": {"topLeft": [0, 0, 0], "width": 4, "height": 4, "depth": 4},
        "dataFormat": "zarr3",
        "mags": [{"mag": [1, 1, 1], "path": "./f/1", "axisOrder": DEFAULT_AXIS_ORDER}],
        "numChannels": 1, "elementClass": "float",
    }
    assert DatasetProperties.from_json(props.to_json()) == props


def test_default_mag_path_and_layer_without_mags() -> None:
    assert default_mag_path("color", 1) == "./color/1"
    assert default_mag_path("color", "2-2-1") == "./color/2-2-1"
    assert default_mag_path("seg", [4, 4, 4]) == "./seg/4"
    obj = _sample()
    obj["dataLayers"][0]["mags"] = []
    box = DatasetProperties.from_json(obj).to_json()["dataLayers"][0]["boundingBox"]
    assert box == {"topLeft": [5, 6, 7], "width": 70, "height": 50, "depth": 40,
                   "axisOrder": DEFAULT_AXIS_ORDER}


def test_json_is_not_aliased() -> None:
    obj = _sample()
    obj["dataLayers"][0]["foo"] = {"deep": [1]}
    before = copy.deepcopy(obj)
    props = DatasetProperties.from_json(obj)
    assert obj == before
    out = props.to_json()
    out["dataLayers"][0]["foo"]["deep"].append(2)
    out["id"]["name"] = "changed"
    assert props.data_layers[0].extra == {"foo": {"deep": [1]}}
    assert props.id["name"] == "sample"


# ----------------------------------------------------------- unknown fields


def test_unknown_fields_survive_in_webknossos_order() -> None:
    obj = _sample()
    obj = {"zzTop": 1, **obj, "aaAfter": {"x": [1, 2]}}
    color, seg = obj["dataLayers"]
    color["myKey"] = "first"
    color.update({"coordinateTransformations": [{"type": "affine", "matrix": [
        [1, 0, 0, 10], [0, 1, 0, 20], [0, 0, 1, 30], [0, 0, 0, 1]]}]})
    seg["attachments"] = {"meshes": [{"name": "m", "path": "./m", "dataFormat": "zarr3"}]}
    seg["mappings"] = ["a", "b"]
    seg["additionalAxes"] = [{"name": "t", "bounds": [0, 5], "index": 4}]
    seg["mags"][0]["channelIndex"] = 0
    seg["mags"][0]["weird"] = True
    props = DatasetProperties.from_json(obj)
    out = props.to_json()
    assert list(out) == ["id", "scale", "dataLayers", "version", "zzTop", "aaAfter"]
    assert list(out["dataLayers"][0]) == [
        "name", "category", "boundingBox", "dataFormat", "mags",
        "coordinateTransformations", "numChannels", "elementClass", "myKey",
    ]
    assert out["dataLayers"][0]["coordinateTransformations"][0]["matrix"][0] == [
        1.0, 0.0, 0.0, 10.0
    ]
    assert list(out["dataLayers"][1]) == [
        "name", "category", "boundingBox", "dataFormat", "mags", "largestSegmentId",
        "mappings", "attachments", "additionalAxes", "numChannels", "elementClass",
    ]
    assert list(out["dataLayers"][1]["mags"][0]) == [
        "mag", "path", "cubeLength", "axisOrder", "channelIndex", "weird"
    ]
    assert out["aaAfter"] == {"x": [1, 2]}
    assert DatasetProperties.from_json(out) == props


def test_empty_optional_fields_are_dropped_like_webknossos() -> None:
    obj = _sample()
    seg = obj["dataLayers"][1]
    seg.update({"largestSegmentId": None, "mappings": [], "additionalAxes": [],
                "attachments": {"meshes": [], "segmentIndex": None},
                "coordinateTransformations": None})
    props = DatasetProperties.from_json(obj)
    assert props.data_layers[1].largest_segment_id is None
    out = props.to_json()
    expected = _sample()
    del expected["dataLayers"][1]["largestSegmentId"]
    assert out == expected


@needs_fixtures
def test_unknown_fields_survive_a_file_round_trip(tmp_path: Path) -> None:
    obj = json.loads((FIXTURES / "upstream" / "complex_property_ds" / PROPERTIES_FILE_NAME)
                     .read_text())
    obj["futureField"] = {"a": 1}
    obj["dataLayers"][0]["mappings"] = ["color-mapping"]
    file = _write(tmp_path / "a", obj)
    props = load_properties(file)
    save_properties(file, props)
    out = json.loads(file.read_text())
    assert out["futureField"] == {"a": 1}
    assert out["dataLayers"][0]["mappings"] == ["color-mapping"]
    assert out["dataLayers"][1]["mappings"] == obj["dataLayers"][1]["mappings"]
    assert out["dataLayers"][1]["coordinateTransformations"] == (
        obj["dataLayers"][1]["coordinateTransformations"]
    )


# ------------------------------------------------------------------- bigint


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0, 0),
        (2**53 - 1, 2**53 - 1),
        (2**53, {"customJsonEncoding": "bigint", "value": str(2**53)}),
        (2**64 - 1, {"customJsonEncoding": "bigint", "value": "18446744073709551615"}),
    ],
)
def test_largest_segment_id_bigint_envelope(value: int, written: Any) -> None:
    obj = _sample()
    obj["dataLayers"][1]["largestSegmentId"] = value
    props = DatasetProperties.from_json(obj)
    assert props.data_layers[1].largest_segment_id == value
    out = props.to_json()
    assert out["dataLayers"][1]["largestSegmentId"] == written
    assert DatasetProperties.from_json(out).data_layers[1].largest_segment_id == value


@pytest.mark.filterwarnings("ignore")
def test_webknossos_agrees_on_bigint() -> None:
    obj = _sample()
    obj["dataLayers"][1]["largestSegmentId"] = {"customJsonEncoding": "bigint",
                                                "value": str(2**63 + 5)}
    ours = DatasetProperties.from_json(obj)
    assert ours.data_layers[1].largest_segment_id == 2**63 + 5
    assert _wk_parse(ours.to_json()).data_layers[1].largest_segment_id == 2**63 + 5
    assert ours.to_json() == _wk_convert(obj)


def test_color_layer_keeps_foreign_largest_segment_id() -> None:
    obj = _sample()
    obj["dataLayers"][0]["largestSegmentId"] = 7
    props = DatasetProperties.from_json(obj)
    assert props.data_layers[0].largest_segment_id is None
    assert props.to_json()["dataLayers"][0]["largestSegmentId"] == 7


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize(
    ("element_class", "channels", "dtype", "derived"),
    [
        ("uint8", 1, "uint8", 1), ("uint16", 1, "uint16", 1), ("uint24", 3, "uint8", 3),
        ("uint32", 1, "uint32", 1), ("uint64", 1, "uint64", 1), ("int8", 1, "int8", 1),
        ("int16", 1, "int16", 1), ("int32", 1, "int32", 1), ("int64", 1, "int64", 1),
        ("float", 1, "float32", 1), ("double", 1, "float64", 1),
        ("uint48", 3, "uint16", 1), ("float96", 3, "float32", 1), ("uint16", 2, "uint8", 1),
    ],
)
def test_element_class_table(element_class: str, channels: int, dtype: str, derived: int) -> None:
    assert dtype_and_channels(element_class, channels) == (np.dtype(dtype), channels)
    assert element_class_for(np.dtype(dtype), channels) == element_class
    assert element_class_for(dtype, channels) == element_class
    if derived == channels:
        assert dtype_and_channels(element_class, None) == (np.dtype(dtype), channels)


def test_element_class_aliases() -> None:
    assert element_class_for(np.float32) == "float"
    assert element_class_for("float64") == "double"
    assert element_class_for(np.uint8, 3) == "uint24"
    assert dtype_and_channels("float32", 1) == (np.dtype("float32"), 1)


@pytest.mark.parametrize(
    ("element_class", "channels"),
    [("uint24", 1), ("uint24", 2), ("uint7", 1), ("float16", 1), ("complex64", 1),
     ("bool", 1), ("u1", 1), ("", 1), (8, 1), ("uint8", 0), ("uint8", 1.0), ("uint8", True),
     ("uint32", 3), ("float", 3)],
)
def test_unsupported_element_classes(element_class: Any, channels: Any) -> None:
    with pytest.raises(DataMismatchError):
        dtype_and_channels(element_class, channels)


@pytest.mark.parametrize(
    ("dtype", "channels"),
    [(np.bool_, 1), (np.float16, 1), (np.complex64, 1), ("U3", 1), (object, 1),
     (None, 1), ("not-a-dtype", 1), (np.uint8, 0), (np.uint8, -1)],
)
def test_unsupported_dtypes(dtype: Any, channels: int) -> None:
    with pytest.raises(DataMismatchError):
        element_class_for(dtype, channels)


SUPPORTED = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
             "float32", "float64"]


@pytest.mark.filterwarnings("ignore")
@given(st.sampled_from(SUPPORTED), st.integers(1, 8))
def test_dtype_helpers_match_webknossos(dtype: str, channels: int) -> None:
    _wk()
    from webknossos.dataset_properties.dtype_conversion import (
        dtype_per_channel_to_element_class,
        element_class_to_dtype_per_channel,
    )

    element_class = element_class_for(dtype, channels)
    assert element_class == dtype_per_channel_to_element_class(dtype, channels)
    assert dtype_and_channels(element_class, channels) == (np.dtype(dtype), channels)
    assert element_class_to_dtype_per_channel(element_class, channels) == np.dtype(dtype)


# -------------------------------------------------------------- malformed input

Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *head, last = _steps(path)
        target: Any = obj
        for step in head:
            target = target[step]
        target[last] = value
    return mutate


def _del(path: str) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *head, last = _steps(path)
        target: Any = obj
        for step in head:
            target = target[step]
        del target[last]
    return mutate


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        steps.append(int(part[1:-1]) if part.startswith("[") else part)
    return steps


L0 = "dataLayers[0]"
L1 = "dataLayers[1]"
MALFORMED: list[tuple[Mutation, str]] = [
    (_del("id"), "id: missing required field"),
    (_set("id", "sample"), "id: expected an object"),
    (_del("scale"), "scale: missing required field"),
    (_set("scale", "abc"), "scale: expected a list of 3 numbers"),
    (_set("scale", [1, 2]), "scale: expected a list of 3 numbers"),
    (_del("scale.factor"), "scale.factor: missing required field"),
    (_set("scale.factor", [1, 2, 3, 4]), "scale.factor: expected a list of 3 numbers"),
    (_set("scale.factor[1]", "a"), "scale.factor[1]: expected a positive number"),
    (_set("scale.factor[0]", -1.0), "scale.factor[0]: expected a positive number"),
    (_set("scale.factor[2]", 0), "scale.factor[2]: expected a positive number"),
    (_set("scale.factor[2]", True), "scale.factor[2]: expected a positive number"),
    (_set("scale.factor[2]", 10**400), "scale.factor[2]: expected a positive number"),
    (_set("scale.unit", "parsecs"), "scale.unit: unknown length unit 'parsecs'"),
    (_set("scale.unit", None), "scale.unit: unknown length unit None"),
    (_set("version", "1"), "version: expected an integer, got '1'"),
    (_del("dataLayers"), "dataLayers: missing required field"),
    (_set("dataLayers", {}), "dataLayers: expected a list"),
    (_set(L0, 5), "dataLayers[0]: expected an object, got 5"),
    (_del(f"{L0}.name"), "dataLayers[0].name: missing required field"),
    (_set(f"{L0}.name", 3), "dataLayers[0].name: expected a non-empty string, got 3"),
    (_set(f"{L0}.name", ""), "dataLayers[0].name: expected a non-empty string"),
    (_set(f"{L1}.name", "color"), "dataLayers[1].name: duplicate layer name 'color'"),
    (_del(f"{L0}.category"), "dataLayers[0].category: missing required field"),
    (_set(f"{L0}.category", "colour"), "dataLayers[0].category: expected 'color' or"),
    (_set(f"{L0}.category", None), "dataLayers[0].category: expected 'color' or"),
    (_del(f"{L0}.boundingBox"), "dataLayers[0].boundingBox: missing required field"),
    (_set(f"{L0}.boundingBox", [0, 0, 0, 1, 1, 1]),
     "dataLayers[0].boundingBox: expected an object"),
    (_del(f"{L0}.boundingBox.topLeft"), "dataLayers[0].boundingBox.topLeft: missing required"),
    (_set(f"{L0}.boundingBox.topLeft", [1, 2]),
     "dataLayers[0].boundingBox.topLeft: expected a list of 3"),
    (_set(f"{L0}.boundingBox.topLeft", "0,0,0"),
     "dataLayers[0].boundingBox.topLeft: expected a list of 3"),
    (_set(f"{L0}.boundingBox.topLeft[2]", "x"),
     "dataLayers[0].boundingBox.topLeft[2]: expected an integer, got 'x'"),
    (_set(f"{L0}.boundingBox.width", "abc"),
     "dataLayers[0].boundingBox.width: expected an integer, got 'abc'"),
    (_del(f"{L0}.boundingBox.height"), "dataLayers[0].boundingBox.height: missing required field"),
    (_set(f"{L0}.boundingBox.height", -1),
     "dataLayers[0].boundingBox.height: expected an integer >= 0, got -1"),
    (_set(f"{L0}.boundingBox.depth", 1.5),
     "dataLayers[0].boundingBox.depth: expected an integer, got 1.5"),
    (_set(f"{L0}.boundingBox.depth", True),
     "dataLayers[0].boundingBox.depth: expected an integer, got True"),
    (_set(f"{L0}.boundingBox.depth", None),
     "dataLayers[0].boundingBox.depth: expected an integer, got None"),
    (_del(f"{L0}.elementClass"), "dataLayers[0].elementClass: missing required field"),
    (_set(f"{L0}.elementClass", "uint7"),
     "dataLayers[0].elementClass: unsupported element class 'uint7'"),
    (_set(f"{L0}.elementClass", 8), "dataLayers[0].elementClass: element class must be a string"),
    (_set(f"{L1}.elementClass", "complex64"), "dataLayers[1].elementClass: unsupported"),
    (_set(f"{L0}.numChannels", 2),
     "dataLayers[0].elementClass: unsupported element class 'uint24' with 2"),
    (_set(f"{L0}.numChannels", "3"), "dataLayers[0].numChannels: expected an integer, got '3'"),
    (_set(f"{L0}.numChannels", 0), "dataLayers[0].numChannels: expected an integer >= 1, got 0"),
    (_set(f"{L0}.dataFormat", "tiff"),
     "dataLayers[0].dataFormat: expected one of wkw, zarr, zarr3"),
    (_set(f"{L0}.dataFormat", None), "dataLayers[0].dataFormat: expected one of"),
    (_del(f"{L0}.mags"), "dataLayers[0].mags: missing required field"),
    (_set(f"{L0}.mags", {"mag": [1, 1, 1]}), "dataLayers[0].mags: expected a list"),
    (_set(f"{L0}.mags[1]", 1), "dataLayers[0].mags[1]: expected an object, got 1"),
    (_del(f"{L0}.mags[0].mag"), "dataLayers[0].mags[0].mag: missing required field"),
    (_set(f"{L0}.mags[0].mag", [1, 1]), "dataLayers[0].mags[0].mag: expected a list of 3"),
    (_set(f"{L0}.mags[0].mag", [3, 3, 3]),
     "dataLayers[0].mags[0].mag: mag components must be powers of two"),
    (_set(f"{L0}.mags[0].mag", [0, 1, 1]),
     "dataLayers[0].mags[0].mag[0]: expected an integer >= 1, got 0"),
    (_set(f"{L0}.mags[0].mag", "1"), "dataLayers[0].mags[0].mag: expected an integer, got '1'"),
    (_set(f"{L0}.mags[1].mag", [1, 1, 1]), "dataLayers[0].mags[1].mag: duplicate mag [1, 1, 1]"),
    (_set(f"{L0}.mags[0].path", 5),
     "dataLayers[0].mags[0].path: expected a non-empty string, got 5"),
    (_set(f"{L0}.mags[0].cubeLength", "32"),
     "dataLayers[0].mags[0].cubeLength: expected an integer, got '32'"),
    (_set(f"{L0}.mags[0].cubeLength", 0),
     "dataLayers[0].mags[0].cubeLength: expected an integer >= 1"),
    (_set(f"{L0}.mags[0].axisOrder", "cxyz"),
     "dataLayers[0].mags[0].axisOrder: expected an object"),
    (_set(f"{L0}.mags[0].axisOrder", {"c": 0, "x": "1"}),
     "dataLayers[0].mags[0].axisOrder.x: expected an integer"),
    (_set(f"{L0}.mags[1].axisOrder", {"c": 0, "x": 3, "y": 2, "z": 1}),
     "dataLayers[0].mags: axisOrder must be the same"),
    (_set(f"{L1}.largestSegmentId", "abc"),
     "dataLayers[1].largestSegmentId: expected an integer, got 'abc'"),
    (_set(f"{L1}.largestSegmentId", 1.5),
     "dataLayers[1].largestSegmentId: expected an integer, got 1.5"),
    (_set(f"{L1}.largestSegmentId", False),
     "dataLayers[1].largestSegmentId: expected an integer, got False"),
    (_set(f"{L1}.largestSegmentId", {"customJsonEncoding": "bigint", "value": 5}),
     "dataLayers[1].largestSegmentId.value: expected a decimal string, got 5"),
    (_set(f"{L1}.largestSegmentId", {"customJsonEncoding": "bigint", "value": "0x10"}),
     "dataLayers[1].largestSegmentId.value: expected a decimal string"),
    (_set(f"{L1}.largestSegmentId", {"value": "10"}),
     "dataLayers[1].largestSegmentId: expected an integer"),
    (_set(f"{L1}.defaultViewConfiguration", [1]),
     "dataLayers[1].defaultViewConfiguration: expected an object"),
    (_set("defaultViewConfiguration", "pos"),
     "defaultViewConfiguration: expected an object, got 'pos'"),
    # names and paths that would lead outside the dataset (issue 12, item 1)
    *[(_set(f"{L0}.name", bad), f"dataLayers[0].name: {bad!r} is not a valid layer name")
      for bad in ("..", ".", "../x", "a/b", "/abs", ".hidden", "a\\b", "a\0b")],
    *[(_set(f"{L0}.mags[0].path", bad), "dataLayers[0].mags[0].path: ")
      for bad in ("..", "../..", "./..", ".", "./", "color/..", "color/../..", "a\0b")],
]


@pytest.mark.parametrize(("mutate", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_input_names_the_field(mutate: Mutation, message: str, tmp_path: Path) -> None:
    obj = _sample()
    mutate(obj)
    with pytest.raises(PropertiesError) as info:
        DatasetProperties.from_json(obj)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)
    file = _write(tmp_path, obj)
    with pytest.raises(PropertiesError) as info:
        load_properties(tmp_path)
    assert str(info.value).startswith(f"{file}: {message}")


@needs_fixtures
def test_malformed_old_style_file_names_wkw_resolutions(tmp_path: Path) -> None:
    obj = json.loads((FIXTURES / "upstream" / "old_wkw_dataset" / PROPERTIES_FILE_NAME)
                     .read_text())
    obj["dataLayers"][0]["wkwResolutions"][1]["resolution"] = "two"
    _write(tmp_path, obj)
    with pytest.raises(PropertiesError, match=r"dataLayers\[0\]\.wkwResolutions\[1\]\.resolution"):
        load_properties(tmp_path)


def test_example_message_from_the_brief(tmp_path: Path) -> None:
    obj = _sample()
    obj["dataLayers"][0]["boundingBox"]["width"] = "abc"
    file = _write(tmp_path, obj)
    with pytest.raises(PropertiesError) as info:
        load_properties(file)
    assert str(info.value) == (
        f"{file}: dataLayers[0].boundingBox.width: expected an integer, got 'abc'"
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null", b'"text"',
     b'{"id": {}, "scale": [NaN, 1, 1], "dataLayers": []}', b'{"a": Infinity}'],
)
def test_not_a_properties_json(content: bytes, tmp_path: Path) -> None:
    file = tmp_path / PROPERTIES_FILE_NAME
    file.write_bytes(content)
    with pytest.raises(PropertiesError, match=str(file).replace(".", r"\.")):
        load_properties(file)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        load_properties(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_properties(tmp_path / "nope" / PROPERTIES_FILE_NAME)


# ------------------------------------------------------------------ atomic save


def _assert_untouched(folder: Path, file: Path, text: str | None) -> None:
    if text is None:
        assert not file.exists()
        assert os.listdir(folder) == []
    else:
        assert file.read_text() == text
        assert os.listdir(folder) == [file.name]


def test_save_is_atomic_when_dumping_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = _write(tmp_path, _sample())
    text = file.read_text()
    props = DatasetProperties.from_json(_sample())
    props.data_layers[0].name = "renamed"

    def full_disk(fd: int) -> None:     # the new text is written, but cannot be flushed
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        save_properties(tmp_path, props)
    _assert_untouched(tmp_path, file, text)
    monkeypatch.undo()
    save_properties(tmp_path, props)
    assert load_properties(tmp_path).data_layers[0].name == "renamed"
    assert os.listdir(tmp_path) == [PROPERTIES_FILE_NAME]


def test_save_is_atomic_for_unserializable_extra(tmp_path: Path) -> None:
    file = _write(tmp_path, _sample())
    text = file.read_text()
    props = DatasetProperties.from_json(_sample())
    props.data_layers[1].extra["zzz"] = {1, 2}  # json.dump fails mid-way
    with pytest.raises(TypeError):
        save_properties(file, props)
    _assert_untouched(tmp_path, file, text)
    props.data_layers[1].extra.clear()
    props.voxel_size = (float("nan"), 1.0, 1.0)
    with pytest.raises(ValueError):
        save_properties(file, props)
    _assert_untouched(tmp_path, file, text)


def test_failed_first_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    props = DatasetProperties.from_json(_sample())

    def fail_replace(src: Any, dst: Any) -> None:
        raise OSError("replace failed")

    monkeypatch.setattr(properties_io.os, "replace", fail_replace)
    with pytest.raises(OSError, match="replace failed"):
        save_properties(tmp_path / PROPERTIES_FILE_NAME, props)
    _assert_untouched(tmp_path, tmp_path / PROPERTIES_FILE_NAME, None)


def test_save_keeps_file_mode_and_writes_webknossos_text(tmp_path: Path) -> None:
    file = _write(tmp_path, {"placeholder": True})
    os.chmod(file, 0o640)
    props = DatasetProperties.from_json(_sample())
    save_properties(tmp_path, props)
    assert file.stat().st_mode & 0o777 == 0o640
    text = file.read_text()
    assert text == json.dumps(_sample(), indent=4)
    assert not text.endswith("\n")
    assert text.startswith('{\n    "id": {\n        "name": "sample",')


# ------------------------------------------------------ interplay with webknossos


def _wk_dataset(tmp_path: Path, data_format: str) -> Path:
    wk = _wk()
    path = tmp_path / f"wk_{data_format}"
    ds = wk.Dataset(path, voxel_size=(11.2, 11.2, 25))
    color = ds.add_layer("color", wk.COLOR_CATEGORY, dtype=np.uint8, num_channels=3,
                         data_format=data_format)
    small = {"chunk_shape": 32, "shard_shape": 64} if data_format == "zarr3" else {}
    data = np.arange(3 * 20 * 10 * 5, dtype=np.uint8).reshape(3, 20, 10, 5)
    color.add_mag(1, **small).write(data, absolute_offset=(3, 4, 5), allow_resize=True)
    color.add_mag("2-2-1")
    seg = ds.add_layer("segmentation", wk.SEGMENTATION_CATEGORY, dtype=np.uint32,
                       largest_segment_id=123456, data_format=data_format)
    seg.add_mag(1)
    seg.add_mag(2)
    big = ds.add_layer("big", wk.SEGMENTATION_CATEGORY, dtype=np.uint64,
                       largest_segment_id=2**62 + 1, data_format=data_format)
    big.add_mag(1)
    ds.add_layer("nolsid", wk.SEGMENTATION_CATEGORY, dtype=np.uint16,
                 data_format=data_format).add_mag(4)
    ds.add_layer("float", wk.COLOR_CATEGORY, dtype=np.float32,
                 data_format=data_format).add_mag(1)
    return path


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_resave_of_webknossos_dataset_is_identical(data_format: str, tmp_path: Path) -> None:
    path = _wk_dataset(tmp_path, data_format)
    theirs = (path / PROPERTIES_FILE_NAME).read_text()
    props = load_properties(path)
    layers = {layer.name: layer for layer in props.data_layers}
    assert layers["color"].bounding_box == BoundingBox((3, 4, 5), (20, 10, 5))
    assert (layers["color"].element_class, layers["color"].num_channels) == ("uint24", 3)
    assert layers["segmentation"].largest_segment_id == 123456
    assert layers["big"].largest_segment_id == 2**62 + 1
    assert layers["nolsid"].largest_segment_id is None
    assert layers["float"].element_class == "float"
    assert [m.path for m in layers["color"].mags] == ["./color/1", "./color/2-2-1"]
    assert [m.path for m in layers["segmentation"].mags] == ["./segmentation/1",
                                                             "./segmentation/2"]
    assert layers["color"].mags[0].cube_length == (1024 if data_format == "wkw" else None)
    save_properties(path, props)
    ours = (path / PROPERTIES_FILE_NAME).read_text()
    assert json.loads(ours) == json.loads(theirs)
    assert ours == theirs


def _our_dataset() -> DatasetProperties:
    def mags(name: str, fmt: str, *values: Any) -> list[MagProperties]:
        return [MagProperties(Mag(v), f"./{name}/{Mag(v).to_layer_name()}",
                              1024 if fmt == "wkw" else None) for v in values]

    layers = [
        LayerProperties("color", "color", BoundingBox((1, 2, 3), (30, 20, 10)), "uint24",
                        "wkw", 3, mags("color", "wkw", 1, "2-2-1"),
                        default_view_configuration={"color": [255, 0, 0]}),
        LayerProperties("seg", "segmentation", BoundingBox((0, 0, 0), (8, 8, 8)), "uint64",
                        "zarr3", 1, mags("seg", "zarr3", 1, 2), largest_segment_id=2**60 + 3),
        LayerProperties("seg32", "segmentation", BoundingBox((4, 0, 0), (8, 9, 10)), "uint32",
                        "wkw", None, mags("seg32", "wkw", 1), largest_segment_id=17),
        LayerProperties("f", "color", BoundingBox((0, 0, 0), (5, 5, 5)), "float", "zarr3",
                        None, mags("f", "zarr3", 1)),
    ]
    return DatasetProperties({"name": "ours", "team": ""}, (4.0, 4.0, 35.5), "micrometer",
                             data_layers=layers,
                             default_view_configuration={"position": [1, 2, 3]})


@pytest.mark.filterwarnings("ignore")
def test_webknossos_reads_what_we_write(tmp_path: Path) -> None:
    wk = _wk()
    props = _our_dataset()
    for layer in props.data_layers:
        for mag in layer.mags:
            (tmp_path / layer.name / mag.mag.to_layer_name()).mkdir(parents=True)
    save_properties(tmp_path, props)
    ds = wk.Dataset.open(tmp_path)
    assert ds.name == "ours"
    assert tuple(ds.voxel_size_with_unit.factor) == props.voxel_size
    assert ds.voxel_size_with_unit.unit.value == "micrometer"
    assert list(ds.layers) == [layer.name for layer in props.data_layers]
    for ours in props.data_layers:
        theirs = ds.get_layer(ours.name)
        assert theirs.category == ours.category
        assert theirs.bounding_box.topleft.to_tuple() == tuple(ours.bounding_box.topleft)
        assert theirs.bounding_box.size.to_tuple() == tuple(ours.bounding_box.size)
        assert theirs.dtype == ours.dtype_per_channel
        assert theirs.num_channels == ours.num_channels
        assert str(theirs.data_format) == ours.data_format
        assert [m.to_list() for m in theirs.mags] == [m.mag.to_list() for m in ours.mags]
        if ours.category == "segmentation":
            assert theirs.largest_segment_id == ours.largest_segment_id
    # and webknossos' own rewrite of our JSON is our JSON
    assert _wk_convert(props.to_json()) == props.to_json()


# --------------------------------------------------------------------- property


UNITS = st.sampled_from(["nanometer", "nm", "micrometer", "µm", "angstrom", "Å", "inch"])
CLASSES = st.sampled_from([("uint8", 1), ("uint24", 3), ("uint16", 1), ("uint32", 1),
                           ("uint64", 1), ("int8", 1), ("int32", 1), ("float", 1),
                           ("double", 1), ("uint48", 3), ("float96", 3)])
POW2 = st.sampled_from([1, 2, 4, 8, 16])


@st.composite
def layer_json(draw: st.DrawFn, name: str) -> dict[str, Any]:
    category = draw(st.sampled_from(["color", "segmentation"]))
    data_format = draw(st.sampled_from(["wkw", "zarr3", "zarr"]))
    element_class, channels = draw(CLASSES)
    mag_values = draw(st.lists(st.tuples(POW2, POW2, POW2), max_size=3, unique=True))
    mags = []
    for m in mag_values:
        entry: dict[str, Any] = {"mag": list(m)}
        if draw(st.booleans()):
            entry["path"] = f"./{name}/{Mag(m).to_layer_name()}"
        if data_format == "wkw" and draw(st.booleans()):
            entry["cubeLength"] = draw(st.sampled_from([32, 1024]))
        entry["axisOrder"] = dict(DEFAULT_AXIS_ORDER)
        mags.append(entry)
    coords = st.integers(-(2**20), 2**20)
    sizes = st.integers(0, 2**20)
    layer: dict[str, Any] = {
        "name": name,
        "category": category,
        "boundingBox": {"topLeft": draw(st.lists(coords, min_size=3, max_size=3)),
                        "width": draw(sizes), "height": draw(sizes), "depth": draw(sizes)},
        "dataFormat": data_format,
        "mags": mags,
    }
    if draw(st.booleans()):
        layer["defaultViewConfiguration"] = {
            "color": draw(st.lists(st.integers(0, 255), min_size=3, max_size=3))
        }
    if category == "segmentation":
        lsid = draw(st.none() | st.integers(0, 2**64 - 1))
        if lsid is not None:
            layer["largestSegmentId"] = (
                {"customJsonEncoding": "bigint", "value": str(lsid)}
                if lsid > 2**53 - 1 else lsid
            )
        if draw(st.booleans()):
            layer["mappings"] = draw(st.lists(st.text(min_size=1, max_size=5), max_size=2,
                                              min_size=1))
    layer["numChannels"] = channels
    layer["elementClass"] = element_class
    return layer


@st.composite
def dataset_json(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.text("abcxyz_", min_size=1, max_size=6), max_size=3, unique=True))
    factor = draw(st.lists(st.floats(1e-3, 1e6) | st.integers(1, 1000), min_size=3, max_size=3))
    obj: dict[str, Any] = {
        "id": {"name": draw(st.text(max_size=8)), "team": draw(st.text(max_size=8))},
        "scale": {"factor": factor, "unit": draw(UNITS)} if draw(st.booleans()) else factor,
        "dataLayers": [draw(layer_json(n)) for n in names],
    }
    if draw(st.booleans()):
        obj["version"] = 1
    if draw(st.booleans()):
        obj["defaultViewConfiguration"] = {
            "position": draw(st.lists(st.integers(0, 1000), min_size=3, max_size=3))
        }
    return obj


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dataset_json())
def test_random_properties_match_webknossos(obj: dict[str, Any]) -> None:
    props = DatasetProperties.from_json(obj)
    out = props.to_json()
    assert out == _wk_convert(obj)
    text = props.to_json_text()
    assert text == json.dumps(out, indent=4)
    assert DatasetProperties.from_json(json.loads(text)) == props


# ------------------------------------------------------ hostile names and paths


@pytest.mark.parametrize("path", ["./color/1", "color/2-2-1", "other/place/1", "./a/../color/1",
                                  "/data/elsewhere/color/1", "s3://bucket/ds/color/1",
                                  "https://example.org/ds/color/1",
                                  # foreign data by relative path, as webknossos writes for
                                  # add_symlink_layer(make_relative=True)
                                  "../src/color/1", "./color/../../x"])
def test_mag_paths_inside_or_foreign_are_kept(path: str) -> None:
    obj = _sample()
    obj["dataLayers"][0]["mags"][0]["path"] = path
    assert DatasetProperties.from_json(obj).data_layers[0].mags[0].path == path


@pytest.mark.parametrize("path", ["..", "../..", "."])
def test_mag_path_of_the_dataset_or_a_parent_names_file_and_field(path: str, tmp_path: Path) -> None:
    obj = _sample()
    obj["dataLayers"][1]["mags"][1]["path"] = path
    file = _write(tmp_path, obj)
    with pytest.raises(PropertiesError, match="names the dataset folder or a folder containing it") as info:
        load_properties(tmp_path)
    assert str(info.value).startswith(f"{file}: dataLayers[1].mags[1].path: ")


# ------------------------------------------------------------ deeply nested JSON


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth - 1):
        value = {"a": value} if i % 2 else [value]
    return value


_DEEP_PLACES: dict[str, Mutation] = {
    "unknown key": _set("someToolsKey", "__deep__"),
    "layer defaultViewConfiguration": _set(f"{L1}.defaultViewConfiguration", {"a": "__deep__"}),
    "dataset defaultViewConfiguration": _set("defaultViewConfiguration", {"a": "__deep__"}),
    "unknown mag key": _set(f"{L0}.mags[0].extraThing", "__deep__"),
}


@pytest.mark.parametrize("depth", [600, 900, 5000])
@pytest.mark.parametrize("where", sorted(_DEEP_PLACES))
def test_deeply_nested_json_is_a_properties_error(depth: int, where: str, tmp_path: Path) -> None:
    obj = _sample()
    _DEEP_PLACES[where](obj)
    # written as text: json.dumps cannot nest this deep itself
    text = json.dumps(obj).replace('"__deep__"', '[{"a": ' * (depth // 2) + "1" + "}]" * (depth // 2))
    file = tmp_path / PROPERTIES_FILE_NAME
    file.write_text(text)
    with pytest.raises(PropertiesError) as info:
        load_properties(tmp_path)
    assert str(file) in str(info.value)
    assert "nested more than 100" in str(info.value) or "not valid JSON" in str(info.value)


@pytest.mark.parametrize("depth", [101, 600, 5000])
def test_deeply_nested_decoded_object_is_refused_without_recursion(depth: int) -> None:
    obj = _sample()
    obj["dataLayers"][0]["defaultViewConfiguration"] = {"a": _nested(depth)}
    with pytest.raises(PropertiesError, match=r"dataLayers\[0\]\.defaultViewConfiguration.*nested more than 100"):
        DatasetProperties.from_json(obj, source="here.json")


def test_nesting_up_to_the_limit_loads_and_round_trips(tmp_path: Path) -> None:
    obj = _sample()
    obj["defaultViewConfiguration"] = {"a": _nested(98)}  # 100 levels with the file's own object
    file = _write(tmp_path, obj)
    props = load_properties(tmp_path)
    save_properties(tmp_path, props)
    assert json.loads(file.read_text())["defaultViewConfiguration"] == obj["defaultViewConfiguration"]


def test_saving_a_too_deep_model_is_a_properties_error_and_keeps_the_file(tmp_path: Path) -> None:
    file = _write(tmp_path, _sample())
    before = file.read_text()
    props = load_properties(tmp_path)
    props.data_layers[0].default_view_configuration = {"a": _nested(5000)}
    with pytest.raises(PropertiesError) as info:
        save_properties(tmp_path, props)
    assert str(file) in str(info.value)
    assert file.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [PROPERTIES_FILE_NAME]
