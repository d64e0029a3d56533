"""SIGKILL at random instants during multi-step operations: the cases and their checks.

One implementation shared by ``tests/integration/test_crash.py`` (a few kills per
operation) and ``bench/soak_crash.py`` (a long soak). Each case builds a small dataset
once (a *template*), and for every kill:

1. runs the operation in a fresh interpreter (``python -c``) on a copy of the template
   (or, for the write loops, on one dataset that lives across kills),
2. kills it with SIGKILL a seeded-random time after it has started the operation,
3. checks in this process that the dataset opens and holds wholly the old or wholly
   the new state, and
4. runs the same operation again, which must succeed and give the right data, and
   leave nothing behind that webknossos would not write.

The child prints `GO` once it has opened the dataset, right before the operation, so
the random delay covers the operation only, not the interpreter start.
"""

from __future__ import annotations

import functools
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import wkpy as wk

__all__ = ["CASES", "Case", "run_case", "leftovers", "volume", "SIDE"]

TESTS_DIR = Path(__file__).resolve().parent
SIDE = 128
CHUNK = 32
SHARD = 64
GO = "WKPY-CRASH-GO"
DONE = "WKPY-CRASH-DONE"


# ---- data ---------------------------------------------------------------------------
def volume(seed: int = 0, side: int = SIDE) -> np.ndarray:
    """Deterministic uint8 data in 1..250 (never 0, so "all zeros" means "fresh")."""
    rng = np.random.default_rng(seed)
    x, y, z = np.ogrid[:side, :side, :side]
    return ((x * 7 + y * 13 + z * 3 + rng.integers(0, 5, size=(side, side, side))) % 250 + 1).astype(np.uint8)


def read_all(mag: wk.MagView, side: int = SIDE) -> np.ndarray:
    return mag.read(absolute_offset=(0, 0, 0), size=(side, side, side))[0]


def make_dataset(path: Path, layers: dict[str, int], *, data_format: str = "wkw", compress: bool = False,
                 shard: int = SHARD, extra_mags: tuple[int, ...] = ()) -> wk.Dataset:
    """A dataset with one mag-1 layer per name in `layers` (name → data seed)."""
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    for name, seed in layers.items():
        layer = ds.add_layer(name, "color", dtype="uint8", data_format=data_format)
        layer.add_mag(1, chunk_shape=CHUNK, shard_shape=shard, compress=compress).write(
            volume(seed), absolute_offset=(0, 0, 0))
        for m in extra_mags:
            layer.add_mag(m, chunk_shape=CHUNK, shard_shape=shard, compress=compress).write(
                volume(seed)[::m, ::m, ::m], absolute_offset=(0, 0, 0))
    return ds


ZARR2_METADATA = (".zarray", ".zgroup", ".zattrs")


def leftovers(path: Path) -> list[str]:
    """Entries under `path` that webknossos would not write and that could get in the way:
    hidden folders (work folders, trash), ``*.journal``. Stray ``*.tmp`` files of a killed
    writer are tolerated (never read as data); lock folders are left to the lock tests."""
    out = []
    for p in sorted(Path(path).rglob("*")):
        rel = p.relative_to(path)
        if rel.parts[0] == ".wkpy-locks" or ".wkpy-locks" in rel.parts:
            continue
        if p.suffix == ".tmp" and p.is_file():
            continue  # a stray temp file of a killed writer is never read as data
        if p.name in ZARR2_METADATA and p.is_file():
            continue  # .zarray, .zgroup, .zattrs: files webknossos writes
        if any(part.startswith(".") for part in rel.parts) or p.suffix == ".journal":
            out.append(str(rel))
    return out


def assert_no_leftovers(path: Path, after: str) -> None:
    left = leftovers(path)
    assert not left, f"after {after}, {path} holds entries webknossos does not write: {left[:8]}"


def assert_zeros(ds: wk.Dataset, name: str, mag: int, what: str) -> None:
    layer = ds.get_layer(name)
    got = layer.get_mag(mag).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))[0]
    assert not got.any(), (f"{what}: a fresh mag {mag} of layer {name!r} reads {int(np.count_nonzero(got))} "
                           "non-zero voxels (the deleted data came back)")


# ---- one case = one operation --------------------------------------------------------
@dataclass
class Case:
    """An operation to kill. `build` makes the template, `operate` runs the operation
    (in the child and in-process), `verify` checks the state after a kill and re-runs."""

    name: str
    build: Callable[[Path], None]
    operate: Callable[[Path], None]
    verify: Callable[[Path, "Case"], None]
    loop: bool = False  # the child repeats writes forever; the dataset lives across kills
    watch: Callable[[Path, threading.Event, list], None] | None = None  # runs in a thread beside the child
    reference: dict = field(default_factory=dict)

    def delay(self, rng: random.Random, duration: float) -> float:
        if self.loop:
            return rng.uniform(0.02, 0.35)
        return rng.uniform(0.0, duration * 1.1)


# compress ----------------------------------------------------------------------------
def _compress_case(data_format: str) -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1}, data_format=data_format, compress=False,
                     shard=CHUNK if data_format == "zarr" else SHARD)   # Zarr v2 has no shards

    def operate(p: Path) -> None:
        wk.Dataset.open(p).get_layer("color").get_mag(1).compress()

    def verify(p: Path, case: Case) -> None:
        mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
        np.testing.assert_array_equal(read_all(mag), volume(1), err_msg="voxels changed by a killed compress")
        operate(p)  # the next compress succeeds ...
        mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
        assert mag.info.compression, "a second compress() left the mag uncompressed"
        np.testing.assert_array_equal(read_all(mag), volume(1), err_msg="voxels changed by compress")
        assert_no_leftovers(p, "a killed compress and a second compress()")

    return Case(f"compress-{data_format}", build, operate, verify)


def _compress_nd_case() -> Case:
    """compress of a mag of an n-d layer (t, x, y, z): the same swap as for 3-D mags."""
    times, side = 2, 96

    def build(p: Path) -> None:
        ds = wk.Dataset(p, voxel_size=(1, 1, 1))
        box = wk.NDBoundingBox((0, 0, 0, 0), (times, side, side, side), ("t", "x", "y", "z"), (0, 1, 2, 3))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3", bounding_box=box)
        layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD, compress=False).write(
            np.stack([volume(t, side) for t in range(times)]), absolute_bounding_box=box)

    def operate(p: Path) -> None:
        wk.Dataset.open(p).get_layer("color").get_mag(1).compress()

    def verify(p: Path, case: Case) -> None:
        def check(what: str) -> None:
            mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
            for t in range(times):
                box = mag.bounding_box.with_bounds("t", t, 1)
                np.testing.assert_array_equal(mag.read(absolute_bounding_box=box)[0], volume(t, side), err_msg=what)

        check("voxels changed by a killed compress of an n-d mag")
        operate(p)
        assert wk.Dataset.open(p).get_layer("color").get_mag(1).info.compression
        check("voxels changed by compress of an n-d mag")
        assert_no_leftovers(p, "a killed compress of an n-d mag and a second compress()")

    return Case("compress-nd", build, operate, verify)


# delete_layer --------------------------------------------------------------------------
def _delete_layer_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1, "keep": 2}, shard=CHUNK)  # 64 files per layer

    def operate(p: Path) -> None:
        wk.Dataset.open(p).delete_layer("color")

    def verify(p: Path, case: Case) -> None:
        ds = wk.Dataset.open(p)
        np.testing.assert_array_equal(read_all(ds.get_layer("keep").get_mag(1)), volume(2),
                                      err_msg="a killed delete_layer changed another layer")
        if "color" in ds.layers:  # old state: all of it
            np.testing.assert_array_equal(read_all(ds.get_layer("color").get_mag(1)), volume(1),
                                          err_msg="a layer still listed after a killed delete_layer lost data")
            ds.delete_layer("color")  # the next call succeeds
            ds = wk.Dataset.open(p)
            assert "color" not in ds.layers
        # new state (now in either case): a new layer of the name starts empty
        ds.add_layer("color", "color", dtype="uint8").add_mag(1, chunk_shape=CHUNK, shard_shape=CHUNK)
        assert_zeros(wk.Dataset.open(p), "color", 1, "after a killed delete_layer")
        ds = wk.Dataset.open(p)
        ds.delete_layer("color")
        assert "color" not in wk.Dataset.open(p).layers
        assert_no_leftovers(p, "a killed delete_layer, a new layer and its deletion")

    return Case("delete_layer", build, operate, verify)


# delete_mag ------------------------------------------------------------------------------
def _delete_mag_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1}, shard=CHUNK, extra_mags=(2,))

    def operate(p: Path) -> None:
        wk.Dataset.open(p).get_layer("color").delete_mag(1)

    def verify(p: Path, case: Case) -> None:
        layer = wk.Dataset.open(p).get_layer("color")
        half = SIDE // 2
        got2 = layer.get_mag(2).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))[0]
        np.testing.assert_array_equal(got2[:half, :half, :half], volume(1)[::2, ::2, ::2],
                                      err_msg="a killed delete_mag(1) changed mag 2")
        if wk.Mag(1) in layer.mags:
            np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1),
                                          err_msg="a mag still listed after a killed delete_mag lost data")
            layer.delete_mag(1)
            layer = wk.Dataset.open(p).get_layer("color")
            assert wk.Mag(1) not in layer.mags
        layer.add_mag(1, chunk_shape=CHUNK, shard_shape=CHUNK, compress=False)
        assert_zeros(wk.Dataset.open(p), "color", 1, "after a killed delete_mag")
        wk.Dataset.open(p).get_layer("color").delete_mag(1)
        assert wk.Mag(1) not in wk.Dataset.open(p).get_layer("color").mags
        assert_no_leftovers(p, "a killed delete_mag, a new mag and its deletion")

    return Case("delete_mag", build, operate, verify)


# downsample --------------------------------------------------------------------------------
def _downsample_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1}, compress=False)

    def operate(p: Path, allow_overwrite: bool = False) -> None:
        # from mag 1: without from_mag, downsample starts at the coarsest mag (as webknossos),
        # which after a kill may be a half-filled mag 2
        wk.Dataset.open(p).get_layer("color").downsample(from_mag=1, coarsest_mag=4, allow_overwrite=allow_overwrite)

    def verify(p: Path, case: Case) -> None:
        layer = wk.Dataset.open(p).get_layer("color")
        np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1),
                                      err_msg="a killed downsample changed mag 1")
        for m in layer.mags:  # an incomplete target reads, it does not raise
            layer.get_mag(m).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))
        operate(p, allow_overwrite=True)  # the next call (overwriting what is there) succeeds
        layer = wk.Dataset.open(p).get_layer("color")
        assert sorted(layer.mags) == [wk.Mag(1), wk.Mag(2), wk.Mag(4)], sorted(layer.mags)
        for m, want in case.reference.items():
            got = layer.get_mag(m).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))[0]
            np.testing.assert_array_equal(got, want, err_msg=f"mag {m} after a killed downsample and a re-run")
        assert_no_leftovers(p, "a killed downsample and a re-run")

    case = Case("downsample", build, operate, verify)
    return case


def _downsample_reference(p: Path) -> dict:
    layer = wk.Dataset.open(p).get_layer("color")
    return {m: layer.get_mag(m).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))[0] for m in (2, 4)}


# copy_dataset --------------------------------------------------------------------------------
def _copy_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p / "src", {"color": 1, "other": 2}, compress=False)

    def operate(p: Path, target: str = "dst") -> None:
        wk.Dataset.open(p / "src").copy_dataset(p / target, data_format="zarr3", compress=True)

    def verify(p: Path, case: Case) -> None:
        src = wk.Dataset.open(p / "src")
        for name, seed in (("color", 1), ("other", 2)):
            np.testing.assert_array_equal(read_all(src.get_layer(name).get_mag(1)), volume(seed),
                                          err_msg="a killed copy_dataset changed its source")
        if (p / "dst" / "datasource-properties.json").exists():
            dst = wk.Dataset.open(p / "dst")  # a partial target opens
            for layer in dst.layers.values():
                for m in layer.mags.values():
                    m.read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))
        target = f"dst-{len(list(p.iterdir()))}"
        operate(p, target)  # a fresh target: the copy succeeds
        dst = wk.Dataset.open(p / target)
        assert sorted(dst.layers) == ["color", "other"]
        for name, seed in (("color", 1), ("other", 2)):
            np.testing.assert_array_equal(read_all(dst.get_layer(name).get_mag(1)), volume(seed),
                                          err_msg="copy_dataset after a killed one")
        assert_no_leftovers(p / "src", "a killed copy_dataset (source)")
        assert_no_leftovers(p / target, "a copy_dataset after a killed one")

    return Case("copy_dataset", build, operate, verify)


# rename_layer -------------------------------------------------------------------------------
def _rename_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1}, extra_mags=(2,))

    def operate(p: Path) -> None:
        wk.Dataset.open(p).get_layer("color").name = "renamed"

    def verify(p: Path, case: Case) -> None:
        ds = wk.Dataset.open(p)
        names = sorted(n for n in ds.layers if n in ("color", "renamed"))
        assert len(names) == 1, f"after a killed rename the dataset lists {names}"
        np.testing.assert_array_equal(read_all(ds.get_layer(names[0]).get_mag(1)), volume(1),
                                      err_msg=f"layer {names[0]!r} after a killed rename")
        if names == ["color"]:
            operate(p)  # the next call succeeds
        layer = wk.Dataset.open(p).get_layer("renamed")
        np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1), err_msg="after a rename")
        assert not (p / "color").exists() and (p / "renamed" / "1").is_dir()
        assert_no_leftovers(p, "a killed rename and a second one")

    return Case("rename_layer", build, operate, verify)


# add_mag_as_copy ------------------------------------------------------------------------------
def _copy_mag_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p / "src", {"color": 1}, compress=False)
        wk.Dataset(p / "dst", voxel_size=(1, 1, 1)).add_layer("color", "color", dtype="uint8")

    def operate(p: Path) -> None:   # re-chunked and compressed: a copy through the kernels
        wk.Dataset.open(p / "dst").get_layer("color").add_mag_as_copy(
            wk.Dataset.open(p / "src").get_layer("color").get_mag(1), shard_shape=CHUNK, compress=True)

    def verify(p: Path, case: Case) -> None:
        layer = wk.Dataset.open(p / "dst").get_layer("color")
        if wk.Mag(1) in layer.mags:   # listed only once it is complete
            np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1),
                                          err_msg="a mag listed after a killed add_mag_as_copy is incomplete")
        else:
            assert not (p / "dst" / "color" / "1").exists(), "an unlisted mag folder after a killed copy"
            operate(p)  # the next call succeeds
            layer = wk.Dataset.open(p / "dst").get_layer("color")
            np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1), err_msg="add_mag_as_copy")
        assert_no_leftovers(p / "dst", "a killed add_mag_as_copy")

    return Case("add_mag_as_copy", build, operate, verify)



# add_layer_as_copy ----------------------------------------------------------------------------
def _copy_layer_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p / "src", {"color": 1}, compress=False, extra_mags=(2,))
        wk.Dataset(p / "dst", voxel_size=(1, 1, 1))

    def operate(p: Path) -> None:   # re-chunked and compressed: mag by mag through the kernels
        wk.Dataset.open(p / "dst").add_layer_as_copy(
            wk.Dataset.open(p / "src").get_layer("color"), "copied", shard_shape=CHUNK, compress=True)

    def check(p: Path, what: str) -> None:
        layer = wk.Dataset.open(p / "dst").get_layer("copied")
        assert sorted(layer.mags) == [wk.Mag(1), wk.Mag(2)], f"{what}: mags {sorted(layer.mags)}"
        np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1), err_msg=what)
        np.testing.assert_array_equal(read_all(layer.get_mag(2)), volume(1)[::2, ::2, ::2], err_msg=what)

    def verify(p: Path, case: Case) -> None:
        if "copied" in wk.Dataset.open(p / "dst").layers:   # listed only once it is whole
            check(p, "a layer listed after a killed add_layer_as_copy")
        else:
            assert not (p / "dst" / "copied").exists(), "an unlisted layer folder after a killed copy"
            operate(p)  # the next call succeeds
            check(p, "add_layer_as_copy after a killed one")
        assert_no_leftovers(p / "dst", "a killed add_layer_as_copy")

    return Case("add_layer_as_copy", build, operate, verify)


# writes --------------------------------------------------------------------------------
# Boxes each inside one 64³ shard, unaligned to the 32³ chunks, not overlapping.
WRITE_BOXES = [((5, 7, 9), (50, 40, 45)), ((67, 10, 65), (60, 30, 20)), ((70, 70, 70), (58, 58, 58)),
               ((0, 64, 0), (64, 64, 64))]
# Smaller boxes, each touching one or two 32³ chunks: over noisy data, their writes append.
SMALL_BOXES = [((5, 7, 9), (20, 20, 20)), ((40, 10, 65), (20, 16, 20)), ((70, 70, 70), (30, 20, 10)),
               ((100, 64, 0), (20, 30, 40))]
OLD = 0xFF  # every voxel before the writes: the value that fooled the journal check


def _box_slices(off, size):
    return tuple(slice(o, o + s) for o, s in zip(off, size))


def _write_loop(p: Path, start: int, boxes: list = WRITE_BOXES) -> None:
    mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
    i = start
    while True:
        off, size = boxes[i % len(boxes)]
        mag.write(np.full(size, i % 250, np.uint8), absolute_offset=off, allow_unaligned=True)
        i += 1


def _write_case(data_format: str, compress: bool, noisy: bool = False) -> Case:
    """Writes of uniform boxes in a loop, over a uniform volume (chunks of a few bytes, so
    that compressed Zarr shards are mostly rewritten) or, `noisy`, over `volume` (chunks
    of kilobytes, and smaller boxes: compressed Zarr shards are mostly appended to)."""
    boxes = SMALL_BOXES if noisy else WRITE_BOXES

    def background() -> np.ndarray:
        return volume(5) if noisy else np.full((SIDE,) * 3, OLD, np.uint8)

    def build(p: Path) -> None:
        ds = wk.Dataset(p, voxel_size=(1, 1, 1))
        # Zarr v2 has no shards: its chunks are the shards, so that each box lies in one file
        ds.add_layer("color", "color", dtype="uint8", data_format=data_format).add_mag(
            1, chunk_shape=SHARD if data_format == "zarr" else CHUNK, shard_shape=SHARD, compress=compress).write(
            background(), absolute_offset=(0, 0, 0))

    def operate(p: Path) -> None:
        _write_loop(p, int(time.time() * 1000) % 100_000 * 4, boxes)

    def verify(p: Path, case: Case) -> None:
        mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
        got = read_all(mag)
        outside = np.ones(got.shape, bool)
        for off, size in boxes:
            part = got[_box_slices(off, size)]
            values = np.unique(part)
            assert len(values) == 1 or (part == background()[_box_slices(off, size)]).all(), \
                f"box {off}+{size} is torn after a kill: values {values[:10]}"
            outside[_box_slices(off, size)] = False
        bad = np.count_nonzero(got[outside] != background()[outside])
        assert bad == 0, f"{bad} voxels outside every written box changed after a kill"
        # the next writes of every box succeed and read back
        for off, size in boxes:
            value = int(got[off]) % 249 + 1  # differs from what is there
            mag.write(np.full(size, value, np.uint8), absolute_offset=off, allow_unaligned=True)
            assert (mag.read(absolute_offset=off, size=size) == value).all(), f"write of box {off} after a kill"
        read_all(mag)
        journals = [str(q) for q in p.rglob("*") if q.suffix == ".journal" or q.name.endswith(".wkpy-append")]
        assert not journals, f"journals left after reads and writes of every shard: {journals}"

    return Case(f"write-{data_format}-{'compressed' if compress else 'raw'}{'-noisy' if noisy else ''}", build,
                operate, verify, loop=True, watch=functools.partial(_read_boxes_until, boxes=boxes,
                                                                background=background() if noisy else None))


def _read_boxes_until(p: Path, stop: threading.Event, torn: list, boxes: list = WRITE_BOXES,
                      background: np.ndarray | None = None) -> None:
    """A reader beside the writer that gets killed: every read of a box is one write's
    values, or the `background` before any write (a reader must never see a half-patched,
    half-appended or half-rolled-back shard)."""
    mag = wk.Dataset.open(p).get_layer("color").get_mag(1)
    while not stop.is_set():
        for off, size in boxes:
            part = mag.read(absolute_offset=off, size=size)[0]
            values = np.unique(part)
            if len(values) != 1 and (background is None or (part != background[_box_slices(off, size)]).any()):
                torn.append(f"box {off}+{size} read torn: values {values[:10]}")
        stop.wait(0.002)  # leave the writer most of the CPU


# agglomerate attachment ----------------------------------------------------------------------
def _agglomerate_graph() -> wk.AgglomerateGraph:
    g = wk.AgglomerateGraph()
    n = 6_000
    g.add_nodes_from((i, {"position": (i, 2 * i, 3 * i)}) for i in range(1, n + 1))
    g.add_edges_from((i, i + 1, {"affinity": i / n}) for i in range(1, n, 2))
    return g


def _agglomerate_case() -> Case:
    def build(p: Path) -> None:
        wk.Dataset(p, voxel_size=(1, 1, 1)).add_layer("seg", "segmentation", dtype="uint32")

    def operate(p: Path) -> None:
        layer = wk.Dataset.open(p).get_layer("seg")
        wk.AgglomerateAttachment.create_and_add_to(layer, "agg", _agglomerate_graph())  # type: ignore[arg-type]

    def check(p: Path, what: str) -> None:
        graph = wk.Dataset.open(p).get_layer("seg").attachments.agglomerates[0].to_graph()
        want = _agglomerate_graph()
        assert sorted(graph.nodes) == sorted(want.nodes), what
        assert {frozenset(e) for e in graph.edges} == {frozenset(e) for e in want.edges}, what

    def verify(p: Path, case: Case) -> None:
        listed = [a.name for a in wk.Dataset.open(p).get_layer("seg").attachments.agglomerates]
        if listed:       # new state: listed, and (renamed into place when opened) whole
            assert listed == ["agg"], listed
            check(p, "an agglomerate listed after a killed create_and_add_to")
        else:            # old state: nothing where the file goes
            assert not (p / "seg" / "agglomerates" / "agg").exists(), "a half-written agglomerate file is visible"
            operate(p)   # the next call succeeds
            check(p, "create_and_add_to after a killed one")
        wk.Dataset.open(p)
        assert_no_leftovers(p, "a killed create_and_add_to and a re-run")

    return Case("agglomerate", build, operate, verify)


# add_mag_from_zarrarray ------------------------------------------------------------------------
def _add_zarrarray_case() -> Case:
    def build(p: Path) -> None:
        make_dataset(p, {"color": 1}, data_format="zarr3")
        with tempfile.TemporaryDirectory() as other:
            make_dataset(Path(other) / "ds", {"x": 2}, data_format="zarr3")
            shutil.copytree(Path(other) / "ds" / "x" / "1", p / "incoming")   # a plain array folder

    def operate(p: Path) -> None:
        wk.Dataset.open(p).get_layer("color").add_mag_from_zarrarray(2, "incoming")

    def check_new(p: Path, what: str) -> None:
        layer = wk.Dataset.open(p).get_layer("color")
        assert layer.bounding_box == wk.BoundingBox((0, 0, 0), (2 * SIDE,) * 3), what
        got = layer.get_mag(2).read(absolute_offset=(0, 0, 0), size=(2 * SIDE,) * 3)[0]
        np.testing.assert_array_equal(got, volume(2), err_msg=what)

    def verify(p: Path, case: Case) -> None:
        layer = wk.Dataset.open(p).get_layer("color")
        np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1),
                                      err_msg="a killed add_mag_from_zarrarray changed mag 1")
        if wk.Mag(2) in layer.mags:       # new state: listed with its box, and whole
            check_new(p, "a mag listed after a killed add_mag_from_zarrarray")
        else:                             # old state: old box, nothing at the mag's name
            assert layer.bounding_box == wk.BoundingBox((0, 0, 0), (SIDE,) * 3)
            assert not (p / "color" / "2").exists(), "a half-copied mag folder is visible"
            operate(p)                    # the next call succeeds
            check_new(p, "add_mag_from_zarrarray after a killed one")
        assert (p / "incoming" / "zarr.json").is_file(), "the copied array's source is gone"
        assert_no_leftovers(p, "a killed add_mag_from_zarrarray and a re-run")

    return Case("add_mag_from_zarrarray", build, operate, verify)


CASES: dict[str, Case] = {c.name: c for c in [
    _compress_case("wkw"), _compress_case("zarr3"), _compress_nd_case(), _delete_layer_case(), _delete_mag_case(),
    _downsample_case(), _copy_case(), _write_case("wkw", False), _write_case("zarr3", True),
    _write_case("zarr3", True, noisy=True),
    _rename_case(), _copy_mag_case(), _copy_layer_case(),
    _write_case("zarr", True), _agglomerate_case(), _add_zarrarray_case(),
]}


# ---- the child --------------------------------------------------------------------------
CHILD_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import crash_cases
crash_cases.child_main({name!r}, {path!r})
"""


def child_main(name: str, path: str) -> None:
    """Run case `name` on `path`, announcing the start and the end on stdout."""
    import wkpy.agglomerate_graph  # noqa: F401  (imports done before GO: the delay covers the work)
    import wkpy.copy  # noqa: F401
    import wkpy.dataset.layer._downsampling_utils  # noqa: F401

    p = Path(path)
    wk.Dataset.open(p if (p / "datasource-properties.json").exists() else p / "src")
    print(GO, flush=True)
    CASES[name].operate(Path(path))
    print(DONE, flush=True)


def _kill_after_go(proc: subprocess.Popen, name: str, err, delay: float, timeout: float) -> str:
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.strip() == GO:
                break
        else:
            proc.wait(timeout)
            err.seek(0)
            raise AssertionError(f"{name}: the child failed before starting (rc {proc.returncode}):\n"
                                 f"{err.read()[-3000:]}")
        time.sleep(delay)
        proc.kill()  # SIGKILL
        out, _ = proc.communicate(timeout=timeout)
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class Kill:
    delay: float
    finished: bool  # the operation ended before the kill came


def kill_during(name: str, path: Path, delay: float, timeout: float = 120.0) -> Kill:
    """Run case `name` on `path` in a fresh interpreter, SIGKILL it `delay` s after GO."""
    script = CHILD_SCRIPT.format(tests=str(TESTS_DIR), name=name, path=str(path))
    with tempfile.TemporaryFile("w+") as err:
        with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=err,
                              text=True) as proc:
            out = _kill_after_go(proc, name, err, delay, timeout)
        finished = DONE in out
        if proc.returncode not in (0, -9):
            err.seek(0)
            raise AssertionError(f"{name}: the operation failed (rc {proc.returncode}) before the kill:\n"
                                 f"{err.read()[-3000:]}")
        return Kill(delay, finished)


# ---- the driver -----------------------------------------------------------------------
@dataclass
class Outcome:
    name: str
    kills: int = 0
    survived: int = 0
    finished_before_kill: int = 0
    failures: list[str] = field(default_factory=list)


def run_case(case: Case, root: Path, kills: int, seed: int, strict: bool = True) -> Outcome:
    """Kill `case` `kills` times at seeded-random instants under `root`.

    With `strict`, the first failed check raises; otherwise failures are collected (and a
    broken dataset rebuilt) so a soak can count them.
    """
    rng = random.Random(f"{case.name}-{seed}")
    root = Path(root)
    template = root / "template"
    case.build(template)
    duration = 0.0
    if not case.loop:  # how long the operation takes (warm, as in the child), to place the kills inside it
        for attempt in range(2):
            calib = root / f"calibration-{attempt}"
            shutil.copytree(template, calib, symlinks=True)
            t0 = time.perf_counter()
            case.operate(calib)
            duration = time.perf_counter() - t0
            if case.name == "downsample":
                case.reference.update(_downsample_reference(calib))
            shutil.rmtree(calib)
    outcome = Outcome(case.name)
    work = root / "work"
    for k in range(kills):
        if not case.loop or not work.exists():
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(template, work, symlinks=True)
        stop, torn, watcher = threading.Event(), [], None
        if case.watch is not None:
            def watch() -> None:
                try:
                    case.watch(work, stop, torn)
                except Exception as exc:  # noqa: BLE001 - a reader must not fail either
                    torn.append(f"a reader beside the killed writer raised {type(exc).__name__}: {exc}")
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        try:
            kill = kill_during(case.name, work, case.delay(rng, duration))
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
        outcome.kills += 1
        outcome.finished_before_kill += kill.finished
        try:
            assert not torn, torn[:3]
            case.verify(work, case)
        except Exception as exc:  # noqa: BLE001 - a soak counts every kind of failure
            if strict:
                raise AssertionError(f"{case.name}, kill {k} at {kill.delay * 1000:.1f} ms "
                                     f"(operation took {duration * 1000:.1f} ms in-process): {exc}") from exc
            outcome.failures.append(f"kill {k} at {kill.delay * 1000:.1f} ms: {type(exc).__name__}: {exc}"[:400])
            shutil.rmtree(work, ignore_errors=True)
            continue
        outcome.survived += 1
    shutil.rmtree(root / "template", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return outcome
