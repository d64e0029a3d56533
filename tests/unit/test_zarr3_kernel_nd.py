"""The Zarr3 shard kernel with 1 to 8 axes, against a numpy model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from one_file import shard_read, shard_write
from wkcore import UnsupportedError, _shard

CHAINS = [[], [("zstd", 1, True)], [("blosc", "lz4", 5, 1, 2, 0)], [("crc32c",)]]


def spec_for(dtype, shard, chunk, order, steps=(), sharded=True, fill=0):
    dtype = np.dtype(dtype)
    return _shard.ShardSpec(dtype.itemsize, shard, chunk, order, False, list(steps), sharded, False, False, True,
                            np.array(fill, dtype).tobytes())


@st.composite
def layouts(draw):
    nd = draw(st.integers(1, _shard.MAX_NDIM))
    # few voxels per shard: 8 axes of side 2 already make 256
    chunk = tuple(draw(st.sampled_from([1, 1, 2, 3])) for _ in range(nd))
    sharded = draw(st.booleans())
    grid = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if sharded else (1,) * nd
    return dict(dtype=draw(st.sampled_from(["uint8", "uint16", "float32", "uint64"])), chunk=chunk,
                shard=tuple(c * g for c, g in zip(chunk, grid)), order=tuple(draw(st.permutations(range(nd)))),
                steps=draw(st.sampled_from(CHAINS)), sharded=sharded, fill=draw(st.sampled_from([0, 7])))


@st.composite
def boxes(draw, shard):
    lo = [draw(st.integers(0, s - 1)) for s in shard]
    hi = [draw(st.integers(l + 1, s)) for l, s in zip(lo, shard)]
    return tuple(lo) + tuple(hi)


def _arrange(data, shape, dtype):
    """A buffer one larger than `shape` along every axis in a random memory layout (C, F or
    a permuted view), the box at offset 1; returns (buffer, offset, the box's view)."""
    kind = data.draw(st.sampled_from(["C", "F", "permuted"]))
    if kind == "permuted":
        perm = data.draw(st.permutations(range(len(shape))))
        base = np.zeros([shape[p] + 1 for p in perm], dtype).transpose(np.argsort(perm))
    else:
        base = np.zeros([s + 1 for s in shape], dtype, order=kind)
    return base, (1,) * len(shape), base[tuple(slice(1, None) for _ in shape)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_nd_box_writes_and_reads_match_a_numpy_model(tmp_path, data):
    lay = data.draw(layouts())
    spec = spec_for(**lay)
    nd, dtype, shard, fill = len(lay["shard"]), np.dtype(lay["dtype"]), lay["shard"], lay["fill"]
    assert spec.ndim == nd
    model = np.full(shard, fill, dtype)
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "shard"
    for _ in range(data.draw(st.integers(1, 3))):
        box = data.draw(boxes(shard))
        ext = tuple(box[k + nd] - box[k] for k in range(nd))
        values = np.random.default_rng(data.draw(st.integers(0, 99))).integers(0, 3, ext).astype(dtype)
        buf, at, inner = _arrange(data, ext, dtype)
        inner[...] = values
        region = tuple(slice(box[k], box[k + nd]) for k in range(nd))
        prepared = []
        if lay["sharded"] and data.draw(st.booleans()):    # encode a chunk-aligned cut first, as the façade does
            axis = data.draw(st.integers(0, nd - 1))
            c = lay["chunk"][axis]
            cut = next((b for b in range(box[axis] + 1, box[axis + nd]) if b % c == 0), None)
            if cut is not None:
                for lo, hi in ((box[axis], cut), (cut, box[axis + nd])):
                    sub, start = list(box), list(at)
                    sub[axis], sub[axis + nd] = lo, hi
                    start[axis] += lo - box[axis]
                    prepared.append((tuple(sub), tuple(start)))
        shard_write(path, spec, box, buf, at, prepared)
        model[region] = values
        rbox = data.draw(boxes(shard))
        rext = tuple(rbox[k + nd] - rbox[k] for k in range(nd))
        out, oat, inner = _arrange(data, rext, dtype)
        out[...] = fill
        shard_read(path, spec, rbox, out, oat)
        assert np.array_equal(inner, model[tuple(slice(rbox[k], rbox[k + nd]) for k in range(nd))])


def test_more_than_eight_axes_are_unsupported():
    assert _shard.MAX_NDIM == 8
    spec_for("uint8", (2,) * 8, (1,) * 8, tuple(range(8)))
    with pytest.raises(UnsupportedError, match="9 axes"):
        spec_for("uint8", (1,) * 9, (1,) * 9, tuple(range(9)))
    with pytest.raises(ValueError):              # UnsupportedError is a ValueError too
        spec_for("uint8", (1,) * 10_000, (1,) * 10_000, tuple(range(10_000)))


@pytest.mark.parametrize("shard,chunk,order", [
    ((), (), ()),                                  # no axis
    ((2, 2, 2, 2, 2), (1, 1, 1, 1), (0, 1, 2, 3)),  # ranks differ
    ((2, 2, 2, 2, 2), (1,) * 5, (0, 1, 2, 3, 3)),   # not a permutation
    ((2, 2, 2, 2, 2), (1, 1, 1, 1, 3), tuple(range(5))),  # chunk does not divide
    ((1, 2**63, 1, 1, 1), (1,) * 5, tuple(range(5))),     # side beyond what the kernels address
])
def test_bad_nd_specs_are_value_errors(shard, chunk, order):
    with pytest.raises(ValueError):
        spec_for("uint8", shard, chunk, order)


def test_nd_boxes_and_buffers_must_have_the_specs_rank(tmp_path):
    spec = spec_for("uint8", (1, 2, 4, 4, 4), (1, 1, 2, 2, 2), (4, 3, 2, 1, 0))
    data = np.ones((1, 2, 4, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="10 numbers"):
        shard_write(tmp_path / "s", spec, (0, 0, 0, 0, 1, 4, 4, 4), data, (0,) * 5)
    with pytest.raises(ValueError, match="5-D"):
        shard_write(tmp_path / "s", spec, (0,) * 5 + (1, 2, 4, 4, 4), data[0], (0,) * 4)
    with pytest.raises(ValueError, match="not inside"):
        shard_write(tmp_path / "s", spec, (0,) * 5 + (1, 3, 4, 4, 4), data, (0,) * 5)
    assert not list(tmp_path.iterdir())


def test_a_corrupt_nd_index_entry_names_every_coordinate(tmp_path):
    import struct

    import google_crc32c

    from wkcore import CorruptFileError

    spec = spec_for("uint8", (1, 2, 2, 2, 2), (1, 1, 1, 1, 1), tuple(range(5)))
    path = tmp_path / "s"
    shard_write(path, spec, (0,) * 5 + (1, 2, 2, 2, 2), np.ones((1, 2, 2, 2, 2), np.uint8), (0,) * 5)
    raw = path.read_bytes()
    n = spec.n_chunks
    index = bytearray(raw[-(16 * n + 4):-4])
    index[16 * 13:16 * 14] = struct.pack("<QQ", 10**9, 5)          # chunk 13 = (0, 1, 1, 0, 1)
    path.write_bytes(raw[:-(16 * n + 4)] + bytes(index) + struct.pack("<I", google_crc32c.value(bytes(index))))
    with pytest.raises(CorruptFileError, match=r"entry 13 \(chunk 0,1,1,0,1\)"):
        shard_read(path, spec, (0,) * 5 + (1, 2, 2, 2, 2), np.zeros((1, 2, 2, 2, 2), np.uint8), (0,) * 5)


def test_an_object_array_is_refused_not_filled_with_raw_bytes(tmp_path):
    # object items are 8-byte pointers: chunk bytes read into them crashed the interpreter
    spec = spec_for("uint64", (1, 2, 2, 2, 2), (1, 1, 2, 2, 2), tuple(range(5)))
    path, box = tmp_path / "s", (0,) * 5 + (1, 2, 2, 2, 2)
    shard_write(path, spec, box, np.full((1, 2, 2, 2, 2), 12345, np.uint64), (0,) * 5)
    objects = np.full((1, 2, 2, 2, 2), None, object)
    with pytest.raises(ValueError, match="Python objects"):
        shard_read(path, spec, box, objects, (0,) * 5)
    with pytest.raises(ValueError, match="Python objects"):
        _shard.encode(spec, box, objects, (0,) * 5)
    with pytest.raises(ValueError, match="Python objects"):
        shard_write(path, spec, box, objects, (0,) * 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


@pytest.mark.parametrize("index_at_start", [False, True])
def test_an_index_of_many_chunks_is_written_whole(tmp_path, index_at_start):
    # 2**21 inner chunks make a 32 MiB index
    spec = _shard.ShardSpec(1, (1, 128, 128, 128), (1, 1, 1, 1), (0, 1, 2, 3), False, [], True, index_at_start)
    path = tmp_path / "s"
    for at, value in (((0, 0, 0, 0), 7), ((0, 127, 127, 127), 9)):
        box = at + tuple(a + 1 for a in at)
        shard_write(path, spec, box, np.full((1, 1, 1, 1), value, np.uint8), (0,) * 4)
    assert path.stat().st_size == spec.index_bytes + 2
    out = np.zeros((1, 128, 1, 1), np.uint8)
    shard_read(path, spec, (0, 0, 0, 0, 1, 128, 1, 1), out, (0,) * 4)
    assert out[0, :2, 0, 0].tolist() == [7, 0]
    shard_read(path, spec, (0, 127, 127, 127, 1, 128, 128, 128), out, (0,) * 4)
    assert out[0, 0, 0, 0] == 9
    raw = path.read_bytes()
    index = raw[:spec.index_bytes] if index_at_start else raw[-spec.index_bytes:]
    entries = np.frombuffer(index[:-4], "<u8").reshape(-1, 2)
    data_start = spec.index_bytes if index_at_start else 0
    assert entries[0].tolist() == [data_start, 1] and entries[-1].tolist() == [data_start + 1, 1]
    assert (entries[1:-1] == 2**64 - 1).all()
