"""Dataset operations on n-d layers (Zarr3 layers with ``additionalAxes``), each made
through the same calls by wkpy and by webknossos 4.3.3 and compared: properties JSON,
``zarr.json`` files, voxels; webknossos reads what wkpy wrote.

Where webknossos 4.3.3 itself fails on n-d layers (``content_is_equal``,
``MagView.compress``, ``rechunk``, ``upsample`` of a layer without ``c``: assertions
about three-component vectors), wkpy's result is checked against what webknossos reads
and against numpy instead, and the test says so.

Layers are tiny: t=3 (or c=2 × t=2, or t=2 × s=2) by 32³, 8³ chunks in 16³ shards.
webknossos runs in-process (cluster_tools' SequentialExecutor).
"""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import tifffile
import webknossos
from cluster_tools import SequentialExecutor

import wkpy as wk
from peers import layers_json, quiet, raised
from wkpy.dataset.layer._downsampling_utils import InterpolationModes, downsample_cube_job
from wkpy.errors import InvalidRequestError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

# (axes in array order, topleft, size, channels)
LAYOUTS = {
    "txyz": (("t", "x", "y", "z"), (1, 0, 0, 0), (3, 32, 32, 32), 1),
    "ctxyz": (("c", "t", "x", "y", "z"), (0, 0, 0, 16, 0), (2, 2, 32, 32, 32), 2),
    "tsxyz": (("t", "s", "x", "y", "z"), (0, 2, 0, 0, 0), (2, 2, 32, 32, 32), 1),
}


def _box(lib, layout):
    axes, topleft, size, _ = LAYOUTS[layout]
    return lib.NDBoundingBox(topleft=topleft, size=size, axes=axes, index=tuple(range(len(axes))))


def _data(layout, dtype="uint8"):
    size = LAYOUTS[layout][2]
    grid = np.indices(size).sum(axis=0)
    return ((grid * 7 + np.random.default_rng(len(layout)).integers(0, 9, size)) % 200 + 1).astype(dtype)


def _dataset(lib, path, layout, *, compress=True, category="color", dtype="uint8", chunk=8, shard=16):
    """The same n-d layer (mag 1 written whole) made by `lib` (webknossos or wkpy)."""
    channels = LAYOUTS[layout][3]
    kwargs = {"largest_segment_id": 300} if category == "segmentation" else {}
    ds = quiet(lambda: lib.Dataset(path, voxel_size=(11, 11, 25)))
    layer = quiet(lambda: ds.add_layer("color", category, dtype=dtype, num_channels=channels,
                                       data_format="zarr3", bounding_box=_box(lib, layout), **kwargs))
    mag = quiet(lambda: layer.add_mag(1, chunk_shape=chunk, shard_shape=shard, compress=compress))
    quiet(lambda: mag.write(_data(layout, dtype), absolute_bounding_box=layer.bounding_box))
    return ds, layer


def _theirs(path):
    return quiet(lambda: webknossos.Dataset.open(path))


def _layers(path: Path) -> list:
    """`layers_json` of `path`, with the folder of the test ("ours"/"theirs") made neutral in
    the absolute paths of referenced mags."""
    text = json.dumps(layers_json(path))
    for side in ("ours", "theirs"):
        text = text.replace(f"/{side}/", "/<side>/")
    return json.loads(text)


def _same_files(ours: Path, theirs: Path, *names: str) -> None:
    """Same ``dataLayers`` JSON and, for each of `names` (paths inside the datasets), the
    same ``zarr.json`` document."""
    assert _layers(ours) == _layers(theirs)
    for name in names:
        assert json.loads((ours / name).read_text()) == json.loads((theirs / name).read_text()), name


def _read_all(layer, mag):
    view = layer.get_mag(mag)
    return quiet(lambda: view.read(absolute_bounding_box=view.bounding_box))


# ---- chunked work on executors ---------------------------------------------------------
def _sum(view) -> int:
    return int(view.read().astype(np.int64).sum())


def _fill(args, json_update_allowed: bool) -> None:
    """Write the chunk's index + 1 into the chunk (wkpy: without updating the JSON)."""
    view, i = args
    data = np.full(view.bounding_box.size, i + 1, view.get_dtype())
    kwargs = {} if json_update_allowed else {"json_update_allowed": False}
    view.write(data, absolute_bounding_box=view.bounding_box, **kwargs)


def _plus_one(args, json_update_allowed: bool) -> None:
    source, target, _ = args
    kwargs = {} if json_update_allowed else {"json_update_allowed": False}
    target.write(source.read() + 1, absolute_bounding_box=target.bounding_box, **kwargs)


@pytest.mark.parametrize("layout,executor", [("txyz", "processes"), ("tsxyz", "threads")])
def test_chunked_work_on_executors_matches_webknossos(tmp_path, layout, executor):
    _, ours = _dataset(wk, tmp_path / "ours", layout)
    _, theirs = _dataset(webknossos, tmp_path / "theirs", layout)
    mine, their = ours.get_mag(1), theirs.get_mag(1)
    pool = ProcessPoolExecutor(2) if executor == "processes" else ThreadPoolExecutor(2)
    with pool, SequentialExecutor() as seq:
        # chunk: one view per position along the additional axes, tiled along x, y, z
        shape = (16, 16, 32)
        assert [repr(v.bounding_box) for v in mine.chunk(shape)] == \
            [repr(v.bounding_box) for v in quiet(lambda: list(their.chunk(shape)))]
        # map_chunk: wkpy's results in chunk order; webknossos 4.3.3 returns them in the order
        # of its executor's as_completed (not chunk order, as its docstring says): compared sorted
        sums = mine.map_chunk(_sum, chunk_shape=shape, executor=pool)
        assert sums == [_sum(v) for v in mine.chunk(shape, shape)]
        assert sorted(sums) == sorted(quiet(lambda: their.map_chunk(_sum, chunk_shape=shape, executor=seq)))
        assert sum(sums) == int(_data(layout).astype(np.int64).sum())
        assert sorted(mine.map_chunk(_sum, executor=pool)) == sorted(quiet(lambda: their.map_chunk(_sum, executor=seq)))

        # writers on the executor, the JSON left alone (json_update_allowed=False)
        mine.for_each_chunk(partial(_fill, json_update_allowed=False), chunk_shape=(16, 16, 16), executor=pool)
        quiet(lambda: their.for_each_chunk(partial(_fill, json_update_allowed=True), chunk_shape=(16, 16, 16),
                                           executor=seq))
        filled = _read_all(ours, 1)
        np.testing.assert_array_equal(filled, _read_all(theirs, 1))
        assert filled.min() >= 1 and filled.max() == len(list(mine.chunk((16, 16, 16))))

        # zipped chunks into a new mag of another layer
        outs = []
        for lib, layer, ex in ((wk, ours, pool), (webknossos, theirs, seq)):
            other = quiet(lambda: layer.dataset.add_layer("other", "color", dtype="uint8",
                                                          num_channels=LAYOUTS[layout][3], data_format="zarr3",
                                                          bounding_box=layer.bounding_box))
            target = quiet(lambda: other.add_mag(1, chunk_shape=8, shard_shape=16))
            quiet(lambda: layer.get_mag(1).for_zipped_chunks(partial(_plus_one, json_update_allowed=lib is webknossos),
                                                             target, executor=ex))
            outs.append(_read_all(other, 1))
    np.testing.assert_array_equal(outs[0], filled + 1)
    np.testing.assert_array_equal(outs[0], outs[1])
    _same_files(tmp_path / "ours", tmp_path / "theirs", "color/1/zarr.json", "other/1/zarr.json")


def test_content_is_equal_compares_every_position(tmp_path):
    # webknossos 4.3.3 raises an AssertionError (three-component vectors) on n-d views here;
    # wkpy's answer is checked against numpy on what webknossos reads
    ds, ours = _dataset(wk, tmp_path / "ds", "tsxyz")
    twin = ds.add_layer_as_copy(ours, "twin")
    assert raised(lambda: _theirs(tmp_path / "ds").get_layer("color").get_mag(1).content_is_equal(
        _theirs(tmp_path / "ds").get_layer("twin").get_mag(1))) == {AssertionError}
    with ThreadPoolExecutor(2) as pool:
        assert ours.get_mag(1).content_is_equal(twin.get_mag(1), executor=pool)
        box = ours.bounding_box.with_bounds("t", 1, 1).with_bounds("s", 3, 1)
        twin.get_mag(1).write(np.zeros((1, 1, 8, 8, 8), np.uint8), allow_unaligned=True,
                              absolute_bounding_box=box.with_size_xyz((8, 8, 8)).with_topleft_xyz((8, 8, 16)))
        assert not ours.get_mag(1).content_is_equal(twin.get_mag(1), executor=pool)
        theirs = _theirs(tmp_path / "ds")
        assert not np.array_equal(_read_all(theirs.get_layer("color"), 1), _read_all(theirs.get_layer("twin"), 1))
        # the other positions still agree, chunk by chunk
        one = ours.get_mag(1).get_view(absolute_bounding_box=box.with_bounds("t", 0, 1), read_only=True)
        assert one.content_is_equal(twin.get_mag(1).get_view(absolute_bounding_box=one.bounding_box, read_only=True),
                                    chunk_shape=(8, 8, 8))


# ---- compress -------------------------------------------------------------------------
def test_compress_gives_what_webknossos_writes_compressed(tmp_path):
    # webknossos 4.3.3's MagView.compress fails on n-d layers (an AssertionError); its
    # compressed n-d mag, written directly, is the reference
    _, ours = _dataset(wk, tmp_path / "ours", "ctxyz", compress=False)
    _dataset(webknossos, tmp_path / "theirs", "ctxyz", compress=True)
    _, uncompressed = _dataset(webknossos, tmp_path / "plain", "ctxyz", compress=False)
    assert raised(lambda: uncompressed.get_mag(1).compress()) == {AssertionError}
    with ThreadPoolExecutor(2) as pool:
        ours.get_mag(1).compress(executor=pool)
    assert ours.get_mag(1).info.compression
    _same_files(tmp_path / "ours", tmp_path / "theirs", "color/1/zarr.json", "color/zarr.json")
    np.testing.assert_array_equal(_read_all(_theirs(tmp_path / "ours").get_layer("color"), 1), _data("ctxyz"))


# ---- downsampling and upsampling ----------------------------------------------------------
@pytest.mark.parametrize("layout,category,mode", [("ctxyz", "color", "nearest"), ("tsxyz", "segmentation", "default")])
def test_downsample_matches_webknossos(tmp_path, layout, category, mode):
    dtype = "uint16" if category == "segmentation" else "uint8"
    results = []
    for lib, root in ((wk, tmp_path / "ours"), (webknossos, tmp_path / "theirs")):
        _, layer = _dataset(lib, root, layout, category=category, dtype=dtype)
        with (ThreadPoolExecutor(2) if lib is wk else SequentialExecutor()) as ex:
            quiet(lambda: layer.downsample(coarsest_mag=lib.Mag(4), interpolation_mode=mode, chunk_shape=8,
                                           shard_shape=16, executor=ex))
            quiet(lambda: layer.downsample_mag(lib.Mag("4-4-2"), lib.Mag("8-8-4"), interpolation_mode=mode,
                                               chunk_shape=8, shard_shape=16, executor=ex))
            quiet(lambda: layer.redownsample(interpolation_mode=mode, chunk_shape=8, shard_shape=16, executor=ex))
        results.append({m.to_layer_name(): _read_all(layer, m) for m in layer.mags})
    ours, theirs = results
    assert list(ours) == list(theirs) == ["1", "2-2-1", "4-4-2", "8-8-4"]      # anisotropic voxels
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=f"mag {name}")
    assert ours["2-2-1"].any()
    _same_files(tmp_path / "ours", tmp_path / "theirs", "color/zarr.json",
                *(f"color/{m}/zarr.json" for m in ("2-2-1", "4-4-2", "8-8-4")))
    # webknossos reads wkpy's coarser mags
    np.testing.assert_array_equal(_read_all(_theirs(tmp_path / "ours").get_layer("color"), "4-4-2"), ours["4-4-2"])


def test_downsample_cube_job_on_nd_views_gives_downsample_mag(tmp_path):
    ds, layer = _dataset(wk, tmp_path / "ds", "ctxyz")
    expected = layer.downsample_mag(1, 2, chunk_shape=8, shard_shape=16).read()
    again = ds.add_layer("again", "color", dtype="uint8", num_channels=2, data_format="zarr3",
                         bounding_box=layer.bounding_box).add_mag(2, chunk_shape=8, shard_shape=16)
    job = partial(downsample_cube_job, mag_factors=(2, 2, 2), interpolation_mode=InterpolationModes.MEDIAN,
                  buffer_shape=(8, 8, 8))
    layer.get_mag(1).for_zipped_chunks(job, again, source_chunk_shape=(32, 32, 32), target_chunk_shape=(32, 32, 32))
    np.testing.assert_array_equal(again.read(), expected)


@pytest.mark.parametrize("layout", ["txyz", "ctxyz"])
def test_upsample_per_position(tmp_path, layout):
    # webknossos 4.3.3 upsamples layers with a c axis; without one it fails (KeyError 'c')
    results = []
    for lib, root in ((wk, tmp_path / "ours"), (webknossos, tmp_path / "theirs")):
        _, source = _dataset(lib, root / "src", layout)
        quiet(lambda: source.downsample_mag(lib.Mag(1), lib.Mag(2), chunk_shape=8, shard_shape=16,
                                            executor=SequentialExecutor()))
        ds = quiet(lambda: lib.Dataset(root / "up", voxel_size=(11, 11, 25)))
        layer = quiet(lambda: ds.add_layer("color", "color", dtype="uint8", num_channels=LAYOUTS[layout][3],
                                           data_format="zarr3", bounding_box=source.bounding_box))
        quiet(lambda: layer.add_mag_as_copy(source.get_mag(2), executor=SequentialExecutor()))
        call = lambda: layer.upsample(from_mag=lib.Mag(2), finest_mag=lib.Mag(1), chunk_shape=8, shard_shape=16,  # noqa: E731
                                      executor=SequentialExecutor())
        if lib is webknossos and layout == "txyz":
            assert raised(call) == {KeyError}
            results.append(None)
            continue
        quiet(call)
        results.append(_read_all(layer, 1))
    coarse = _read_all(_theirs(tmp_path / "ours" / "src").get_layer("color"), 2)
    repeated = coarse.repeat(2, -3).repeat(2, -2).repeat(2, -1)
    np.testing.assert_array_equal(results[0], repeated)
    if results[1] is not None:
        np.testing.assert_array_equal(results[0], results[1])
        _same_files(tmp_path / "ours" / "up", tmp_path / "theirs" / "up", "color/1/zarr.json")
        # the OME group: the same axes and scales; wkpy lists the mags finest first (as OME-NGFF
        # asks), webknossos in the order they were added
        groups = [json.loads((tmp_path / side / "up/color/zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]
                  for side in ("ours", "theirs")]
        assert groups[0]["axes"] == groups[1]["axes"]
        assert groups[0]["datasets"] == sorted(groups[1]["datasets"], key=lambda d: d["path"])


# ---- copies and links ----------------------------------------------------------------------
def _copies(lib, root, layout):
    ds, layer = _dataset(lib, root / "src", layout)
    other = quiet(lambda: lib.Dataset(root / "other", voxel_size=(11, 11, 25)))
    with SequentialExecutor() as ex:
        quiet(lambda: ds.copy_dataset(root / "copy", executor=ex))
        quiet(lambda: ds.shallow_copy_dataset(root / "shallow"))
        quiet(lambda: other.add_layer_as_copy(layer, "copied", executor=ex))
        quiet(lambda: other.add_layer_as_ref(layer, "ref"))
        quiet(lambda: other.add_layer_like(layer, "like"))
        mags = quiet(lambda: other.add_layer("mags", "color", dtype="uint8", num_channels=LAYOUTS[layout][3],
                                             data_format="zarr3", bounding_box=layer.bounding_box))
        quiet(lambda: mags.add_mag_as_copy(layer.get_mag(1), executor=ex))
        quiet(lambda: mags.get_or_add_mag(2, chunk_shape=8, shard_shape=16))
        quiet(lambda: mags.get_or_add_mag(2, chunk_shape=8, shard_shape=16))


@pytest.mark.parametrize("layout", ["ctxyz"])
def test_copies_and_links_match_webknossos(tmp_path, layout):
    _copies(wk, tmp_path / "ours", layout)
    _copies(webknossos, tmp_path / "theirs", layout)
    data = _data(layout)
    for name in ("copy", "shallow", "other"):
        _same_files(tmp_path / "ours" / name, tmp_path / "theirs" / name)
    _same_files(tmp_path / "ours" / "copy", tmp_path / "theirs" / "copy", "color/1/zarr.json", "color/zarr.json")
    _same_files(tmp_path / "ours" / "other", tmp_path / "theirs" / "other", "copied/1/zarr.json",
                "mags/1/zarr.json", "mags/2/zarr.json", "mags/zarr.json")
    for root in (tmp_path / "ours", tmp_path / "theirs"):            # each reads both
        for lib in (wk, webknossos):
            other = quiet(lambda: lib.Dataset.open(root / "other"))
            for ds, name in ((quiet(lambda: lib.Dataset.open(root / "copy")), "color"),
                             (quiet(lambda: lib.Dataset.open(root / "shallow")), "color"),
                             (other, "copied"), (other, "ref"), (other, "mags")):
                np.testing.assert_array_equal(_read_all(ds.get_layer(name), 1), data, err_msg=f"{root} {lib} {name}")
            assert not other.get_layer("like").mags


def test_rechunk_and_rechunking_copies_keep_axes_and_voxels(tmp_path):
    # webknossos 4.3.3 fails to rechunk n-d mags (an AssertionError), also in copy_dataset
    # with new shapes; the reference is the mag it writes directly with those shapes
    ds, layer = _dataset(wk, tmp_path / "ours", "ctxyz")
    _dataset(webknossos, tmp_path / "theirs", "ctxyz", chunk=16, shard=32)
    _, plain = _dataset(webknossos, tmp_path / "plain", "ctxyz")
    assert raised(lambda: plain.get_mag(1).rechunk(chunk_shape=16, shard_shape=32)) == {AssertionError}
    with ThreadPoolExecutor(2) as pool:
        copied = ds.copy_dataset(tmp_path / "copy", chunk_shape=16, shard_shape=32, executor=pool)
        layer.get_mag(1).rechunk(chunk_shape=16, shard_shape=32, executor=pool)
    for path in (tmp_path / "ours", tmp_path / "copy"):
        _same_files(path, tmp_path / "theirs", "color/1/zarr.json", "color/zarr.json")
        np.testing.assert_array_equal(_read_all(_theirs(path).get_layer("color"), 1), _data("ctxyz"))
    assert copied.get_layer("color").get_mag(1).info.shard_shape == (32, 32, 32)


# ---- buffered slices --------------------------------------------------------------------------
def _slices(lib, root, layout):
    _, layer = _dataset(lib, root, layout)
    mag = layer.get_mag(1)
    box = layer.bounding_box
    one = box
    for axis in (a for a in box.axes if a not in "cxyz"):
        one = one.with_bounds(axis, box.get_bounds(axis)[1] - 1, 1)
    read = {}
    for name, kwargs in (("all", {}), ("one", {"absolute_bounding_box": one}),
                         ("y", {"absolute_bounding_box": one, "dimension": "y"})):
        with mag.get_buffered_slice_reader(buffer_size=8, **kwargs) as reader:
            read[name] = [s.copy() for s in reader]
    channels = LAYOUTS[layout][3]
    shape = (channels, 32, 32) if channels > 1 else (32, 32)
    with mag.get_buffered_slice_writer(buffer_size=16, absolute_bounding_box=one) as writer:   # one position
        for z in range(32):
            writer.send(np.full(shape, 200 + z % 50, np.uint8))
    wide = box.with_topleft_xyz(box.topleft_xyz + (0, 0, 16))                                  # every position
    with mag.get_buffered_slice_writer(buffer_size=16, absolute_bounding_box=wide, dimension="x") as writer:
        for x in range(16):
            writer.send(np.full(shape[:-2] + (32, 16), x + 1, np.uint8))
    return read, _read_all(layer, 1), raised(lambda: mag.get_buffered_slice_writer(absolute_offset=(0, 0, 0)))


@pytest.mark.parametrize("layout", ["ctxyz", "tsxyz"])
def test_buffered_slices_match_webknossos(tmp_path, layout):
    ours = _slices(wk, tmp_path / "ours", layout)
    theirs = quiet(lambda: _slices(webknossos, tmp_path / "theirs", layout))
    for name in ours[0]:
        assert [s.shape for s in ours[0][name]] == [s.shape for s in theirs[0][name]], name
        for a, b in zip(ours[0][name], theirs[0][name]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert (ours[1] >= 200).any() and (ours[1] == 16).any()
    _same_files(tmp_path / "ours", tmp_path / "theirs", "color/1/zarr.json")


def test_slice_writer_without_a_box_or_with_channels_the_layer_lacks_is_refused(tmp_path):
    _, layer = _dataset(wk, tmp_path / "ds", "txyz")
    mag = layer.get_mag(1)
    for kwargs in ({}, {"absolute_offset": (0, 0, 0)}, {"relative_offset": (0, 0, 8)}):
        with pytest.raises(InvalidRequestError, match="needs relative_bounding_box or absolute_bounding_box"):
            mag.get_buffered_slice_writer(**kwargs)
    with pytest.raises(InvalidRequestError, match="channel axis"), \
            mag.get_buffered_slice_writer(absolute_bounding_box=layer.bounding_box) as writer:
        writer.send(np.zeros((1, 32, 32), np.uint8))


# ---- exports -------------------------------------------------------------------------------
@pytest.mark.parametrize("layout,crop", [("txyz", None), ("ctxyz", ((0, 1, 3, 16, 5), (2, 1, 20, 9, 13)))])
def test_exports_match_webknossos(tmp_path, layout, crop):
    for lib, name in ((wk, "ours"), (webknossos, "theirs")):
        _, layer = _dataset(lib, tmp_path / name, layout)
        quiet(lambda: layer.downsample_mag(lib.Mag(1), lib.Mag(2), chunk_shape=8, shard_shape=16,
                                           executor=SequentialExecutor()))
        box = None if crop is None else lib.NDBoundingBox(*crop, axes=LAYOUTS[layout][0],
                                                          index=tuple(range(len(LAYOUTS[layout][0]))))
        export = layer.export
        quiet(lambda: export.as_tiff_stack(output_path=tmp_path / f"stack-{name}", bounding_box=box))
        quiet(lambda: export.as_ome_tiff(output_path=tmp_path / f"{name}.ome.tif", bounding_box=box))
        quiet(lambda: export.as_ozx(output_path=tmp_path / f"{name}.ozx", bounding_box=box,
                                    executor=SequentialExecutor()))
    stacks = [sorted(p.name for p in (tmp_path / f"stack-{n}").iterdir()) for n in ("ours", "theirs")]
    assert stacks[0] == stacks[1] and stacks[0][0].startswith("t")
    for file in stacks[0]:
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "stack-ours" / file),
                                      tifffile.imread(tmp_path / "stack-theirs" / file), err_msg=file)
    with tifffile.TiffFile(tmp_path / "ours.ome.tif") as a, tifffile.TiffFile(tmp_path / "theirs.ome.tif") as b:
        assert (a.series[0].shape, a.series[0].axes) == (b.series[0].shape, b.series[0].axes)
        assert len(a.pages) == len(b.pages)
        for la, lb in zip(a.series[0].levels, b.series[0].levels, strict=True):
            np.testing.assert_array_equal(la.asarray(), lb.asarray())
    import zipfile

    with zipfile.ZipFile(tmp_path / "ours.ozx") as a, zipfile.ZipFile(tmp_path / "theirs.ozx") as b:
        assert a.namelist() == b.namelist()
        for entry in a.namelist():
            if entry.endswith("zarr.json"):
                assert json.loads(a.read(entry)) == json.loads(b.read(entry)), entry
    zarr = pytest.importorskip("zarr")
    with zarr.storage.ZipStore(tmp_path / "ours.ozx", mode="r") as a, \
            zarr.storage.ZipStore(tmp_path / "theirs.ozx", mode="r") as b:
        ga, gb = zarr.open_group(a, mode="r"), zarr.open_group(b, mode="r")
        for key in ga.array_keys():
            np.testing.assert_array_equal(ga[key][...], gb[key][...], err_msg=key)


def test_ome_tiff_of_an_axis_it_cannot_hold_is_refused_as_webknossos_refuses(tmp_path):
    _, ours = _dataset(wk, tmp_path / "ours", "tsxyz")
    _, theirs = _dataset(webknossos, tmp_path / "theirs", "tsxyz")
    with pytest.raises(InvalidRequestError, match="'s'"):
        ours.export.as_ome_tiff(output_path=tmp_path / "ours.ome.tif")
    assert raised(lambda: theirs.export.as_ome_tiff(output_path=tmp_path / "theirs.ome.tif")) == {ValueError}
    assert not (tmp_path / "ours.ome.tif").exists()


# ---- write_layer ---------------------------------------------------------------------------
def test_write_layer_of_nd_data_downsamples_each_position(tmp_path):
    # (the layer itself is compared with webknossos' in test_write_layer_nd.py; webknossos'
    # default downsampling into 1024³ shards takes gigabytes, so only webknossos reads here)
    data = _data("ctxyz")
    layer = wk.Dataset(tmp_path / "ds", voxel_size=(11, 11, 25)).write_layer(
        "color", "color", data=data, data_format="zarr3", axes=("c", "t", "x", "y", "z"),
        absolute_offset=(0, 1, 12, 16, 8))
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2-2-1", "4-4-2"]
    theirs = _theirs(tmp_path / "ds").get_layer("color")
    np.testing.assert_array_equal(_read_all(theirs, 1), data)
    coarse = _read_all(theirs, "2-2-1")
    np.testing.assert_array_equal(coarse, _read_all(layer, "2-2-1"))
    assert coarse.shape == (2, 2, 16, 16, 32) and coarse.any()
    with pytest.raises(wk.errors.UnsupportedError, match="zarr3"):
        wk.Dataset(tmp_path / "wkw", voxel_size=(1, 1, 1)).write_layer("color", "color", data=data, data_format="wkw",
                                                                        axes=("c", "t", "x", "y", "z"))
