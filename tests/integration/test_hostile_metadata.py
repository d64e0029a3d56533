"""Hostile metadata: deep JSON, absurd shapes, contradicting arrays, absurd bounding boxes.

Each input must end in a `wkpy.errors` class naming the file (never a RecursionError or
MemoryError), and work must follow the data on disk, not the size a file claims.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np
import pytest

import wkpy as wk
from wkpy.errors import InvalidRequestError, PropertiesError, WkError
from wkpy.storage._zarr3_meta import parse_array, parse_array_doc

HUGE = 2**40


def _dataset(tmp_path, data_format="zarr3", name="color", category="color", dtype="uint8", compress=True):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(11, 11, 25))
    kwargs = {"largest_segment_id": 0} if category == "segmentation" else {}
    layer = ds.add_layer(name, category, dtype=dtype, data_format=data_format, **kwargs)
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32, compress=compress)
    data = (np.arange(32 * 32 * 32, dtype=np.uint64) % 251 + 1).astype(dtype).reshape(32, 32, 32)
    mag.write(data, absolute_offset=(64, 32, 0))
    return ds, data


def _edit_json(file, change):
    obj = json.loads(file.read_text())
    change(obj)
    file.write_text(json.dumps(obj))


def _deep_text(depth: int) -> str:
    return '{"a": [' * (depth // 2) + "1" + "]}" * (depth // 2)


# ------------------------------------------------------------------ zarr.json depth


@pytest.mark.parametrize("depth", [600, 900, 5000])
@pytest.mark.parametrize("key", ["attributes", "unknown_extension"])
def test_deeply_nested_zarr_json_is_a_properties_error(tmp_path, depth, key):
    ds, _ = _dataset(tmp_path)
    file = ds.path / "color" / "1" / "zarr.json"
    text = file.read_text()
    file.write_text(text[:-1] + f', "{key}": ' + _deep_text(depth) + "}")
    with pytest.raises(PropertiesError) as info:
        wk.Dataset.open(ds.path).get_layer("color").get_mag(1).read()
    assert str(file) in str(info.value)
    with pytest.raises(PropertiesError, match="zarr.json"):
        parse_array(file)


def test_nested_zarr_json_within_the_limit_reads(tmp_path):
    ds, data = _dataset(tmp_path)
    file = ds.path / "color" / "1" / "zarr.json"
    _edit_json(file, lambda o: o.__setitem__("attributes", {"deep": json.loads(_deep_text(90))}))
    got = wk.Dataset.open(ds.path).get_layer("color").get_mag(1).read(absolute_offset=(64, 32, 0), size=(32, 32, 32))
    np.testing.assert_array_equal(got[0], data)


# ------------------------------------------------------------ properties file depth


@pytest.mark.parametrize("depth", [600, 900, 5000])
@pytest.mark.parametrize("where", ["unknown", "layer_view", "dataset_view"])
def test_deeply_nested_properties_refused_at_open(tmp_path, depth, where):
    ds, _ = _dataset(tmp_path)
    file = ds.path / "datasource-properties.json"
    obj = json.loads(file.read_text())
    if where == "unknown":
        obj["someTool"] = "__deep__"
    elif where == "layer_view":
        obj["dataLayers"][0]["defaultViewConfiguration"] = {"x": "__deep__"}
    else:
        obj["defaultViewConfiguration"] = {"x": "__deep__"}
    file.write_text(json.dumps(obj).replace('"__deep__"', _deep_text(depth)))
    with pytest.raises(PropertiesError) as info:
        wk.Dataset.open(ds.path)
    assert str(file) in str(info.value)


def test_a_too_deep_view_configuration_set_later_is_refused_when_saving(tmp_path):
    ds, _ = _dataset(tmp_path)
    file = ds.path / "datasource-properties.json"
    before = file.read_text()
    deep = 1
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(WkError) as info:
        ds.get_layer("color").default_view_configuration = deep
    assert not isinstance(info.value, RecursionError)
    assert file.read_text() == before


# ------------------------------------------------------------ zarr.json sizes


def _doc(tmp_path):
    ds, _ = _dataset(tmp_path)
    file = ds.path / "color" / "1" / "zarr.json"
    return file, json.loads(file.read_text())


@pytest.mark.parametrize("field,value,message", [
    ("shape", [99999999999, 64, 64, 32], "shape[0] (channels)"),
    ("shape", [1, 2**63, 64, 32], "shape"),
    ("shape", [1, -1, 64, 32], "shape"),
    ("shape", [1, 1.5, 64, 32], "shape"),
    ("shape", [1, True, 64, 32], "shape"),
    ("grid", [1, 2**31 + 1, 32, 32], "chunk_grid.configuration.chunk_shape"),
    ("grid", [1, 0, 32, 32], "chunk_grid.configuration.chunk_shape"),
    ("grid", [1, 2**20, 2**20, 32], "chunk_grid.configuration.chunk_shape"),   # 2**35 chunks per shard
    ("grid", [1, 2**16, 2**16, 2**16], "chunk_grid.configuration.chunk_shape"),  # 2**48-byte shards
    ("inner", [1, 2**11, 2**11, 2**11], "codecs[0].configuration.chunk_shape"),  # 8 GiB chunks
    ("inner", [1, 8, 8, "8"], "codecs[0].configuration.chunk_shape"),
])
def test_absurd_zarr_sizes_are_properties_errors(tmp_path, field, value, message):
    file, doc = _doc(tmp_path)
    if field == "shape":
        doc["shape"] = value
    elif field == "grid":
        doc["chunk_grid"]["configuration"]["chunk_shape"] = value
        doc["codecs"][0]["configuration"]["chunk_shape"] = [1, 1, 1, 1]
    else:
        doc["chunk_grid"]["configuration"]["chunk_shape"] = [1, 2**11, 2**11, 2**11]
        doc["codecs"][0]["configuration"]["chunk_shape"] = value
    with pytest.raises(PropertiesError) as info:
        parse_array_doc(file, doc)
    assert str(file) in str(info.value) and message in str(info.value)
    file.write_text(json.dumps(doc))
    with pytest.raises(PropertiesError) as info:
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read(absolute_offset=(64, 32, 0),
                                                                             size=(8, 8, 8))
    assert str(file) in str(info.value) and message in str(info.value)


def test_huge_channel_count_in_zarr_json_never_allocates(tmp_path):
    file, doc = _doc(tmp_path)
    doc["shape"][0] = 99999999999
    file.write_text(json.dumps(doc))
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    with pytest.raises(PropertiesError, match="channels"):
        mag.read(absolute_offset=(64, 32, 0), size=(32, 32, 32))


# -------------------------------------------- arrays contradicting the properties


@pytest.mark.parametrize("change,field", [
    (lambda d: d.update(data_type="uint16"), "elementClass"),
    (lambda d: d.update(data_type="float32"), "elementClass"),
    (lambda d: (d["shape"].__setitem__(0, 2), d["chunk_grid"]["configuration"]["chunk_shape"].__setitem__(0, 2),
                d["codecs"][0]["configuration"]["chunk_shape"].__setitem__(0, 2)), "numChannels"),
    (lambda d: (d["shape"].__setitem__(0, 4096), d["chunk_grid"]["configuration"]["chunk_shape"].__setitem__(0, 4096),
                d["codecs"][0]["configuration"]["chunk_shape"].__setitem__(0, 4096)), "numChannels"),
])
def test_zarr_array_contradicting_the_layer_is_refused(tmp_path, change, field):
    file, doc = _doc(tmp_path)
    change(doc)
    file.write_text(json.dumps(doc))
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    for op in (lambda: mag.read(absolute_offset=(64, 32, 0), size=(8, 8, 8)), lambda: mag.info,
               lambda: mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))):
        with pytest.raises(PropertiesError) as info:
            op()
        assert str(file) in str(info.value) and field in str(info.value)


@pytest.mark.parametrize("offset,value,field", [(6, 2, "elementClass"), (7, 2, "numChannels"),
                                                (7, 255, "numChannels")])
def test_wkw_header_contradicting_the_layer_is_refused(tmp_path, offset, value, field):
    ds, _ = _dataset(tmp_path, "wkw")
    header = ds.path / "color" / "1" / "header.wkw"
    raw = bytearray(header.read_bytes())
    raw[offset] = value
    if offset == 6:
        raw[7] = 2  # uint16, one channel
    header.write_bytes(bytes(raw))
    mag = wk.Dataset.open(ds.path).get_layer("color").get_mag(1)
    with pytest.raises(PropertiesError) as info:
        mag.read(absolute_offset=(64, 32, 0), size=(8, 8, 8))
    assert str(header) in str(info.value) and field in str(info.value)


def test_rgb_layer_matching_its_array_opens(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("rgb", "color", dtype="uint8", num_channels=3)
    layer.add_mag(1, chunk_shape=8, shard_shape=32).write(np.full((3, 8, 8, 8), 7, np.uint8),
                                                         absolute_offset=(0, 0, 0), allow_unaligned=True)
    mag = wk.Dataset.open(ds.path).get_layer("rgb").get_mag(1)
    assert mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)).shape == (3, 8, 8, 8)


# ------------------------------------------------------------ hostile layer names


@pytest.mark.parametrize("name", ["..", ".", "../neighbour", "a/b", "/tmp/x", ".hidden", ""])
def test_hostile_layer_name_is_refused_at_open_and_nothing_is_touched(tmp_path, name):
    ds, _ = _dataset(tmp_path)
    neighbour = tmp_path / "neighbour"
    neighbour.mkdir()
    (neighbour / "keep").write_text("x")
    file = ds.path / "datasource-properties.json"
    _edit_json(file, lambda o: o["dataLayers"][0].__setitem__("name", name))
    with pytest.raises(PropertiesError) as info:
        wk.Dataset.open(ds.path)
    assert str(file) in str(info.value) and "dataLayers[0].name" in str(info.value)
    assert (neighbour / "keep").read_text() == "x"
    assert (ds.path / "color" / "1" / "zarr.json").is_file()


@pytest.mark.parametrize("path", ["..", "../..", ".", "./color/../.."])
def test_mag_path_of_the_dataset_or_a_parent_is_refused_at_open(tmp_path, path):
    ds, _ = _dataset(tmp_path)
    file = ds.path / "datasource-properties.json"
    _edit_json(file, lambda o: o["dataLayers"][0]["mags"][0].__setitem__("path", path))
    with pytest.raises(PropertiesError) as info:
        wk.Dataset.open(ds.path)
    assert str(file) in str(info.value) and "dataLayers[0].mags[0].path" in str(info.value)


# ------------------------------------------- work follows the data, not the box


def _with_huge_box(ds):
    file = ds.path / "datasource-properties.json"

    def grow(obj):
        for layer in obj["dataLayers"]:
            layer["boundingBox"] = {"topLeft": [0, 0, 0], "width": HUGE, "height": HUGE, "depth": HUGE}

    _edit_json(file, grow)
    return wk.Dataset.open(ds.path)


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_downsample_of_a_huge_box_follows_the_shards_on_disk(tmp_path, data_format):
    small, data = _dataset(tmp_path / "small", data_format)
    small.get_layer("color").downsample(coarsest_mag=wk.Mag(4), sampling_mode="isotropic")
    big, _ = _dataset(tmp_path / "big", data_format)
    big = _with_huge_box(big)
    layer = big.get_layer("color")
    before = _maxrss_bytes()
    layer.downsample(coarsest_mag=wk.Mag(4), sampling_mode="isotropic")
    assert _maxrss_bytes() - before < 500 * 2**20
    for mag in ("2", "4"):
        box = wk.BoundingBox((64, 32, 0), (32, 32, 32))
        expected = small.get_layer("color").get_mag(mag).read(absolute_bounding_box=box)
        got = layer.get_mag(mag).read(absolute_bounding_box=box)
        assert expected.any()
        np.testing.assert_array_equal(got, expected)
        # nothing was written where there is no data
        assert layer.get_mag(mag).read(absolute_bounding_box=wk.BoundingBox((HUGE - 64,) * 3, (64,) * 3)).max() == 0


def test_downsample_with_the_default_ladder_of_a_huge_box_finishes(tmp_path):
    ds, data = _dataset(tmp_path, "wkw")
    layer = _with_huge_box(ds).get_layer("color")
    before = _maxrss_bytes()
    layer.downsample()
    assert _maxrss_bytes() - before < 500 * 2**20
    coarsest = max(layer.mags, key=lambda m: m.max_dim)
    assert coarsest.max_dim >= 2**30
    assert layer.get_mag("2-2-1").read(absolute_offset=(64, 32, 0), size=(32, 32, 32)).any()


def test_upsample_of_a_huge_box_follows_the_shards_on_disk(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8")
    layer.add_mag(2, chunk_shape=8, shard_shape=32).write(np.full((32, 32, 32), 9, np.uint8),
                                                          absolute_offset=(64, 64, 0))
    layer = _with_huge_box(ds).get_layer("color")
    layer.upsample(from_mag=2, finest_mag=1, sampling_mode="isotropic")
    got = layer.get_mag(1).read(absolute_offset=(60, 60, 0), size=(72, 72, 64))
    assert (got[0, 4:68, 4:68, :] == 9).all() and got[0, :4].max() == 0 and got[0, 68:].max() == 0


@pytest.mark.parametrize("operation", ["for_each_chunk", "map_chunk", "chunk", "for_zipped_chunks",
                                       "content_is_equal"])
def test_chunked_operations_refuse_an_absurd_box(tmp_path, operation):
    ds, _ = _dataset(tmp_path, "wkw")
    mag = _with_huge_box(ds).get_layer("color").get_mag(1)
    calls = []
    with pytest.raises(InvalidRequestError, match="chunks"):
        if operation == "for_each_chunk":
            mag.for_each_chunk(calls.append)
        elif operation == "map_chunk":
            mag.map_chunk(calls.append)
        elif operation == "chunk":
            mag.chunk((32, 32, 32))
        elif operation == "for_zipped_chunks":
            mag.for_zipped_chunks(calls.append, mag)
        else:
            mag.content_is_equal(mag)
    assert calls == []
    # a bounded view of the same mag still works
    view = mag.get_view(absolute_offset=(64, 32, 0), size=(64, 32, 32), read_only=True)
    assert len(view.map_chunk(lambda v: int(v.read().max()))) == 2


def test_refresh_largest_segment_id_walks_the_shards_on_disk_not_an_absurd_box(tmp_path):
    ds, data = _dataset(tmp_path, "wkw", name="seg", category="segmentation", dtype="uint32")
    layer = _with_huge_box(ds).get_layer("seg")
    layer.refresh_largest_segment_id()
    assert layer.largest_segment_id == int(data.max())
    assert wk.Dataset.open(tmp_path / "ds").get_layer("seg").largest_segment_id == int(data.max())


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_copy_and_compress_of_a_huge_box_still_finish(tmp_path, data_format):
    ds, data = _dataset(tmp_path, data_format, compress=False)
    opened = _with_huge_box(ds)
    copy = opened.copy_dataset(tmp_path / "copy")
    got = copy.get_layer("color").get_mag(1).read(absolute_offset=(64, 32, 0), size=(32, 32, 32))
    np.testing.assert_array_equal(got[0], data)
    mag = opened.get_layer("color").get_mag(1)
    assert not mag.info.compression
    mag.compress()
    mag = wk.Dataset.open(ds.path).get_layer("color").get_mag(1)
    assert mag.info.compression
    np.testing.assert_array_equal(mag.read(absolute_offset=(64, 32, 0), size=(32, 32, 32))[0], data)


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_reading_an_absurd_box_whole_is_a_typed_error_not_an_allocation(tmp_path, data_format):
    ds, data = _dataset(tmp_path, data_format)
    mag = _with_huge_box(ds).get_layer("color").get_mag(1)
    with pytest.raises(InvalidRequestError, match="more than this machine's memory"):
        mag.read()
    with pytest.raises(InvalidRequestError):
        with mag.get_buffered_slice_reader() as reader:
            next(iter(reader))
    assert np.array_equal(mag.read(absolute_offset=(64, 32, 0), size=(32, 32, 32))[0], data)


def _nd_dataset_with_huge_t(path):
    """A tiny t x 16³ Zarr3 layer whose additionalAxes then claim t in [0, 10**12)."""
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    box = wk.NDBoundingBox(topleft=(0, 0, 0, 0), size=(2, 16, 16, 16), axes=("t", "x", "y", "z"), index=(0, 1, 2, 3))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3", bounding_box=box)
    layer.add_mag(1, chunk_shape=8, shard_shape=16).write(np.ones((2, 16, 16, 16), np.uint8),
                                                         absolute_bounding_box=box)
    props = path / "datasource-properties.json"
    doc = json.loads(props.read_text())
    doc["dataLayers"][0]["additionalAxes"][0]["bounds"] = [0, 10**12]
    props.write_text(json.dumps(doc))
    return wk.Dataset.open(path).get_layer("color")


@pytest.mark.parametrize("export", ["as_tiff_stack", "as_ome_tiff"])
def test_tiff_exports_refuse_an_absurd_additional_axis(tmp_path, export):
    layer = _nd_dataset_with_huge_t(tmp_path / "ds")
    out = tmp_path / ("out" if export == "as_tiff_stack" else "out.ome.tiff")
    with pytest.raises(InvalidRequestError, match="planes"):
        getattr(layer.export, export)(output_path=out)
    assert not out.exists()
    # a box along t with data exports
    box = layer.bounding_box.with_bounds("t", 0, 2)
    getattr(layer.export, export)(output_path=out, bounding_box=box)
    assert out.exists()


def test_additional_axes_the_array_lacks_are_a_properties_error(tmp_path):
    _nd_dataset_with_huge_t(tmp_path / "ds")
    props = tmp_path / "ds" / "datasource-properties.json"
    doc = json.loads(props.read_text())
    doc["dataLayers"][0]["additionalAxes"].append({"name": "s", "bounds": [0, 2], "index": 4})
    props.write_text(json.dumps(doc))
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    for op in (lambda: mag.read(), lambda: mag.info):
        with pytest.raises(PropertiesError) as info:
            op()
        assert "zarr.json" in str(info.value) and "additionalAxes" in str(info.value)


def test_slice_writer_and_reader_refuse_an_absurd_additional_axis(tmp_path):
    layer = _nd_dataset_with_huge_t(tmp_path / "ds")
    mag = layer.get_mag(1)
    with pytest.raises(InvalidRequestError, match="positions|steps"):
        with mag.get_buffered_slice_writer(absolute_bounding_box=layer.bounding_box) as writer:
            writer.send(np.ones((16, 16), np.uint8))
    with pytest.raises(InvalidRequestError, match="steps"):
        with mag.get_buffered_slice_reader(absolute_bounding_box=layer.bounding_box) as reader:
            next(iter(reader))
    # a box along t with data reads slice by slice
    with mag.get_buffered_slice_reader(absolute_bounding_box=layer.bounding_box.with_bounds("t", 1, 1)) as reader:
        assert sum(int(s.sum()) for s in reader) == 16 ** 3
