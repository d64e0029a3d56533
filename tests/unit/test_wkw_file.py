"""The WKW file kernel: headers, box reads/writes against a numpy model, hostile files."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import FIXTURES, array_in_layout, fixtures_or_skip, random_volume
from one_file import tmp_name, wkw_read, wkw_write
from wkcore import CorruptFileError, _wkw

SEEN_HEADER = bytes.fromhex("574b570115030103") + (80).to_bytes(8, "little")


def test_header_from_formats_md_parses():
    assert _wkw.parse_header_bytes(SEEN_HEADER) == (5, 1, 3, 1, 3, 80)


def test_header_bytes_are_built_exactly():
    assert _wkw.header_bytes(5, 1, 3, 1, 3, 80) == SEEN_HEADER
    assert _wkw.header_bytes(5, 1, 3, 1, 3) == SEEN_HEADER[:8] + bytes(8)


def test_fixture_mag_headers_match_what_we_build():
    root = fixtures_or_skip()
    headers = sorted(root.glob("wkw_*/*/*/header.wkw"))
    assert headers
    for h in headers:
        raw = h.read_bytes()
        assert _wkw.header_bytes(*_wkw.parse_header_bytes(raw)) == raw


@pytest.mark.parametrize("offset,value,field", [
    (0, 0x58, "magic"), (3, 2, "version"), (5, 7, "block type"), (6, 9, "voxel type"),
    (7, 0, "bytes per voxel"), (4, 0xFB, "limits"),
])
def test_bad_header_fields_are_named(offset, value, field):
    raw = bytearray(SEEN_HEADER)
    raw[offset] = value
    with pytest.raises(CorruptFileError, match=field):
        _wkw.parse_header_bytes(bytes(raw))


def test_short_header_is_refused():
    with pytest.raises(CorruptFileError, match="16"):
        _wkw.parse_header_bytes(SEEN_HEADER[:10])
    with pytest.raises(CorruptFileError, match="header is 0 bytes"):     # 16 rows, but no bytes
        _wkw.parse_header_bytes(np.zeros((16, 0), np.uint8))


def layout(block_type, dtype, nc, block_log2=3, file_log2=2):
    voxel_type = {"uint8": 1, "uint16": 2, "uint32": 3, "uint64": 4, "float32": 5, "float64": 6}[np.dtype(dtype).name]
    return (block_log2, file_log2, block_type, voxel_type, nc * np.dtype(dtype).itemsize)


def read_layout(full):
    return (full[0], full[1], full[3], full[4])


SIDE = 32  # block 8, 4 blocks per side
boxes = st.tuples(*[st.integers(0, SIDE - 1)] * 3).flatmap(
    lambda lo: st.tuples(st.just(lo), st.tuples(*[st.integers(l + 1, SIDE) for l in lo])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(boxes, min_size=1, max_size=4), st.sampled_from([1, 2, 3]),
       st.sampled_from([("uint8", 1), ("uint8", 3), ("uint16", 1), ("float64", 2)]), st.sampled_from("CF"))
def test_writes_then_reads_match_a_numpy_model(tmp_path, writes, block_type, kind, order):
    dtype, nc = kind
    full = layout(block_type, dtype, nc)
    path = tmp_path / f"f{block_type}{dtype}{nc}{order}{len(writes)}.wkw"
    path.unlink(missing_ok=True)
    model = np.zeros((nc, SIDE, SIDE, SIDE), dtype)
    for n, (lo, hi) in enumerate(writes):
        shape = tuple(h - l for l, h in zip(lo, hi))
        data = np.asarray(random_volume((nc, *shape), dtype, seed=n), order=order)
        wkw_write(path, full, (*lo, *hi), data, (0, 0, 0))
        model[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = data
    lo, hi = writes[0]
    out = np.zeros((nc, SIDE, SIDE, SIDE), dtype, order=order)
    assert wkw_read(path, read_layout(full), (0, 0, 0, SIDE, SIDE, SIDE), out, (0, 0, 0))
    np.testing.assert_array_equal(out, model)
    part = np.zeros((nc, *[h - l for l, h in zip(lo, hi)]), dtype)
    wkw_read(path, read_layout(full), (*lo, *hi), part, (0, 0, 0))
    np.testing.assert_array_equal(part, model[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [path.name]


def test_missing_file_reads_as_not_found_and_leaves_the_buffer(tmp_path):
    out = np.full((1, 4, 4, 4), 7, np.uint8)
    assert wkw_read(tmp_path / "nope.wkw", (3, 2, 1, 1), (0, 0, 0, 4, 4, 4), out, (0, 0, 0)) is False
    assert (out == 7).all()


def test_raw_file_has_its_full_size_and_compressed_file_is_smaller(tmp_path):
    data = np.zeros((1, 8, 8, 8), np.uint8)
    for bt in (1, 2):
        p = tmp_path / f"{bt}.wkw"
        wkw_write(p, layout(bt, "uint8", 1), (0, 0, 0, 8, 8, 8), data, (0, 0, 0))
        size = p.stat().st_size
        if bt == 1:
            assert size == 16 + 64 * 512
        else:
            assert size < 16 + 64 * 8 + 64 * 64


@pytest.mark.parametrize("bad", [
    dict(box=(0, 0, 0, 33, 8, 8)), dict(box=(4, 0, 0, 4, 8, 8)), dict(shape=(2, 8, 8, 8)),
    dict(dtype="uint16"), dict(shape=(1, 8, 8)), dict(offset=(1, 0, 0)),
])
def test_bad_arguments_raise_value_errors(tmp_path, bad):
    shape, dtype = bad.get("shape", (1, 8, 8, 8)), bad.get("dtype", "uint8")
    data = np.zeros(shape, dtype)
    with pytest.raises(ValueError):
        wkw_write(tmp_path / "a.wkw", layout(2, "uint8", 1), bad.get("box", (0, 0, 0, 8, 8, 8)), data,
                  bad.get("offset", (0, 0, 0)))


def test_a_read_only_buffer_cannot_be_read_into(tmp_path):
    data = np.zeros((1, 8, 8, 8), np.uint8)
    p = tmp_path / "a.wkw"
    wkw_write(p, layout(2, "uint8", 1), (0, 0, 0, 8, 8, 8), data, (0, 0, 0))
    data.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        wkw_read(p, (3, 2, 1, 1), (0, 0, 0, 8, 8, 8), data, (0, 0, 0))


def test_an_object_array_is_refused_not_filled_with_raw_bytes(tmp_path):
    # object items are 8-byte pointers: voxel bytes read into them crashed the interpreter
    p = tmp_path / "a.wkw"
    lay = layout(2, "uint64", 1)
    wkw_write(p, lay, (0, 0, 0, 8, 8, 8), np.full((1, 8, 8, 8), 12345, np.uint64), (0, 0, 0))
    with pytest.raises(ValueError, match="Python objects"):
        wkw_read(p, read_layout(lay), (0, 0, 0, 8, 8, 8), np.empty((1, 8, 8, 8), object), (0, 0, 0))
    with pytest.raises(ValueError, match="Python objects"):
        wkw_write(p, lay, (0, 0, 0, 8, 8, 8), np.full((1, 8, 8, 8), None, object), (0, 0, 0))


def test_a_file_of_another_layout_is_refused(tmp_path):
    p = tmp_path / "a.wkw"
    data = np.zeros((1, 8, 8, 8), np.uint8)
    wkw_write(p, layout(2, "uint8", 1), (0, 0, 0, 8, 8, 8), data, (0, 0, 0))
    with pytest.raises(CorruptFileError, match="differs"):
        wkw_read(p, (3, 2, 2, 2), (0, 0, 0, 8, 8, 8), np.zeros((1, 8, 8, 8), np.uint16), (0, 0, 0))


# ---- hostile files ------------------------------------------------------------------------

def _real_files():
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.glob("wkw_*/*/*/z*/y*/x*.wkw"))


def _mag_layout(path: Path):
    h = _wkw.parse_header_bytes((path.parents[2] / "header.wkw").read_bytes())
    return (h[0], h[1], h[3], h[4])


def _read_all(path: Path, lay) -> np.ndarray:
    side = 1 << (lay[0] + lay[1])
    dtype = {1: "uint8", 2: "uint16", 3: "uint32", 4: "uint64", 5: "float32", 6: "float64"}[lay[2]]
    nc = lay[3] // np.dtype(dtype).itemsize
    out = np.zeros((nc, side, side, side), dtype)
    wkw_read(path, lay, (0, 0, 0, side, side, side), out, (0, 0, 0))
    return out


@pytest.mark.parametrize("cut", [0, 5, 16, 100, -1])
def test_truncated_real_files_raise_corrupt_file_error(tmp_path, cut):
    files = _real_files() or pytest.skip("no fixture files")
    for src in files:
        raw = src.read_bytes()
        p = tmp_path / "t.wkw"
        p.write_bytes(raw[:cut] if cut >= 0 else raw[: len(raw) // 2])
        with pytest.raises(CorruptFileError, match="t.wkw"):
            _read_all(p, _mag_layout(src))


def test_a_header_claiming_huge_blocks_allocates_nothing_big(tmp_path):
    p = tmp_path / "big.wkw"
    # block_len 2**10, file_len 2**0, LZ4, uint64 x 31 channels: a 248 GiB block from 100 bytes
    p.write_bytes(_wkw.header_bytes(10, 0, 2, 4, 248, 24) + (120).to_bytes(8, "little") + bytes(96))
    with pytest.raises(CorruptFileError):
        wkw_read(p, (10, 0, 4, 248), (0, 0, 0, 1, 1, 1), np.zeros((31, 1, 1, 1), np.uint64), (0, 0, 0))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_real_files_only_raise_typed_errors(tmp_path, data):
    files = _real_files() or pytest.skip("no fixture files")
    src = data.draw(st.sampled_from(files))
    raw = bytearray(src.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()) and pos < 16 + 8 * 64:  # aim at header and jump table
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    p = tmp_path / "fuzz.wkw"
    p.write_bytes(bytes(raw))
    lay = _mag_layout(src)
    try:
        _read_all(p, lay)
    except CorruptFileError:
        pass
    # writing into a damaged file must fail cleanly too, leaving no temp file behind
    h = _wkw.parse_header_bytes((src.parents[2] / "header.wkw").read_bytes())
    nc = lay[3] // {1: 1, 2: 2, 3: 4, 4: 8, 5: 4, 6: 8}[lay[2]]
    dtype = {1: "uint8", 2: "uint16", 3: "uint32", 4: "uint64", 5: "float32", 6: "float64"}[lay[2]]
    try:
        wkw_write(p, (h[0], h[1], h[2], h[3], h[4]), (1, 2, 3, 9, 9, 9), np.ones((nc, 8, 7, 6), dtype), (0, 0, 0))
    except CorruptFileError:
        assert not tmp_name(p).exists()


@pytest.mark.parametrize("block_type", [1, 7])
def test_a_compressed_layer_refuses_a_file_with_another_block_type(tmp_path, block_type):
    import wkpy as wk

    ds = wk.Dataset(tmp_path / "d", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=8, shard_shape=32)
    mag.write(np.ones((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
    shard = tmp_path / "d" / "c" / "1" / "z0" / "y0" / "x0.wkw"
    raw = bytearray(shard.read_bytes())
    raw[5] = block_type
    shard.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="x0.wkw"):
        mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
    assert shard.read_bytes() == bytes(raw), "a refused write must leave the file as it was"


# ---- damaged files are replaced by writes that cover them ----------------------------------

def _damaged_variants(raw: bytes):
    yield "empty", b""
    yield "40 bytes", raw[:40]
    yield "60 %", raw[: len(raw) * 6 // 10]
    if raw[5] != 1:                         # a compressed file: garbage jump table
        yield "garbage jump table", raw[:16] + bytes([0xA5]) * 8 * 64 + raw[16 + 8 * 64:]
    yield "not a WKW file", bytes([0x5A]) * 16 + raw[16:]


def test_a_write_covering_a_damaged_real_file_replaces_it_and_a_partial_one_raises(tmp_path):
    files = _real_files() or pytest.skip("no fixture files")
    for src in files[:4]:
        h = _wkw.parse_header_bytes((src.parents[2] / "header.wkw").read_bytes())
        lay5 = (h[0], h[1], h[2], h[3], h[4])
        side = 1 << (h[0] + h[1])
        dtype = {1: "uint8", 2: "uint16", 3: "uint32", 4: "uint64", 5: "float32", 6: "float64"}[h[3]]
        nc = h[4] // np.dtype(dtype).itemsize
        for kind, bad in _damaged_variants(src.read_bytes()):
            p = tmp_path / "d.wkw"
            p.write_bytes(bad)
            with pytest.raises(CorruptFileError, match="d.wkw"):
                wkw_write(p, lay5, (1, 2, 3, 9, 9, 9), np.ones((nc, 8, 7, 6), dtype), (0, 0, 0))
            assert p.read_bytes() == bad, f"{src.name}, {kind}: a refused write changed the file"
            new = random_volume((nc, side, side, side), dtype)
            wkw_write(p, lay5, (0, 0, 0, side, side, side), new, (0, 0, 0))
            out = np.zeros_like(new)
            wkw_read(p, (h[0], h[1], h[3], h[4]), (0, 0, 0, side, side, side), out, (0, 0, 0))
            assert (out == new).all(), f"{src.name}, {kind}"
            assert sorted(x.name for x in tmp_path.iterdir()) == ["d.wkw"]


def test_whole_file_encode_range_needs_only_the_old_header():
    lay = layout(2, "uint8", 1, block_log2=3, file_log2=0)      # one 8³ block per file
    data = np.full((1, 8, 8, 8), 3, np.uint8)
    for old in (b"", b"WKW", bytes(40), _wkw.header_bytes(3, 0, 2, 1, 1) + b"\xff" * 30):
        blob, ends = _wkw.encode_range(old, lay, (0, 0, 0, 8, 8, 8), data, (0, 0, 0), 0, 1)
        assert len(ends) == 8 and blob
    with pytest.raises(CorruptFileError, match="raw"):       # a valid header of another kind
        _wkw.encode_range(_wkw.header_bytes(3, 0, 1, 1, 1, 16), lay, (0, 0, 0, 8, 8, 8), data, (0, 0, 0), 0, 1)
    with pytest.raises(CorruptFileError, match="empty"):     # a partial write needs the old file
        _wkw.encode_range(b"", lay, (0, 0, 0, 4, 4, 4), data, (0, 0, 0), 0, 1)


# ---- buffers: the kernel takes block bytes as spans, in any cut --------------------------------

def test_block_bytes_may_come_in_any_spans_and_a_missing_one_is_refused(tmp_path):
    lay = layout(2, "uint16", 2)                  # 8³ blocks, 4³ blocks per file, LZ4
    data = np.asarray(random_volume((2, SIDE, SIDE, SIDE), "uint16", seed=4), order="F")
    path = tmp_path / "f.wkw"
    wkw_write(path, lay, (0, 0, 0, SIDE, SIDE, SIDE), data, (0, 0, 0))
    raw = path.read_bytes()
    box = (3, 9, 17, 20, 30, 25)
    offset, length = _wkw.table_range(read_layout(lay), raw[:16], len(raw), box)
    assert 16 <= offset and offset + length <= 16 + 8 * 64
    rows = _wkw.plan(read_layout(lay), raw[:16], len(raw), box, raw[offset:offset + length])
    assert (np.diff(rows[:, 0].astype(np.int64)) > 0).all()      # file order is Morton order
    per_block = [(o, raw[o:o + n]) for _, o, n in rows.tolist()]
    for spans in ([(0, raw)], per_block[::-1]):
        out = np.zeros((2, 17, 21, 8), np.uint16)
        assert _wkw.decode(read_layout(lay), raw[:16], box, out, (0, 0, 0), rows, spans) == len(rows)
        assert (out == data[:, 3:20, 9:30, 17:25]).all()
    with pytest.raises(ValueError, match="no span holds"):
        _wkw.decode(read_layout(lay), raw[:16], box, np.zeros((2, 17, 21, 8), np.uint16), (0, 0, 0), rows,
                    per_block[:-1])
    with pytest.raises(ValueError, match="jump-table bytes"):
        _wkw.plan(read_layout(lay), raw[:16], len(raw), box, raw[offset:offset + length - 8])
    with pytest.raises(CorruptFileError, match="shorter than the 16-byte header"):
        _wkw.table_range(read_layout(lay), b"", 10, box)


@pytest.mark.parametrize("how", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype,nc", [("uint8", 1), ("uint8", 3), ("uint16", 1), ("uint32", 2), ("float64", 1)])
def test_block_copies_in_every_layout_match_the_stored_order(dtype, nc, how):
    # 32³ blocks: wide enough for the blocked transposes (16-byte tiles) and their ragged edges
    full = layout(1, dtype, nc, block_log2=5, file_log2=1)
    side = 64
    model = random_volume((nc, side, side, side), dtype, seed=3)
    box = (0, 0, 0, side, side, side)
    head, size = _wkw.new_raw_header(full)
    rows = _wkw.plan(read_layout(full), head, size, box)
    blocks = _wkw.patch_raw(full, head, size, box, array_in_layout(model, how), (0, 0, 0), rows, [], False)
    for i, (m, _, _) in enumerate(rows.tolist()):
        x, y, z = m & 1, m >> 1 & 1, m >> 2 & 1          # Morton order of a 2×2×2 file
        part = model[:, 32 * x:32 * x + 32, 32 * y:32 * y + 32, 32 * z:32 * z + 32]
        assert blocks[i * len(blocks) // 8:(i + 1) * len(blocks) // 8] == part.tobytes(order="F")
    comp = layout(2, dtype, nc, block_log2=5, file_log2=1)
    parts = [_wkw.encode_range(None, comp, box, array_in_layout(model, how), (0, 0, 0), 0, 8)]
    blob = b"".join([_wkw.assemble(comp, parts), parts[0][0]])
    part_box = (3, 1, 5, 61, 40, 59)                  # ragged in every block it touches
    for data, size in ((head + blocks, len(head) + len(blocks)), (blob, len(blob))):
        off, n = _wkw.table_range(read_layout(full), data[:16], size, part_box)
        rows = _wkw.plan(read_layout(full), data[:16], size, part_box, data[off:off + n])
        out = array_in_layout(np.zeros((nc, 58, 39, 54), dtype), how)
        _wkw.decode(read_layout(full), data[:16], part_box, out, (0, 0, 0), rows, [(0, data)])
        np.testing.assert_array_equal(out, model[:, 3:61, 1:40, 5:59])


@pytest.mark.parametrize("dtype,nc", [("uint8", 1), ("uint16", 3)])
def test_whole_blocks_decode_into_arrays_of_their_layout(dtype, nc):
    # a Fortran-ordered array of one block has the block's layout: decoded in place
    comp = layout(2, dtype, nc, block_log2=3, file_log2=1)
    model = random_volume((nc, 16, 16, 16), dtype, seed=4)
    box = (0, 0, 0, 16, 16, 16)
    parts = [_wkw.encode_range(None, comp, box, model, (0, 0, 0), 0, 8)]
    blob = bytearray(b"".join([_wkw.assemble(comp, parts), parts[0][0]]))
    lay = read_layout(comp)
    for x, y, z in ((0, 0, 0), (8, 0, 8), (8, 8, 8)):
        part = (x, y, z, x + 8, y + 8, z + 8)
        off, n = _wkw.table_range(lay, blob[:16], len(blob), part)
        out = np.zeros((nc, 8, 8, 8), dtype, order="F")
        _wkw.decode(lay, blob[:16], part, out, (0, 0, 0), _wkw.plan(lay, blob[:16], len(blob), part, blob[off:off + n]),
                    [(0, blob)])
        np.testing.assert_array_equal(out, model[:, x:x + 8, y:y + 8, z:z + 8])
    part = (0, 0, 0, 8, 8, 8)
    off, n = _wkw.table_range(lay, blob[:16], len(blob), part)
    rows = _wkw.plan(lay, blob[:16], len(blob), part, blob[off:off + n])
    _, start, size = rows[0].tolist()
    blob[start:start + size] = b"\xff" * size          # block 0's bytes
    with pytest.raises(CorruptFileError, match="block 0"):
        _wkw.decode(lay, blob[:16], part, np.zeros((nc, 8, 8, 8), dtype, order="F"), (0, 0, 0), rows, [(0, blob)], "f")


@pytest.mark.parametrize("how", ["C", "F"])
def test_blocks_of_literals_are_read_from_their_bytes(how):
    # random bytes do not compress: LZ4 stores each block as one run of literals, and a
    # read copies them from the block's bytes; a block whose run is one byte short is corrupt
    comp = layout(2, "uint8", 1, block_log2=4, file_log2=1)
    model = np.random.default_rng(2).integers(0, 256, (1, 32, 32, 32)).astype(np.uint8)
    box = (0, 0, 0, 32, 32, 32)
    parts = [_wkw.encode_range(None, comp, box, model, (0, 0, 0), 0, 8)]
    blob = bytearray(b"".join([_wkw.assemble(comp, parts), parts[0][0]]))
    lay = read_layout(comp)
    rows = _wkw.plan(lay, blob[:16], len(blob), box, blob[16:16 + 64])
    assert all(blob[o] == 0xF0 and n == 16**3 + 1 + 17 for _, o, n in rows.tolist())   # one run of literals
    out = array_in_layout(np.zeros((1, 32, 32, 32), np.uint8), how)
    _wkw.decode(lay, blob[:16], box, out, (0, 0, 0), rows, [(0, blob)])
    np.testing.assert_array_equal(out, model)
    _, o, n = rows[0].tolist()
    blob[o + 1] -= 1                                    # the run is 254 literals short of the block
    with pytest.raises(CorruptFileError, match="block 0"):
        _wkw.decode(lay, blob[:16], box, out, (0, 0, 0), rows[:1], [(0, blob)], "f")
