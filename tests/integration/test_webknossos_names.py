"""The webknossos 4.3.3 names and argument spellings, each checked against webknossos itself.

Every test makes the same calls on both libraries and compares what they give: the
``datasource-properties.json`` (parsed), the voxels, the builtin class of the errors.
"""

import json
import pickle
import warnings

import numpy as np
import pytest

import wkpy as wk
from conftest import random_volume

webknossos = pytest.importorskip("webknossos")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUILTINS = (ValueError, RuntimeError, IndexError, KeyError, AssertionError, AttributeError, TypeError,
            FileExistsError, FileNotFoundError)


def _pair(tmp_path, voxel_size=(11.2, 11.2, 25)):
    return (wk.Dataset(tmp_path / "ours", voxel_size=voxel_size),
            webknossos.Dataset(tmp_path / "theirs", voxel_size=voxel_size))


def _layers_json(ds):
    """The layers of the properties file, without what differs on purpose or by quirk:
    the dataset name (the folders differ), the ``axisOrder`` of layer boxes (webknossos
    writes it only for some layers)."""
    layers = json.loads((ds.path / "datasource-properties.json").read_text())["dataLayers"]
    for layer in layers:
        layer["boundingBox"].pop("axisOrder", None)
    return layers


def _raised(call):
    """The builtin classes of what `call` raises (empty if it does not raise); compare
    with `<=`: a wkpy error may be an instance of more builtins than webknossos' one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the class is the result
            return {b for b in BUILTINS if isinstance(exc, b)} or {type(exc)}
    return set()


# ---- names -------------------------------------------------------------------------------

def test_data_format_enum_matches_webknossos():
    for theirs in webknossos.DataFormat:
        ours = wk.DataFormat[theirs.name]
        assert ours.value == theirs.value and str(ours) == str(theirs) == f"{ours}"
    assert wk.DataFormat("zarr3") is wk.DataFormat.Zarr3 and wk.DataFormat.WKW == "wkw"
    assert {wk.DataFormat.WKW: 1}["wkw"] == 1                # hashes like its string
    assert _raised(lambda: wk.DataFormat("bogus")) == _raised(lambda: webknossos.DataFormat("bogus")) == {ValueError}


def test_categories_and_sampling_modes_match_webknossos():
    assert (wk.COLOR_CATEGORY, wk.SEGMENTATION_CATEGORY) == (webknossos.COLOR_CATEGORY,
                                                             webknossos.SEGMENTATION_CATEGORY)
    assert wk.LayerCategoryType.__args__ == webknossos.LayerCategoryType.__args__
    assert [(m.name, m.value) for m in wk.SamplingModes] == [(m.name, m.value) for m in webknossos.SamplingModes]
    assert wk.SamplingModes.parse("auto") == webknossos.SamplingModes.parse("auto").value


def test_default_constants_match_webknossos():
    assert wk.DEFAULT_CHUNK_SHAPE == webknossos.DEFAULT_CHUNK_SHAPE
    assert wk.DEFAULT_SHARD_SHAPE == webknossos.DEFAULT_SHARD_SHAPE
    assert wk.DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES == webknossos.DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES
    from webknossos.dataset.defaults import DEFAULT_CHUNKS_PER_SHARD
    assert wk.DEFAULT_CHUNKS_PER_SHARD == DEFAULT_CHUNKS_PER_SHARD
    # the one deliberate difference: webknossos defaults to zarr3, wkpy to WKW
    assert webknossos.DEFAULT_DATA_FORMAT == webknossos.DataFormat.Zarr3
    assert wk.DEFAULT_DATA_FORMAT == wk.DataFormat.WKW
    for name in ("C_AXIS", "X_AXIS", "T_AXIS", "XYZ_AXES", "CXYZ_AXES", "TCXYZ_AXES", "TXYZ_AXES", "XY_AXES"):
        assert getattr(wk, name) == getattr(webknossos, name)


def test_every_local_name_of_webknossos_modules_we_claim_exists():
    import wkpy.dataset.dataset
    import wkpy.dataset.defaults
    import wkpy.dataset.layer
    import wkpy.dataset.layer.view
    import wkpy.dataset.sampling_modes
    import wkpy.dataset_properties
    import wkpy.geometry
    import wkpy.utils

    for module, names in [
        (wkpy.geometry, ["BoundingBox", "Mag", "MagLike", "Vec3Int", "Vec3IntLike", "VecInt", "VecIntLike",
                         "Vec3Float", "Vec3FloatLike", "as_vec3_int_or_none", "as_vec3_float_or_none",
                         "NDBoundingBox", "NormalizedBoundingBox"]),
        (wkpy.dataset, ["Dataset", "Layer", "SegmentationLayer", "MagView", "View", "SamplingModes",
                        "DEFAULT_DATA_FORMAT", "DEFAULT_CHUNK_SHAPE", "DEFAULT_SHARD_SHAPE",
                        "MeshAttachment", "AgglomerateAttachment"]),
        (wkpy.dataset.dataset, ["Dataset", "PROPERTIES_FILE_NAME"]),
        (wkpy.dataset.defaults, ["DEFAULT_CHUNK_SHAPE", "DEFAULT_CHUNKS_PER_SHARD", "DEFAULT_SHARD_SHAPE",
                                 "DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES", "DEFAULT_SHARD_SHAPE_FROM_IMAGES",
                                 "DEFAULT_CHUNKS_PER_SHARD_ZARR", "DEFAULT_SHARD_SHAPE_ZARR", "DEFAULT_DTYPE",
                                 "DEFAULT_BIT_DEPTH", "PROPERTIES_FILE_NAME"]),
        (wkpy.dataset.sampling_modes, ["SamplingModes"]),
        (wkpy.dataset.layer, ["Layer", "SegmentationLayer", "MagView", "View", "ArrayInfo", "Zarr3Config"]),
        (wkpy.dataset.layer.view, ["MagView", "View", "ArrayInfo", "Zarr3Config"]),
        (wkpy.dataset_properties, ["DatasetProperties", "LayerProperties", "MagViewProperties", "DataFormat",
                                   "AttachmentDataFormat", "VoxelSize", "LengthUnit", "COLOR_CATEGORY",
                                   "SEGMENTATION_CATEGORY", "LayerCategoryType", "get_dataset_converter"]),
        (wkpy.utils, ["named_partial", "is_fs_path", "dump_path", "rmtree", "copytree", "movetree",
                      "time_start", "time_stop", "get_chunks", "snake_to_camel_case", "count_defined_values",
                      "cheap_resolve", "safe_is_relative_to", "wait_and_ensure_success"]),
    ]:
        theirs = __import__(module.__name__.replace("wkpy", "webknossos"), fromlist=["_"])
        for name in names:
            assert hasattr(theirs, name), (theirs.__name__, name)
            assert hasattr(module, name), (module.__name__, name)
            assert name in wk.__all__ or module is not wkpy.geometry or name.startswith("as_")
            value, reference = getattr(module, name), getattr(theirs, name)
            if isinstance(value, (str, int, np.dtype, wk.Vec3Int)) and not name.endswith("DATA_FORMAT"):
                assert value == reference, (module.__name__, name)  # constants: same values


# ---- VecInt and Vec3Float ----------------------------------------------------------------

VECS = [dict(x=1, y=2, z=3, t=4), dict(c=3, x=5, y=6, z=7)]


@pytest.mark.parametrize("kwargs", VECS)
def test_vec_int_behaves_like_webknossos(kwargs):
    ours, theirs = wk.VecInt(**kwargs), webknossos.VecInt(**kwargs)
    axes = tuple(kwargs)
    assert ours.axes == theirs.axes and ours.to_tuple() == theirs.to_tuple() and repr(ours) == repr(theirs)
    assert ours == theirs.to_tuple() and hash(ours) == hash(theirs)
    other = tuple(range(2, 2 + len(axes)))
    for op in ("__add__", "__sub__", "__mul__", "__floordiv__", "__mod__", "ceildiv", "pairmax", "pairmin"):
        for arg in (other, 3):
            a, b = getattr(ours, op)(arg), getattr(theirs, op)(arg)
            assert a.to_tuple() == b.to_tuple() and a.axes == b.axes and type(a) is wk.VecInt, op
    assert (-ours).to_tuple() == (-theirs).to_tuple() and ours.prod() == theirs.prod()
    assert ours.x == theirs.x and ours["z"] == theirs["z"] and ours.get("q", 9) == theirs.get("q", 9)
    assert ours.xyz == theirs.xyz and isinstance(ours.xyz, wk.Vec3Int)
    assert ours.with_replaced(1, 42).to_tuple() == theirs.with_replaced(1, 42).to_tuple()
    assert ours.with_xyz(wk.Vec3Int(7, 8, 9)).to_tuple() == theirs.with_xyz(webknossos.Vec3Int(7, 8, 9)).to_tuple()
    moved = ours.moveaxis(0, -1)      # (webknossos 4.3.3's own moveaxis fails on its numpy axes)
    assert moved.to_tuple() == (*ours[1:], ours[0]) and moved.axes == (*axes[1:], axes[0])
    assert wk.VecInt(list(kwargs.values()), axes=axes) == ours == wk.VecInt(tuple(kwargs.values()), axes)
    assert wk.VecInt.full(4, axes).to_tuple() == webknossos.VecInt.full(4, axes).to_tuple()
    assert pickle.loads(pickle.dumps(ours)) == ours and pickle.loads(pickle.dumps(ours)).axes == axes
    for call in ("c", "t"):
        assert _raised(lambda: getattr(theirs, call)) <= _raised(lambda: getattr(ours, call))
    assert _raised(lambda: webknossos.VecInt(1, 2, 3)) <= _raised(lambda: wk.VecInt(1, 2, 3))
    assert _raised(lambda: theirs.with_c(1)) <= _raised(lambda: ours.with_c(1))


def test_vec3_int_is_the_3d_vec_int():
    v = wk.Vec3Int(1, 2, 3)
    assert isinstance(v, wk.VecInt) and isinstance(webknossos.Vec3Int(1, 2, 3), webknossos.VecInt)
    assert v == wk.VecInt(x=1, y=2, z=3) and v.axes == ("x", "y", "z")
    assert repr(v) == repr(webknossos.Vec3Int(1, 2, 3)) and type(v + 1) is wk.Vec3Int
    assert type(pickle.loads(pickle.dumps(v))) is wk.Vec3Int and pickle.loads(pickle.dumps(v)) == v
    assert wk.Vec3Int(wk.VecInt(x=4, y=5, z=6)) == (4, 5, 6)
    with pytest.raises(AttributeError):
        v.axes = ("a", "b", "c")  # type: ignore[misc]


def test_vec3_float_behaves_like_webknossos():
    ours, theirs = wk.Vec3Float(1, 2.5, 3), webknossos.Vec3Float(1, 2.5, 3)
    assert ours == theirs.to_tuple() and repr(ours) == repr(theirs) and hash(ours) == hash(theirs)
    for op in ("__add__", "__sub__", "__mul__", "__truediv__", "pairmax", "pairmin"):
        for arg in ((2, 4, 8), 2.0):
            assert getattr(ours, op)(arg).to_tuple() == getattr(theirs, op)(arg).to_tuple(), op
    assert ours.prod() == theirs.prod() and ours.to_vec3_int() == theirs.to_vec3_int()
    assert wk.Vec3Float.from_str("1.5,2,3") == webknossos.Vec3Float.from_str("1.5,2,3")
    assert _raised(lambda: webknossos.Vec3Float(1, 2)) <= _raised(lambda: wk.Vec3Float(1, 2))


# ---- add_layer and dtype= ------------------------------------------------------------------

def _add_both(ours, theirs, *args, **kwargs):
    """`add_layer` on both; the data format is explicit since the defaults differ on purpose."""
    kwargs.setdefault("data_format", "zarr3")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        a = ours.add_layer(*args, **kwargs)
    with warnings.catch_warnings(record=True) as seen_theirs:
        warnings.simplefilter("always")
        b = theirs.add_layer(*args, **kwargs)
    user = [str(w.message) for w in seen if w.category is UserWarning]
    assert user == [str(w.message) for w in seen_theirs if w.category is UserWarning]
    return a, b


@pytest.mark.parametrize("kwargs", [
    dict(dtype="uint8"), dict(dtype=np.uint16), dict(dtype="float"), dict(dtype="float32"), dict(),
    dict(dtype="uint8", num_channels=3), dict(dtype="uint16", num_channels=2),
    dict(dtype_per_channel="int16"), dict(dtype_per_channel="uint8", num_channels=3),
    dict(dtype="int32"), dict(dtype="uint16", data_format=wk.DataFormat.WKW), dict(dtype="uint8", data_format="wkw"),
])
def test_add_color_layer_writes_what_webknossos_writes(tmp_path, kwargs):
    ours, theirs = _pair(tmp_path)
    kwargs = dict(kwargs, data_format=kwargs.get("data_format", "zarr3"))  # the defaults differ on purpose
    if isinstance(kwargs.get("data_format"), wk.DataFormat):   # each library gets its own enum
        kwargs_theirs = dict(kwargs, data_format=webknossos.DataFormat[kwargs["data_format"].name])
    else:
        kwargs_theirs = kwargs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ours.add_layer("color", "color", **kwargs)
        b = theirs.add_layer("color", "color", **kwargs_theirs)
    assert a.dtype == b.dtype and a.dtype_per_channel == b.dtype and a.num_channels == b.num_channels
    assert a.data_format == b.data_format.value and isinstance(a.data_format, wk.DataFormat)
    assert _layers_json(ours) == _layers_json(theirs)
    channels = kwargs.get("num_channels", 1)
    data = random_volume((channels, 40, 30, 20), a.dtype)
    a.add_mag(1, chunk_shape=32, shard_shape=64).write(data, absolute_offset=(5, 6, 7), allow_unaligned=True)
    b.add_mag(1, chunk_shape=32, shard_shape=64).write(data, absolute_offset=(5, 6, 7), allow_unaligned=True,
                                                       allow_resize=True)
    assert _layers_json(ours) == _layers_json(theirs)
    box = dict(absolute_offset=(0, 0, 0), size=(64, 64, 32))
    assert np.array_equal(a.get_mag(1).read(**box), b.get_mag(1).read(**box))


@pytest.mark.parametrize("dtype", ["uint8", "uint32", "uint64", "int64"])
def test_add_segmentation_layer_writes_what_webknossos_writes(tmp_path, dtype):
    ours, theirs = _pair(tmp_path)
    a, b = _add_both(ours, theirs, "seg", "segmentation", dtype=dtype, largest_segment_id=7)
    assert a.dtype == b.dtype and a.largest_segment_id == b.largest_segment_id == 7
    assert _layers_json(ours) == _layers_json(theirs)


@pytest.mark.filterwarnings("ignore:Data type .* with multiple channels:UserWarning")
def test_dtype_per_layer_is_the_dtype_of_all_channels(tmp_path):
    # the oldest spelling; webknossos 4.3.3 no longer reads it (it makes uint8), wkpy
    # keeps its meaning: the dtype of all channels together
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    assert ds.add_layer("rgb", "color", dtype_per_layer="uint24", num_channels=3).dtype == np.uint8
    assert ds.add_layer("two", "color", dtype_per_layer="uint16", num_channels=2).dtype == np.uint8
    assert ds.add_layer("one", "color", dtype_per_layer=np.float32).dtype == np.float32
    assert ds.get_layer("rgb").num_channels == 3


@pytest.mark.parametrize("args,kwargs", [
    (("c", "color"), dict(dtype="uint8", dtype_per_channel="uint8")),   # AttributeError
    (("c", "color"), dict(dtype="int64")),                              # not shown for color
    (("c", "color"), dict(dtype="float64")),
    (("c", "segmentation"), dict(dtype="float32")),
    (("c", "color"), dict(dtype="complex64")),
    (("c", "color"), dict(dtype="bogus-type")),
    (("c", "foo"), dict()),                                             # RuntimeError
    (("c/d", "color"), dict()),                                         # ValueError
    ((".c", "color"), dict()),
    (("with space", "color"), dict()),
    (("c", "color"), dict(data_format="bogus")),                        # ValueError
    (("existing", "color"), dict()),                                    # IndexError
])
def test_add_layer_refuses_what_webknossos_refuses(tmp_path, args, kwargs):
    ours, theirs = _pair(tmp_path)
    _add_both(ours, theirs, "existing", "color")
    before = _layers_json(ours)
    kwargs = dict(kwargs, data_format=kwargs.get("data_format", "zarr3"))
    expected = _raised(lambda: theirs.add_layer(*args, **kwargs))
    assert expected and expected <= _raised(lambda: ours.add_layer(*args, **kwargs))
    assert _layers_json(ours) == before and not (ours.path / args[0]).exists() or args[0] == "existing"
    with pytest.raises(wk.WkError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours.add_layer(*args, **kwargs)


def test_multi_channel_warning_matches_webknossos(tmp_path):
    ours, theirs = _pair(tmp_path)
    for ds in (ours, theirs):
        with pytest.warns(UserWarning, match="uint16 with multiple channels"):
            ds.add_layer("two", "color", dtype="uint16", num_channels=2, data_format="zarr3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _add_both(ours, theirs, "rgb", "color", dtype="uint8", num_channels=3)  # RGB: no warning


def test_get_or_add_layer_matches_webknossos(tmp_path):
    ours, theirs = _pair(tmp_path)
    for ds in (ours, theirs):
        first = ds.get_or_add_layer("seg", "segmentation", dtype="uint32", data_format="zarr3",
                                    largest_segment_id=3)
        assert ds.get_or_add_layer("seg", "segmentation", dtype=np.uint32) is first
        assert ds.get_or_add_layer("seg", "segmentation") is first
    assert _layers_json(ours) == _layers_json(theirs)
    for kwargs in (dict(dtype="uint8"), dict(num_channels=2), dict(dtype="uint32", dtype_per_channel="uint32")):
        expected = _raised(lambda: theirs.get_or_add_layer("seg", "segmentation", **kwargs))
        assert expected and expected <= _raised(lambda: ours.get_or_add_layer("seg", "segmentation", **kwargs))
    expected = _raised(lambda: theirs.get_or_add_layer("seg", "color"))
    assert expected and expected <= _raised(lambda: ours.get_or_add_layer("seg", "color"))


def test_add_layer_like_keeps_dtype_and_channels(tmp_path):
    ours, theirs = _pair(tmp_path)
    _add_both(ours, theirs, "rgb", "color", dtype="uint8", num_channels=3)
    ours.get_layer("rgb").bounding_box = wk.BoundingBox((1, 2, 3), (10, 20, 30))
    theirs.get_layer("rgb").bounding_box = webknossos.BoundingBox((1, 2, 3), (10, 20, 30))
    a = ours.add_layer_like(ours.get_layer("rgb"), "copy")
    b = theirs.add_layer_like(theirs.get_layer("rgb"), "copy")
    assert (a.dtype, a.num_channels, a.data_format) == (b.dtype, b.num_channels, b.data_format.value)
    assert _layers_json(ours) == _layers_json(theirs)
    for name in ("copy", "bad name"):
        expected = _raised(lambda: theirs.add_layer_like(theirs.get_layer("rgb"), name))
        assert expected and expected <= _raised(lambda: ours.add_layer_like(ours.get_layer("rgb"), name))


# ---- data formats everywhere -----------------------------------------------------------------

def test_data_format_enum_is_accepted_by_copies(tmp_path):
    ours = wk.Dataset(tmp_path / "ours", voxel_size=(1, 1, 1))
    layer = ours.add_layer("color", "color", dtype="uint8", data_format=wk.DataFormat.WKW)
    data = random_volume((1, 40, 30, 20), "uint8")
    layer.add_mag(1, chunk_shape=8, shard_shape=32).write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)
    copy = ours.copy_dataset(tmp_path / "copy", data_format=wk.DataFormat.Zarr3, chunk_shape=32, shard_shape=64)
    assert copy.get_layer("color").data_format == wk.DataFormat.Zarr3
    other = copy.add_copy_layer(layer, "again", data_format=wk.DataFormat.WKW)
    assert other.data_format == "wkw"
    box = dict(absolute_offset=(0, 0, 0), size=(40, 30, 20))
    assert np.array_equal(other.get_mag(1).read(**box), layer.get_mag(1).read(**box))
    # webknossos reads the converted copy and sees the same voxels
    assert np.array_equal(webknossos.Dataset.open(tmp_path / "copy").get_layer("color").get_mag(1).read(**box),
                          data)
    with pytest.raises(ValueError):
        ours.copy_dataset(tmp_path / "never", data_format="bogus")
    assert not (tmp_path / "never").exists()
    assert ours.add_layer("zarr2", "color", data_format=wk.DataFormat.Zarr).data_format == "zarr"
    with pytest.raises(wk.UnsupportedError):
        ours.add_layer("n5", "color", data_format=wk.DataFormat.N5)


def test_default_format_is_wkw_and_switchable(tmp_path, monkeypatch):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    monkeypatch.delenv("WKPY_DEFAULT_DATA_FORMAT", raising=False)
    assert ds.add_layer("a", "color").data_format == wk.DataFormat.WKW
    monkeypatch.setenv("WKPY_DEFAULT_DATA_FORMAT", "zarr3")            # read at call time
    b = ds.add_layer("b", "color")
    assert b.data_format == wk.DataFormat.Zarr3
    assert _layers_json(ds)[1]["dataFormat"] == "zarr3"
    monkeypatch.setenv("WKPY_DEFAULT_DATA_FORMAT", "bogus")
    with pytest.raises(ValueError, match="WKPY_DEFAULT_DATA_FORMAT"):
        ds.add_layer("c", "color")
    assert "c" not in ds.layers


def test_add_layer_for_existing_files_finds_the_format(tmp_path, monkeypatch):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("z", "color", data_format="zarr3").add_mag(1, chunk_shape=32, shard_shape=64).write(
        np.ones((1, 32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
    (ds.path / "z").rename(tmp_path / "moved")
    ds.delete_layer("z") if (ds.path / "z").exists() else None
    ds2 = wk.Dataset(tmp_path / "ds2", voxel_size=(1, 1, 1))
    (tmp_path / "moved").rename(ds2.path / "found")
    monkeypatch.setenv("WKPY_DEFAULT_DATA_FORMAT", "wkw")
    layer = ds2.add_layer_for_existing_files("found", "color")
    assert layer.data_format == "zarr3" and layer.get_mag(1).read().sum() == 32 ** 3


# ---- wkpy.utils ----------------------------------------------------------------------------

def test_utils_match_webknossos(tmp_path):
    from upath import UPath
    from webknossos import utils as theirs

    from wkpy import utils as ours

    root = tmp_path / "ds"
    (root / "color" / "1").mkdir(parents=True)
    (root / "color" / "1" / "f.bin").write_bytes(b"abc")
    (root / "color" / "skip.me").write_bytes(b"x")
    for path, base in [(root / "color" / "1", root), ("color/1", root), (tmp_path / "elsewhere", root),
                       (root / "color", None)]:
        assert ours.dump_path(path, base) == theirs.dump_path(UPath(path), None if base is None else UPath(base))
    for path, base in [("rel", None), (root, "relative/base")]:
        expected = _raised(lambda: theirs.dump_path(UPath(path), None if base is None else UPath(base)))
        assert expected and expected <= _raised(lambda: ours.dump_path(path, base))
    assert ours.is_fs_path(root) and theirs.is_fs_path(UPath(root))
    assert not ours.is_fs_path("s3://bucket/key") and not theirs.is_fs_path(UPath("https://example.com/x"))
    assert not ours.is_fs_path("https://example.com/x")

    ours.copytree(root, tmp_path / "ours", ignore=lambda folder, names: {"skip.me"})
    theirs.copytree(UPath(root), UPath(tmp_path / "theirs"), ignore=lambda folder, names: {"skip.me"})
    listing = [sorted(p.relative_to(tmp_path / side).as_posix() for p in (tmp_path / side).rglob("*"))
               for side in ("ours", "theirs")]
    assert listing[0] == listing[1] == ["color", "color/1", "color/1/f.bin"]
    ours.rmtree(tmp_path / "ours")
    ours.rmtree(tmp_path / "ours")                                    # gone already: no error
    assert not (tmp_path / "ours").exists()

    def scaled(a, b=1, *, c=0):
        """doc"""
        return a * b + c

    for lib in (ours, theirs):
        part = lib.named_partial(scaled, b=3, c=1)
        assert part.__name__ == "scaled" and part.__doc__ == "doc" and part(2) == 7
    assert list(ours.get_chunks(list(range(7)), 3)) == list(theirs.get_chunks(list(range(7)), 3))
    assert ours.snake_to_camel_case("largest_segment_id") == theirs.snake_to_camel_case("largest_segment_id")
    assert ours.count_defined_values([1, None, 0]) == theirs.count_defined_values([1, None, 0]) == 2
    ours.time_start("x")
    ours.time_stop("x")
    with pytest.raises(KeyError):
        ours.time_stop("x")


def test_dataset_properties_module_names_wkpy_classes():
    from wkpy import dataset_properties as props
    from wkpy.properties import DatasetProperties, MagProperties

    assert props.DatasetProperties is DatasetProperties and props.MagViewProperties is MagProperties
    import sys

    theirs = sys.modules["webknossos.dataset_properties"]   # (webknossos' package attribute is shadowed)
    assert set(props.__all__) <= set(dir(theirs))
    assert props.DataFormat is wk.DataFormat and wk.DatasetProperties is DatasetProperties
    assert set(props.__all__) <= set(wk.__all__)
