"""Agglomerate attachments: the same graph written by wkpy and by webknossos 4.3.3 gives
the same files (metadata byte for byte, equal arrays), each reads the other's, the arrays
read the same in tensorstore and zarr-python, and hostile files are refused with typed
errors before anything is allocated for them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import zarr

import wkpy
from wkpy.dataset._utils.tensorstore_helpers import read_zarr3_array, write_zarr3_array
from wkpy.errors import (AttachmentExistsError, CorruptFileError, ForeignPathError, InvalidGraphError,
                         InvalidRequestError, PropertiesError, UnsupportedError, WkError)
from wkpy.storage.zarr3 import Zarr3Array

wk = pytest.importorskip("webknossos")
from upath import UPath  # noqa: E402  (a dependency of webknossos)
from webknossos.dataset._utils import tensorstore_helpers as wk_helpers  # noqa: E402

ARRAYS = ("segment_to_agglomerate", "agglomerate_to_segments_offsets", "agglomerate_to_segments",
          "agglomerate_to_positions", "agglomerate_to_edges_offsets", "agglomerate_to_edges",
          "agglomerate_to_affinities")


# ---- graphs, built the same way with either library ------------------------------------------
def _example(lib):
    g = lib.AgglomerateGraph()
    for i in range(1, 8):
        g.add_segment(i, position=lib.Vec3Int(i * 10, i * 20, i * 30))
    for u, v, a in ((1, 2, 124.0), (2, 3, 0.0), (3, 4, 250.5), (5, 6, 80.0), (1, 7, 65.5)):
        g.add_affinity_edge(u, v, affinity=a)
    return g


def _single(lib):
    g = lib.AgglomerateGraph()
    g.add_segment(1, position=lib.Vec3Int(5, 10, 15))
    return g


def _components(lib):
    """Isolated segments, a self-loop, positions at 0 (an all-zero chunk), edges given as (big, small)."""
    g = lib.AgglomerateGraph()
    for i in range(1, 10):
        g.add_segment(i, position=lib.Vec3Int(0, 0, 0) if i < 4 else lib.Vec3Int(i, -i, 2**31 - 1))
    for u, v, a in ((3, 1, 0.5), (2, 1, 0.25), (6, 5, 1.0), (9, 9, 0.75), (8, 4, -2.0)):
        g.add_affinity_edge(u, v, affinity=a)
    g.add_edge(7, 6)  # no affinity: written as 0.0
    return g


def _large(lib, n=22_000, m=12_000, seed=3):
    """Several chunks per array (positions: 21,845 rows per chunk; offsets: 8,192)."""
    rng = np.random.default_rng(seed)
    g = lib.AgglomerateGraph()
    pos = rng.integers(-1000, 100_000, size=(n, 3))
    for i in range(n):
        g.add_segment(i + 1, position=lib.Vec3Int(*map(int, pos[i])))
    ends = rng.integers(1, n + 1, size=(m, 2))
    aff = rng.random(m).astype(np.float32)
    for (u, v), a in zip(ends.tolist(), aff.tolist()):
        g.add_affinity_edge(u, v, affinity=a)
    return g


GRAPHS = {"example": _example, "single": _single, "empty": lambda lib: lib.AgglomerateGraph(),
          "components": _components}


def _state(graph) -> tuple:
    """Nodes in order with positions, and edges with their affinity as float32."""
    nodes = [(int(n), tuple(int(c) for c in p)) for n, p in graph.nodes(data="position")]
    edges = {frozenset((int(u), int(v))): np.float32(a) for u, v, a in graph.edges(data="affinity", default=0.0)}
    return nodes, edges


def _same_graph(a, b, ordered: bool = True) -> None:
    na, ea = _state(a)
    nb, eb = _state(b)
    assert (na if ordered else sorted(na)) == (nb if ordered else sorted(nb))
    assert ea == eb


def _ts_read(path: Path) -> np.ndarray:
    return ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}, open=True).result().read().result()


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _both(tmp_path: Path, graph_of, dtype="uint32") -> tuple[Path, Path]:
    theirs, ours = tmp_path / "wk" / "agglomerate_view_75", tmp_path / "py" / "agglomerate_view_75"
    wk.AgglomerateAttachment.create(theirs, graph_of(wk), segmentation_dtype=dtype)
    made = wkpy.AgglomerateAttachment.create(ours, graph_of(wkpy), segmentation_dtype=dtype)
    assert made.name == "agglomerate_view_75" and made.data_format == wkpy.AttachmentDataFormat.Zarr3
    assert made.path == ours.resolve()
    return theirs, ours


# ---- same files -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,dtype", [("example", "uint32"), ("example", "uint64"), ("single", "uint32"),
                                        ("empty", "uint64"), ("components", "uint32")])
def test_the_same_graph_gives_the_same_files(tmp_path, name, dtype):
    theirs, ours = _both(tmp_path, GRAPHS[name], dtype)
    assert _files(ours) == _files(theirs)        # same arrays, same chunk files (all-zero chunks left out)
    assert (ours / "zarr.json").read_bytes() == (theirs / "zarr.json").read_bytes()
    for array in ARRAYS:
        assert (ours / array / "zarr.json").read_bytes() == (theirs / array / "zarr.json").read_bytes(), array
        want = _ts_read(theirs / array)
        for got in (_ts_read(ours / array), read_zarr3_array(ours / array), zarr.open_array(str(ours / array))[:]):
            assert got.dtype == want.dtype and got.shape == want.shape, array
            np.testing.assert_array_equal(got, want, err_msg=array)
        np.testing.assert_array_equal(read_zarr3_array(theirs / array), want, err_msg=array)


def test_a_graph_of_several_chunks_per_array_gives_the_same_files_and_reads_back(tmp_path):
    theirs, ours = _both(tmp_path, _large)
    assert _files(ours) == _files(theirs)
    chunks = [json.loads((ours / a / "zarr.json").read_text())["codecs"][0]["configuration"]["chunk_shape"][0]
              for a in ARRAYS]
    assert any(_ts_read(ours / a).shape[0] > c for a, c in zip(ARRAYS, chunks))   # really several chunks
    for array in ARRAYS:
        assert (ours / array / "zarr.json").read_bytes() == (theirs / array / "zarr.json").read_bytes(), array
        np.testing.assert_array_equal(_ts_read(ours / array), _ts_read(theirs / array), err_msg=array)
    by_wkpy = wkpy.AgglomerateAttachment.from_path_and_name(theirs, "a", data_format="zarr3").to_graph()
    _same_graph(by_wkpy, _large(wkpy), ordered=False)
    _same_graph(by_wkpy, wkpy.AgglomerateAttachment.from_path_and_name(ours, "a", data_format="zarr3").to_graph())


@pytest.mark.parametrize("name", list(GRAPHS))
def test_each_library_reads_the_others_file(tmp_path, name):
    graph_of = GRAPHS[name]
def test_zarr3_helpers_match_webknossos(tmp_path):
    for i, data in enumerate([np.arange(40_000, dtype=np.uint64), np.arange(30, dtype=np.int32).reshape(10, 3),
                              np.zeros((0, 2), np.uint32), np.linspace(0, 1, 7, dtype=np.float32)]):
        ours, theirs = tmp_path / f"py{i}", tmp_path / f"wk{i}"
        write_zarr3_array(ours, data, target_chunk_size_bytes=4096, target_shard_size_bytes=65536)
        wk_helpers.write_zarr3_array(UPath(theirs), data, target_chunk_size_bytes=4096,
                                     target_shard_size_bytes=65536)
        assert (ours / "zarr.json").read_bytes() == (theirs / "zarr.json").read_bytes()
        assert _files(ours) == _files(theirs)
        for got in (read_zarr3_array(theirs), wk_helpers.read_zarr3_array(UPath(ours))):
            assert got.dtype == data.dtype and got.shape == data.shape
            np.testing.assert_array_equal(got, data)
        with pytest.raises(FileExistsError):
            write_zarr3_array(ours, data, target_chunk_size_bytes=4096, target_shard_size_bytes=65536)
    with pytest.raises(UnsupportedError):          # a 1-D array is not a mag
        Zarr3Array.open(tmp_path / "py0")
    with pytest.raises(UnsupportedError):
        write_zarr3_array(tmp_path / "x", np.zeros((2, 2, 2), np.uint8), target_chunk_size_bytes=8,
                          target_shard_size_bytes=8)


# ---- create_and_add_to --------------------------------------------------------------------------
def _seg_layer(lib, path: Path, dtype="uint32"):
    ds = lib.Dataset(path, voxel_size=(10, 10, 10))
    layer = ds.add_layer("seg", "segmentation", dtype_per_channel=dtype, data_format="zarr3",
                         bounding_box=lib.BoundingBox((0, 0, 0), (16, 16, 16)))
    return ds, layer.as_segmentation_layer()


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_create_and_add_to_lists_it_like_webknossos(tmp_path, dtype):
    listed = {}
    for lib, name in ((wk, "wk"), (wkpy, "py")):
        ds, layer = _seg_layer(lib, tmp_path / name, dtype)
        made = lib.AgglomerateAttachment.create_and_add_to(layer, "agglomerate_view_75", _example(lib))
        assert made.name == "agglomerate_view_75"
        assert made.path == Path(os.path.realpath(tmp_path / name / "seg" / "agglomerates" / "agglomerate_view_75"))
        assert [a.name for a in layer.attachments.agglomerates] == ["agglomerate_view_75"]
        listed[name] = json.loads((tmp_path / name / "datasource-properties.json").read_text())["dataLayers"][0]
        with pytest.raises(FileExistsError):
            lib.AgglomerateAttachment.create_and_add_to(layer, "agglomerate_view_75", _example(lib))
    assert listed["py"]["attachments"] == listed["wk"]["attachments"]
    assert _files(tmp_path / "py" / "seg" / "agglomerates") == _files(tmp_path / "wk" / "seg" / "agglomerates")
    reopened = wkpy.Dataset.open(tmp_path / "py").get_layer("seg").attachments.agglomerates[0]
    _same_graph(reopened.to_graph(), _example(wkpy), ordered=False)
    assert sorted(os.listdir(tmp_path / "py" / "seg" / "agglomerates")) == ["agglomerate_view_75"]


def test_create_and_add_to_refusals(tmp_path, monkeypatch):
    for lib, name in ((wk, "wk8"), (wkpy, "py8")):
        _, layer = _seg_layer(lib, tmp_path / name, "uint8")
        with pytest.raises(AssertionError):
            lib.AgglomerateAttachment.create_and_add_to(layer, "a", _example(lib))
    with pytest.raises(InvalidRequestError):
        wkpy.AgglomerateAttachment.create_and_add_to(layer, "a", _example(wkpy))
    assert not (tmp_path / "py8" / "seg" / "agglomerates").exists()

    ds, layer = _seg_layer(wkpy, tmp_path / "py")
    # a listed agglomerate of that name (elsewhere): refused before anything is written
    layer.attachments.add_attachment_as_ref(wkpy.AgglomerateAttachment.from_path_and_name(
        tmp_path / "elsewhere", "taken", data_format="zarr3"))
    with pytest.raises(AttachmentExistsError) as info:
        wkpy.AgglomerateAttachment.create_and_add_to(layer, "taken", _example(wkpy))
    assert isinstance(info.value, ValueError)     # what webknossos raises for a listed name
    assert not (tmp_path / "py" / "seg" / "agglomerates" / "taken").exists()
    for bad in ("../escape", ".hidden", "a/b"):
        with pytest.raises(InvalidRequestError):
            wkpy.AgglomerateAttachment.create_and_add_to(layer, bad, _example(wkpy))
    assert not (tmp_path / "escape").exists()
    # a linked layer: its folder belongs to another dataset
    other = wkpy.Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    linked = other.add_symlink_layer(layer, "linked").as_segmentation_layer()
    with pytest.raises(ForeignPathError):
        wkpy.AgglomerateAttachment.create_and_add_to(linked, "x", _example(wkpy))
    assert not (tmp_path / "py" / "seg" / "agglomerates" / "x").exists()
    # a dataset opened by a relative path
    monkeypatch.chdir(tmp_path)
    rel = wkpy.Dataset.open("py").get_layer("seg")
    made = wkpy.AgglomerateAttachment.create_and_add_to(rel, "relative", _example(wkpy))
    assert made.path == (tmp_path / "py" / "seg" / "agglomerates" / "relative").resolve()
    entry = json.loads((tmp_path / "py" / "datasource-properties.json").read_text())["dataLayers"][0]
    assert entry["attachments"]["agglomerates"][-1]["path"] == "./seg/agglomerates/relative"
    _same_graph(made.to_graph(), _example(wkpy), ordered=False)


# ---- bad graphs ----------------------------------------------------------------------------------
def _bad_graphs(lib):
    zero = lib.AgglomerateGraph()
    zero.add_node(0, position=lib.Vec3Int(1, 2, 3))
    sparse = lib.AgglomerateGraph()
    sparse.add_segment(1, position=lib.Vec3Int(1, 2, 3))
    sparse.add_segment(3, position=lib.Vec3Int(4, 5, 6))
    named = lib.AgglomerateGraph()
    named.add_node("a", position=lib.Vec3Int(1, 2, 3))
    unplaced = lib.AgglomerateGraph()
    unplaced.add_node(1)
    return {"zero": (zero, "uint32", "positive integers"), "sparse": (sparse, "uint32", "dense"),
            "named": (named, "uint32", "positive integers"), "dtype": (_example(lib), "uint16", "uint32 or uint64"),
            "unplaced": (unplaced, "uint32", "position")}


@pytest.mark.parametrize("case", ["zero", "sparse", "named", "dtype", "unplaced"])
def test_bad_graphs_raise_what_webknossos_raises(tmp_path, case):
    graph, dtype, words = _bad_graphs(wk)[case]
    with pytest.raises(Exception) as theirs:
        wk.AgglomerateAttachment.create(tmp_path / "wk", graph, segmentation_dtype=dtype)
    graph, dtype, words = _bad_graphs(wkpy)[case]
    with pytest.raises(InvalidGraphError, match=words) as ours:
        wkpy.AgglomerateAttachment.create(tmp_path / "py" / "agg", graph, segmentation_dtype=dtype)
    assert isinstance(ours.value, type(theirs.value)), (type(theirs.value), type(ours.value))
    assert not (tmp_path / "py").exists()          # checked before anything is written


def test_graph_values_out_of_range_or_of_the_wrong_type(tmp_path):
    for position in ((1, 2), (1.5, 2, 3), "abc", (2**31, 0, 0), None):
        g = wkpy.AgglomerateGraph()
        g.add_node(1, position=position)
        with pytest.raises(InvalidGraphError, match="position"):
            wkpy.AgglomerateAttachment.create(tmp_path / "a", g)
    g = _example(wkpy)
    g.add_edge(1, 3, affinity="high")
    with pytest.raises(InvalidGraphError, match="affinity"):
        wkpy.AgglomerateAttachment.create(tmp_path / "a", g)
    big = wkpy.AgglomerateGraph()
    big.add_segment(np.int64(1), position=(1, 2, 3))  # numpy ids and plain tuples are accepted
    wkpy.AgglomerateAttachment.create(tmp_path / "ok", big)
    assert read_zarr3_array(tmp_path / "ok" / "agglomerate_to_positions").tolist() == [[1, 2, 3]]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_create_refuses_what_exists_and_publishes_whole(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("mine")
    os.symlink(tmp_path / "full", tmp_path / "link")
    for name in ("full", "file", "link"):
        with pytest.raises(AttachmentExistsError) as info:
            wkpy.AgglomerateAttachment.create(tmp_path / name, _example(wkpy))
        assert isinstance(info.value, FileExistsError)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and (tmp_path / "file").read_text() == "mine"
    (tmp_path / "empty").mkdir()                       # an empty folder is taken over
    wkpy.AgglomerateAttachment.create(tmp_path / "empty", _example(wkpy))
    wkpy.AgglomerateAttachment.create(tmp_path / "new" / "parents" / "agg", _example(wkpy))
    for made in (tmp_path / "empty", tmp_path / "new" / "parents" / "agg"):
        assert _files(made) == _files(tmp_path / "empty")
    leftovers = [p for p in tmp_path.rglob(".*")]
    assert not leftovers, leftovers


# ---- hostile files ---------------------------------------------------------------------------------
def _made(tmp_path: Path) -> Path:
    path = tmp_path / "agg"
    wkpy.AgglomerateAttachment.create(path, _example(wkpy))
    return path


def _edit_meta(path: Path, array: str, **changes) -> None:
    meta = json.loads((path / array / "zarr.json").read_text())
    for key, value in changes.items():
        if key == "inner_chunk":
            meta["codecs"][0]["configuration"]["chunk_shape"] = value
        else:
            meta[key] = value
    (path / array / "zarr.json").write_text(json.dumps(meta))


def _rewrite(path: Path, array: str, data) -> None:
    shutil.rmtree(path / array)
    write_zarr3_array(path / array, np.asarray(data), target_chunk_size_bytes=1 << 18, target_shard_size_bytes=1 << 30)


def _to_graph(path: Path):
    return wkpy.AgglomerateAttachment.from_path_and_name(path, "agg", data_format="zarr3").to_graph()


HOSTILE = {
    # shapes that claim far more than is stored: refused before allocating
    "huge segments": lambda p: _edit_meta(p, "agglomerate_to_segments", shape=[2**40]),
    "huge edges": lambda p: _edit_meta(p, "agglomerate_to_edges", shape=[10**12, 2]),
    "huge offsets": lambda p: _edit_meta(p, "agglomerate_to_segments_offsets", shape=[2**50]),
    "huge chunk": lambda p: _edit_meta(p, "agglomerate_to_segments", inner_chunk=[2**27],
                                       chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2**27]}}),
    # shapes and types that contradict each other
    "positions rows": lambda p: _rewrite(p, "agglomerate_to_positions", np.zeros((6, 3), np.int32)),
    "positions columns": lambda p: _rewrite(p, "agglomerate_to_positions", np.ones((7, 2), np.int32)),
    "edge offsets rows": lambda p: _rewrite(p, "agglomerate_to_edges_offsets", np.array([0, 0, 4, 5, 5], np.uint64)),
    "affinities rows": lambda p: _rewrite(p, "agglomerate_to_affinities", np.ones(4, np.float32)),
    "float segments": lambda p: _rewrite(p, "agglomerate_to_segments", np.arange(1, 8, dtype=np.float32)),
    "integer affinities": lambda p: _rewrite(p, "agglomerate_to_affinities", np.ones(5, np.int32)),
    # contents that contradict each other
    "offsets decrease": lambda p: _rewrite(p, "agglomerate_to_segments_offsets", np.array([0, 0, 5, 3], np.uint64)),
    "offsets end early": lambda p: _rewrite(p, "agglomerate_to_segments_offsets", np.array([0, 0, 5, 6], np.uint64)),
    "agglomerate 0 used": lambda p: _rewrite(p, "agglomerate_to_segments_offsets", np.array([0, 1, 5, 7], np.uint64)),
    "edge offsets end late": lambda p: _rewrite(p, "agglomerate_to_edges_offsets", np.array([0, 0, 4, 9], np.uint64)),
    "edge beyond agglomerate": lambda p: _rewrite(p, "agglomerate_to_edges",
                                                  np.array([[0, 1], [0, 4], [1, 2], [2, 3], [0, 2]], np.uint32)),
    "repeated segment": lambda p: _rewrite(p, "agglomerate_to_segments", np.array([1, 2, 3, 4, 7, 5, 5], np.uint32)),
    "segment 0": lambda p: _rewrite(p, "agglomerate_to_segments", np.array([1, 2, 3, 4, 0, 5, 6], np.uint32)),
    "negative offsets": lambda p: _rewrite(p, "agglomerate_to_edges_offsets", np.array([0, 0, -1, 5], np.int64)),
    # broken files
    "missing array": lambda p: shutil.rmtree(p / "agglomerate_to_positions"),
    "not json": lambda p: (p / "agglomerate_to_edges" / "zarr.json").write_text("{"),
    "damaged chunk": lambda p: (p / "agglomerate_to_segments" / "c" / "0").write_bytes(
        bytes(b ^ 0x55 for b in (p / "agglomerate_to_segments" / "c" / "0").read_bytes())),
    "truncated chunk": lambda p: (p / "agglomerate_to_edges" / "c" / "0" / "0").write_bytes(b"\0" * 8),
    "fifo chunk": lambda p: ((p / "agglomerate_to_segments" / "c" / "0").unlink(),
                             os.mkfifo(p / "agglomerate_to_segments" / "c" / "0")),
    "not a folder": lambda p: (shutil.rmtree(p), p.write_text("x")),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_raise_typed_errors_naming_the_file(tmp_path, case):
    path = _made(tmp_path)
    HOSTILE[case](path)
    with pytest.raises(CorruptFileError) as info:
        _to_graph(path)
    assert str(path) in str(info.value)


def test_rank_and_format_refusals(tmp_path):
    path = _made(tmp_path)
    _rewrite(path, "agglomerate_to_affinities", np.ones(5, np.float32))
    meta = json.loads((path / "agglomerate_to_affinities" / "zarr.json").read_text())
    meta["shape"], meta["chunk_grid"]["configuration"]["chunk_shape"] = [5, 1, 1], [5, 1, 1]
    meta["codecs"][0]["configuration"]["chunk_shape"] = [5, 1, 1]
    (path / "agglomerate_to_affinities" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(UnsupportedError, match="dimensions"):
        _to_graph(path)
    hdf5 = wkpy.AgglomerateAttachment.from_path_and_name(tmp_path / "a.hdf5", "a", data_format="hdf5")
    with pytest.raises(NotImplementedError):         # what webknossos raises
        hdf5.to_graph()
    with pytest.raises(UnsupportedError):
        hdf5.to_graph()
    remote = wkpy.AgglomerateAttachment.from_path_and_name("https://example.com/agg", "a", data_format="zarr3")
    with pytest.raises(UnsupportedError):
        remote.to_graph()
    with pytest.raises(UnsupportedError):
        wkpy.AgglomerateAttachment.create("s3://host/bucket/agg", _example(wkpy))
    with pytest.raises(CorruptFileError, match="nothing-here"):
        _to_graph(tmp_path / "nothing-here")
    assert issubclass(PropertiesError, CorruptFileError) and issubclass(CorruptFileError, WkError)


def test_stored_chunks_bound_what_is_read(tmp_path):
    """Left-out chunks are legitimate where the data is 0 (tensorstore leaves them out),
    and only there does wkpy accept them."""
    path = tmp_path / "agg"
    g = wkpy.AgglomerateGraph()
    for i in range(1, 4):
        g.add_segment(i, position=(0, 0, 0))        # an all-zero positions chunk: not stored
        g.add_edge(i, i)                            # self-loops: edges (0, 0), not stored
    wkpy.AgglomerateAttachment.create(path, g)
    assert not _files(path / "agglomerate_to_positions") - {"zarr.json"}
    assert not _files(path / "agglomerate_to_edges") - {"zarr.json"}
    _same_graph(_to_graph(path), g)
    _same_graph(wk.AgglomerateAttachment.from_path_and_name(path, "a", data_format=wk.AttachmentDataFormat.Zarr3)
                .to_graph(), g)
    # more absent edge rows than agglomerates (each has at most one self-loop of its first segment)
    _edit_meta(path, "agglomerate_to_edges", shape=[4, 2])
    _edit_meta(path, "agglomerate_to_affinities", shape=[4])
    with pytest.raises(CorruptFileError, match="not stored"):
        _to_graph(path)
