"""The Zarr3 shard kernel and its codecs: a numpy model, pure-Python oracles, hostile files."""

from __future__ import annotations

import gzip
import itertools
import shutil
import struct
import tempfile
import threading
import zlib
from pathlib import Path

import google_crc32c
import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import array_in_layout, fixtures_or_skip
from one_file import shard_index, shard_read, shard_write, store_of, tmp_name
from wkcore import CorruptFileError, UnsupportedError, _codecs, _shard

ABSENT = 2**64 - 1
WK_DEFAULT = [("zstd", 5, True)]
FIXTURE_SHARD = "zarr3_sharded/segmentation/1/c/0/0/0/0"


def spec_for(dtype="uint8", shard=(1, 64, 64, 64), chunk=(1, 32, 32, 32), order=(3, 2, 1, 0), steps=WK_DEFAULT,
             sharded=True, big_endian=False, index_at_start=False, index_big_endian=False, index_crc=True, fill=0):
    dtype = np.dtype(dtype)
    return _shard.ShardSpec(dtype.itemsize, shard, chunk, order, big_endian, steps, sharded, index_at_start,
                            index_big_endian, index_crc, np.array(fill, dtype).tobytes())


def oracle_index(raw: bytes, n: int, at_start: bool = False, crc: bool = True, big: bool = False):
    """A pure-Python reading of a shard index (the sharding_indexed spec)."""
    size = 16 * n + (4 if crc else 0)
    part = raw[:size] if at_start else raw[len(raw) - size:]
    values = struct.unpack(f"{'>' if big else '<'}{2 * n}Q", part[:16 * n])
    if crc:
        assert struct.unpack("<I", part[16 * n:])[0] == google_crc32c.value(part[:16 * n])
    return [None if values[2 * i] == ABSENT else (values[2 * i], values[2 * i + 1]) for i in range(n)]


# ---- codecs ------------------------------------------------------------------------------

BLOSC_CASES = list(itertools.product(["blosclz", "lz4", "lz4hc", "zlib", "zstd"], [0, 1, 2], [1, 2, 4, 8]))


@pytest.mark.parametrize("cname,shuffle,typesize", BLOSC_CASES)
def test_blosc_chunks_are_blosc1_and_numcodecs_reads_them(cname, shuffle, typesize):
    data = (np.arange(40000) % 251).astype(f"u{typesize}").tobytes()
    chunk = _codecs.blosc_compress_chunk(data, cname, 5, shuffle, typesize)
    assert chunk[0] == 2, "C-Blosc1 format version"
    assert len(chunk) < len(data)
    assert bytes(numcodecs.Blosc().decode(chunk)) == data
    assert _codecs.blosc_decompress_chunk(chunk, len(data)) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.sampled_from(["lz4", "zstd", "blosclz", "zlib"]), st.integers(0, 9),
       st.sampled_from([0, 1, 2]), st.sampled_from([1, 2, 4, 8, 16, 3]), st.sampled_from([0, 128, 1000]))
def test_blosc_round_trips_through_numcodecs_both_ways(data, cname, clevel, shuffle, typesize, blocksize):
    ours = _codecs.blosc_compress_chunk(data, cname, clevel, shuffle, typesize, blocksize)
    assert len(ours) <= len(data) + 16
    assert _codecs.blosc_decompress_chunk(ours, len(data)) == data
    if data:
        assert bytes(numcodecs.Blosc().decode(ours)) == data
        theirs = numcodecs.Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=blocksize).encode(data)
        assert _codecs.blosc_decompress_chunk(theirs, len(data)) == data


def test_blosc2_format_chunks_decode_too():
    # golden chunks written by python-blosc2 4.14.1 (`blosc2.compress(data, typesize=4)`),
    # kept as files so that the test needs no python-blosc2
    data = np.arange(50000, dtype=np.uint32).tobytes()
    golden = Path(__file__).resolve().parents[1] / "data"
    for name, expected in (("blosc2_arange_u32.bin", data), ("blosc2_zeros_u32.bin", bytes(len(data)))):
        chunk = (golden / name).read_bytes()
        assert chunk[0] >= 3  # a Blosc2-format header, not Blosc1
        assert _codecs.blosc_decompress_chunk(chunk, len(data)) == expected


def test_gzip_members_match_python_gzip_and_zlib():
    data = np.arange(30000, dtype=np.uint16).tobytes()
    member = _codecs.gzip_compress_member(data, 5)
    assert member[:2] == b"\x1f\x8b"
    assert gzip.decompress(member) == data
    assert _codecs.gzip_decompress_member(member, len(data)) == data
    assert _codecs.gzip_decompress_member(gzip.compress(data, 9), len(data)) == data
    assert _codecs.gzip_decompress_member(zlib.compress(data), len(data)) == data


@pytest.mark.parametrize("level", [0, 1, 5, 9])
def test_zlib_streams_match_python_zlib_and_numcodecs(level):
    data = np.arange(30000, dtype=np.uint16).tobytes()
    stream = _codecs.zlib_compress_stream(data, level)
    assert stream[0] == 0x78  # the zlib wrapper (RFC 1950), not gzip
    assert zlib.decompress(stream) == data
    assert bytes(numcodecs.Zlib(level).decode(stream)) == data
    assert _codecs.gzip_decompress_member(numcodecs.Zlib(level).encode(data), len(data)) == data
    spec = _shard.ShardSpec(2, (1, 30000, 1, 1), (1, 30000, 1, 1), (0, 1, 2, 3), False, [("zlib", level)], False)
    assert zlib.decompress(_shard.encode_chunk_bytes(spec, data)) == data
    assert _shard.decode_chunk_bytes(spec, stream) == data
    with pytest.raises(ValueError, match="zlib level"):
        _codecs.zlib_compress_stream(data, 10)


@pytest.mark.parametrize("decode", [_codecs.blosc_decompress_chunk, _codecs.gzip_decompress_member])
def test_wrong_sizes_and_flipped_bytes_are_corrupt(decode):
    data = np.arange(30000, dtype=np.uint16).tobytes()
    enc = bytearray(_codecs.blosc_compress_chunk(data, "zstd", 5, 1, 2) if decode is _codecs.blosc_decompress_chunk
                    else _codecs.gzip_compress_member(data))
    with pytest.raises(CorruptFileError):
        decode(bytes(enc), len(data) - 2)
    enc[len(enc) // 2] ^= 0xFF
    enc[-3] ^= 0xFF
    with pytest.raises(CorruptFileError):
        decode(bytes(enc), len(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 70000))
def test_garbage_never_crashes_blosc_or_gzip(data, size):
    for decode in (_codecs.blosc_decompress_chunk, _codecs.gzip_decompress_member):
        try:
            out = decode(data, size)
        except CorruptFileError:
            continue
        assert len(out) == size


# ---- ShardSpec -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(shard=(1, 64, 64, 64), chunk=(1, 48, 32, 32)),          # not a divisor
    dict(order=(0, 1, 2, 2)),
    dict(steps=[("lzma", 1)]),
    dict(steps=[("zstd", 5, True)] * 4),
    dict(steps=[("blosc", "snappy", 5, 1, 1, 0)]),
    dict(sharded=False),                                         # unsharded needs chunk == shard
    dict(shard=(1, 1 << 20, 1 << 20, 1 << 20), chunk=(1, 1, 1, 1)),
    dict(shard=(1, 1 << 12, 1 << 12, 1 << 12), chunk=(1, 1 << 12, 1 << 12, 1 << 12)),
])
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        spec_for(**kwargs)


# ---- the index -----------------------------------------------------------------------------

def test_fixture_index_is_the_one_formats_md_describes():
    path = fixtures_or_skip() / FIXTURE_SHARD
    raw = path.read_bytes()
    spec = spec_for("uint64")
    index = shard_index(path, spec)
    assert index == oracle_index(raw, 8)
    assert index[0] == (0, 220) and index[1] == (220, 319) and index[7] == (2510, 612)
    assert struct.unpack("<I", raw[-4:])[0] == 0x511106E9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 2**8 - 1))
def test_written_index_matches_the_oracle(tmp_path, at_start, big, crc, pattern):
    spec = spec_for(shard=(1, 8, 8, 8), chunk=(1, 4, 4, 4), steps=[("zstd", 1, False)], index_at_start=at_start,
                    index_big_endian=big, index_crc=crc)
    data = np.zeros((1, 8, 8, 8), np.uint8, order="F")
    for m in range(8):
        if pattern >> m & 1:
            x, y, z = (m >> 2) & 1, (m >> 1) & 1, m & 1
            data[0, 4 * x:4 * x + 4, 4 * y:4 * y + 4, 4 * z:4 * z + 4] = m + 1
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "s"
    outcome = shard_write(path, spec, (0, 0, 0, 0, 1, 8, 8, 8), data, (0, 0, 0, 0))
    if pattern == 0:
        assert outcome == 2 and not path.exists()
        return
    assert outcome == 0
    index = shard_index(path, spec)
    assert index == oracle_index(path.read_bytes(), 8, at_start, crc, big)
    assert [e is not None for e in index] == [bool(pattern >> m & 1) for m in range(8)]


# ---- reads and writes against a numpy model -------------------------------------------------

CHAINS = [[], [("zstd", 3, True)], [("blosc", "lz4", 5, 1, 2, 0)], [("blosc", "zstd", 3, 2, 4, 256)],
          [("gzip", 4)], [("crc32c",)], [("zstd", 1, False), ("crc32c",)], [("crc32c",), ("gzip", 1)]]
DTYPES = ["uint8", "int16", "uint32", "float32", "uint64", "float64"]


@st.composite
def layouts(draw):
    chunk = tuple(draw(st.sampled_from([1, 2, 3, 4])) for _ in range(4))
    sharded = draw(st.booleans())
    grid = tuple(draw(st.integers(1, 3)) for _ in range(4)) if sharded else (1, 1, 1, 1)
    shard = tuple(c * g for c, g in zip(chunk, grid))
    return dict(dtype=draw(st.sampled_from(DTYPES)), shard=shard, chunk=chunk,
                order=tuple(draw(st.permutations(range(4)))), steps=draw(st.sampled_from(CHAINS)),
                sharded=sharded, big_endian=draw(st.booleans()), index_at_start=draw(st.booleans()),
                index_crc=draw(st.booleans()), fill=draw(st.sampled_from([0, 3])))


@st.composite
def boxes(draw, shard):
    lo = [draw(st.integers(0, s - 1)) for s in shard]
    hi = [draw(st.integers(l + 1, s)) for l, s in zip(lo, shard)]
    return tuple(lo) + tuple(hi)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_box_writes_and_reads_match_a_numpy_model(tmp_path, data):
    lay = data.draw(layouts())
    spec = spec_for(**lay)
    dtype, shard, chunk = np.dtype(lay["dtype"]), lay["shard"], lay["chunk"]
    model = np.full(shard, lay["fill"], dtype)
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "shard"
    for _ in range(data.draw(st.integers(1, 4))):
        box = data.draw(boxes(shard))
        ext = tuple(box[k + 4] - box[k] for k in range(4))
        if data.draw(st.booleans()):
            values = np.full(ext, lay["fill"], dtype)           # erase
        else:
            values = np.random.default_rng(data.draw(st.integers(0, 99))).integers(0, 4, ext).astype(dtype)
        order = data.draw(st.sampled_from("CF"))
        padded = np.zeros((ext[0] + 1, ext[1] + 2, ext[2], ext[3] + 1), dtype, order=order)
        padded[1:, 2:, :, 1:] = values
        prepared = []
        if data.draw(st.booleans()):        # encode chunk-aligned parts of the box on threads
            axis = data.draw(st.integers(0, 3))
            borders = [b * chunk[axis] for b in range(1, shard[axis] // chunk[axis])]
            cuts = sorted({box[axis], box[axis + 4], *(b for b in borders if box[axis] < b < box[axis + 4]
                                                       and data.draw(st.booleans()))})
            for lo, hi in zip(cuts, cuts[1:]):
                sub = list(box)
                sub[axis], sub[axis + 4] = lo, hi
                at = [1, 2, 0, 1]
                at[axis] += lo - box[axis]
                prepared.append((tuple(sub), tuple(at)))
        shard_write(path, spec, box, padded, (1, 2, 0, 1), prepared)
        model[box[0]:box[4], box[1]:box[5], box[2]:box[6], box[3]:box[7]] = values
        out = np.full((shard[0] + 1, *shard[1:]), lay["fill"], dtype, order=data.draw(st.sampled_from("CF")))
        found = shard_read(path, spec, (0, 0, 0, 0, *shard), out, (1, 0, 0, 0))
        assert found == path.exists()
        assert np.array_equal(out[1:], model)      # absent chunks leave `out` as it was: the fill
        rbox = data.draw(boxes(shard))
        part = np.full(tuple(rbox[k + 4] - rbox[k] for k in range(4)), lay["fill"], dtype)
        shard_read(path, spec, rbox, part, (0, 0, 0, 0))
        assert np.array_equal(part, model[rbox[0]:rbox[4], rbox[1]:rbox[5], rbox[2]:rbox[6], rbox[3]:rbox[7]])
        index = shard_index(path, spec)
        blocks = [model[g[0] * chunk[0]:(g[0] + 1) * chunk[0], g[1] * chunk[1]:(g[1] + 1) * chunk[1],
                        g[2] * chunk[2]:(g[2] + 1) * chunk[2], g[3] * chunk[3]:(g[3] + 1) * chunk[3]]
                  for g in itertools.product(*(range(s // c) for s, c in zip(shard, chunk)))]
        present = [bool((b != lay["fill"]).any()) for b in blocks]
        assert (index is not None) == any(present)
        if index is not None:
            assert [e is not None for e in index] == present


@pytest.mark.parametrize("steps", CHAINS)
@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)])
def test_chunk_codec_round_trip_and_transpose_layout(steps, order):
    spec = spec_for("uint16", shard=(2, 4, 6, 8), chunk=(2, 4, 6, 8), order=order, steps=steps, sharded=False,
                    big_endian=True)
    chunk = np.arange(2 * 4 * 6 * 8, dtype=np.uint16).reshape(2, 4, 6, 8)
    raw = np.transpose(chunk, order).astype(">u2").tobytes()     # what the zarr spec stores
    native = np.transpose(chunk, order).astype("<u2").tobytes()
    enc = _shard.encode_chunk_bytes(spec, native)
    assert _shard.decode_chunk_bytes(spec, enc) == native
    if not steps:
        assert enc == raw


def test_encoded_chunks_must_come_from_the_same_spec():
    spec, other = spec_for(), spec_for(chunk=(1, 16, 16, 16))
    data = np.ones((1, 32, 32, 32), np.uint8)
    encoded = _shard.encode(spec, (0, 0, 0, 0, 1, 32, 32, 32), data, (0, 0, 0, 0))
    assert encoded.count == 1 and encoded.nbytes > 0 and memoryview(encoded).nbytes == encoded.nbytes
    with pytest.raises(ValueError, match="this shard's spec"):
        _shard.assemble(other, None, [encoded])
    runs, index = _shard.assemble(spec, None, [encoded])
    assert runs.tolist() == [[0, 0, encoded.nbytes]] and len(index) == spec.index_bytes


def test_a_reader_sees_the_version_it_opened(tmp_path):
    from wkpy.storage import _zarr_file

    spec = spec_for(shard=(1, 8, 8, 8), chunk=(1, 4, 4, 4))
    path = tmp_path / "s"
    box = (0, 0, 0, 0, 1, 8, 8, 8)
    shard_write(path, spec, box, np.full((1, 8, 8, 8), 1, np.uint8), (0, 0, 0, 0))
    store, key = store_of(path)
    with store.open(key) as reader:
        index = _zarr_file.read_index(reader, spec)
        shard_write(path, spec, box, np.full((1, 8, 8, 8), 2, np.uint8), (0, 0, 0, 0))
        out = np.zeros((1, 8, 8, 8), np.uint8)
        _zarr_file.read_box(reader, index, spec, box, out, (0, 0, 0, 0))
        assert (out == 1).all()
        assert shard_read(path, spec, box, out, (0, 0, 0, 0)) and (out == 2).all()


def test_all_fill_chunks_are_omitted_and_an_emptied_shard_is_removed(tmp_path):
    spec = spec_for(shard=(1, 8, 8, 8), chunk=(1, 4, 4, 4), fill=5)
    path = tmp_path / "s"
    data = np.full((1, 8, 8, 8), 5, np.uint8)
    assert shard_write(path, spec, (0, 0, 0, 0, 1, 8, 8, 8), data, (0, 0, 0, 0)) == 2
    assert not path.exists()
    data[0, 5, 5, 5] = 1
    assert shard_write(path, spec, (0, 0, 0, 0, 1, 8, 8, 8), data, (0, 0, 0, 0)) == 0
    assert [e is not None for e in shard_index(path, spec)] == [False] * 7 + [True]
    data[0, 5, 5, 5] = 5
    assert shard_write(path, spec, (0, 4, 4, 4, 1, 8, 8, 8), data, (0, 4, 4, 4)) == 1
    assert not path.exists() and not list(tmp_path.iterdir())


def test_untouched_chunks_are_copied_byte_for_byte(tmp_path):
    src = fixtures_or_skip() / FIXTURE_SHARD
    path = tmp_path / "s"
    shutil.copy(src, path)
    spec = spec_for("uint64")
    before, raw = shard_index(path, spec), path.read_bytes()
    one = np.array([[[[7]]]], np.uint64)
    shard_write(path, spec, (0, 40, 40, 40, 1, 41, 41, 41), one, (0, 0, 0, 0))
    after, new = shard_index(path, spec), path.read_bytes()
    for m in range(7):       # chunk 7 (1,1,1) holds (40, 40, 40)
        (o1, n1), (o2, n2) = before[m], after[m]
        assert raw[o1:o1 + n1] == new[o2:o2 + n2]
    assert after[7] != before[7]


# ---- hostile files ------------------------------------------------------------------------

def _shard_copy(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "c0"
    shutil.copy(fixtures_or_skip() / FIXTURE_SHARD, path)
    return path, path.read_bytes()


def _read_all(path, spec=None):
    out = np.zeros((1, 64, 64, 64), np.uint64)
    return shard_read(path, spec or spec_for("uint64"), (0, 0, 0, 0, 1, 64, 64, 64), out, (0, 0, 0, 0))


@pytest.mark.parametrize("mutate,message", [
    (lambda raw: raw[:-1], "checksum"),                                    # truncated index
    (lambda raw: raw[:50], "shorter than its"),
    (lambda raw: raw[:-5] + bytes([raw[-5] ^ 1]) + raw[-4:], "checksum"),   # flipped index byte
    (lambda raw: raw[:-4] + b"\0\0\0\0", "checksum"),
    (lambda raw: raw[:300] + bytes([raw[300] ^ 0x55]) + raw[301:], "zstd data"),
])
def test_corrupt_shards_raise_typed_errors_naming_the_file(tmp_path, mutate, message):
    path, raw = _shard_copy(tmp_path)
    path.write_bytes(mutate(raw))
    with pytest.raises(CorruptFileError, match=message) as err:
        _read_all(path)
    assert str(path) in str(err.value)


def _with_entry(raw: bytes, m: int, offset: int, nbytes: int) -> bytes:
    index = bytearray(raw[-132:-4])
    index[16 * m:16 * m + 16] = struct.pack("<QQ", offset, nbytes)
    return raw[:-132] + bytes(index) + struct.pack("<I", google_crc32c.value(bytes(index)))


@pytest.mark.parametrize("offset,nbytes", [(3000, 200), (100, 10**12), (2**63, 1), (ABSENT, 5), (5, ABSENT)])
def test_index_entries_past_the_data_are_refused(tmp_path, offset, nbytes):
    path, raw = _shard_copy(tmp_path)
    path.write_bytes(_with_entry(raw, 3, offset, nbytes))
    with pytest.raises(CorruptFileError, match=r"index entry 3 \(chunk 0,0,1,1\)"):
        _read_all(path)
    with pytest.raises(CorruptFileError):      # a write must not trust it either
        shard_write(path, spec_for("uint64"), (0, 0, 0, 0, 1, 1, 1, 1), np.ones((1, 1, 1, 1), np.uint64), (0, 0, 0, 0))
    assert not tmp_name(path).exists()


def test_a_corrupt_blosc_chunk_names_codec_and_chunk(tmp_path):
    spec = spec_for("uint16", shard=(1, 8, 8, 8), chunk=(1, 8, 8, 8), steps=[("blosc", "lz4", 5, 1, 2, 0)])
    path = tmp_path / "b"
    data = np.arange(512, dtype=np.uint16).reshape(1, 8, 8, 8)
    shard_write(path, spec, (0, 0, 0, 0, 1, 8, 8, 8), data, (0, 0, 0, 0))
    raw = bytearray(path.read_bytes())
    raw[20] ^= 0xFF
    raw[24] ^= 0xFF
    path.write_bytes(bytes(raw))
    out = np.zeros((1, 8, 8, 8), np.uint16)
    with pytest.raises(CorruptFileError, match="blosc data"):
        shard_read(path, spec, (0, 0, 0, 0, 1, 8, 8, 8), out, (0, 0, 0, 0))


def _hostile_sources(tmp_path: Path) -> list[tuple[Path, _shard.ShardSpec, tuple]]:
    """Real shard files: the fixture (zstd) and ones we write with blosc, gzip and crc32c."""
    out = [(fixtures_or_skip() / FIXTURE_SHARD, spec_for("uint64"), (1, 64, 64, 64))]
    data = (np.indices((1, 16, 16, 16)).sum(axis=0) % 7).astype(np.uint16)
    for i, steps in enumerate([[("blosc", "zstd", 5, 1, 2, 0)], [("gzip", 5), ("crc32c",)], [("crc32c",)]]):
        spec = spec_for("uint16", shard=(1, 16, 16, 16), chunk=(1, 8, 8, 8), steps=steps, index_at_start=i == 2)
        path = tmp_path / f"src{i}"
        shard_write(path, spec, (0, 0, 0, 0, 1, 16, 16, 16), data, (0, 0, 0, 0))
        out.append((path, spec, (1, 16, 16, 16)))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_mutated_shards_only_raise_typed_errors(tmp_path, data):
    sources = _hostile_sources(tmp_path)
    src, spec, shape = data.draw(st.sampled_from(sources))
    raw = bytearray(src.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["flip", "set", "truncate", "extend", "entry"]))
        if kind == "flip" and raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        elif kind == "truncate":
            del raw[data.draw(st.integers(0, len(raw))):]
        elif kind == "extend":
            raw += data.draw(st.binary(max_size=64))
        elif kind == "entry" and len(raw) >= 16:
            at = data.draw(st.integers(0, len(raw) - 8))
            raw[at:at + 8] = struct.pack("<Q", data.draw(st.sampled_from([0, 1, len(raw), 2**63, ABSENT - 1])))
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "victim"
    path.write_bytes(bytes(raw))
    out = np.zeros(shape, np.uint64 if shape[1] == 64 else np.uint16)
    try:
        shard_read(path, spec, (0, 0, 0, 0, *shape), out, (0, 0, 0, 0))
    except (CorruptFileError, UnsupportedError, OSError):
        pass
    try:
        shard_write(path, spec, (0, 1, 1, 1, 1, 3, 3, 3), out, (0, 1, 1, 1))
    except (CorruptFileError, UnsupportedError, OSError):
        assert not tmp_name(path).exists()


# ---- threads ----------------------------------------------------------------------------------

def test_threads_hammering_the_kernels_agree_with_the_model(tmp_path):
    spec = spec_for("uint16", shard=(1, 32, 32, 32), chunk=(1, 8, 8, 8), steps=[("blosc", "lz4", 5, 1, 2, 0)])
    rng = np.random.default_rng(1)
    models = [np.zeros((1, 32, 32, 32), np.uint16) for _ in range(4)]
    locks = [threading.Lock() for _ in range(4)]
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        r = np.random.default_rng(seed)
        try:
            for _ in range(25):
                f = int(r.integers(0, 4))
                lo = r.integers(0, 31, 3)
                hi = [int(r.integers(l + 1, 33)) for l in lo]
                vals = r.integers(0, 3, (1, *(h - l for l, h in zip(lo, hi)))).astype(np.uint16)
                path = tmp_path / f"f{f}"
                with locks[f]:
                    shard_write(path, spec, (0, *lo, 1, *hi), vals, (0, 0, 0, 0))
                    models[f][:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = vals
                out = np.zeros((1, 32, 32, 32), np.uint16)
                with locks[f]:
                    shard_read(path, spec, (0, 0, 0, 0, 1, 32, 32, 32), out, (0, 0, 0, 0))
                    assert np.array_equal(out, models[f])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(int(rng.integers(1 << 30)),)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("mutate", [
    lambda raw: b"", lambda raw: raw[:40], lambda raw: raw[: len(raw) * 6 // 10],
    lambda raw: raw[:-132] + bytes([0xA5]) * 132,                          # garbage index
], ids=["empty", "40 bytes", "60 %", "garbage index"])
@pytest.mark.parametrize("prepared", [False, True], ids=["direct", "threads"])
def test_a_write_of_every_chunk_replaces_a_damaged_shard(tmp_path, mutate, prepared):
    path, raw = _shard_copy(tmp_path)
    damaged = mutate(raw)
    path.write_bytes(damaged)
    spec = spec_for("uint64")
    with pytest.raises(CorruptFileError, match="c0"):       # a partial write needs the old index
        shard_write(path, spec, (0, 0, 0, 0, 1, 33, 32, 32), np.ones((1, 33, 32, 32), np.uint64), (0, 0, 0, 0))
    assert path.read_bytes() == damaged
    new = np.arange(64 ** 3, dtype=np.uint64).reshape(1, 64, 64, 64)
    whole = (0, 0, 0, 0, 1, 64, 64, 64)
    parts = []
    if prepared:      # as the façade splits one shard over threads, along chunk borders
        parts = [((0, x, 0, 0, 1, x + 32, 64, 64), (0, x, 0, 0)) for x in (0, 32)]
    assert shard_write(path, spec, whole, new, (0, 0, 0, 0), parts) == 0
    out = np.zeros_like(new)
    assert shard_read(path, spec, whole, out, (0, 0, 0, 0))
    assert (out == new).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c0"]


def test_decode_chunk_bytes_counts_bytes_not_items():
    # len() of a uint16 array is its item count, half its bytes
    spec = _shard.ShardSpec(2, (1, 4, 1, 1), (1, 4, 1, 1), (0, 1, 2, 3), False, [], False)
    values = np.arange(4, dtype=np.uint16)
    assert _shard.decode_chunk_bytes(spec, values) == values.tobytes()
    with pytest.raises(CorruptFileError):
        _shard.decode_chunk_bytes(spec, np.zeros((3, 0), np.uint8))   # 3 rows, no bytes
    assert _shard.decode_chunk_bytes(spec, _shard.encode_chunk_bytes(spec, values)) == values.tobytes()
    with pytest.raises(ValueError, match="has 8 bytes, got 0"):
        _shard.encode_chunk_bytes(spec, np.zeros((8, 0), np.uint8))  # 8 rows, no bytes


def test_a_zlib_bomb_stops_at_the_chunk_size():
    # 64 MiB of zeros in a ~64 KiB zlib stream, for a chunk of 4 KiB: inflate stops at the
    # chunk's bytes and the stream is corrupt, nothing larger is allocated or written
    bomb = zlib.compress(bytes(64 << 20), 9)
    spec = _shard.ShardSpec(1, (1, 16, 16, 16), (1, 16, 16, 16), (0, 1, 2, 3), False, [("zlib", 1)], False)
    with pytest.raises(CorruptFileError, match="does not decode to 4096 bytes"):
        _shard.decode_chunk_bytes(spec, bomb)
    with pytest.raises(CorruptFileError):
        _codecs.gzip_decompress_member(bomb, 4096)


# ---- buffers: the kernels take chunk bytes as spans, in any cut ------------------------------

def test_chunk_bytes_may_come_in_any_spans_and_a_missing_one_is_refused(tmp_path):
    spec = spec_for("uint16", shard=(1, 16, 16, 16), chunk=(1, 4, 4, 4), steps=[("zstd", 1, False)])
    data = (np.indices((1, 16, 16, 16)).sum(axis=0) % 11).astype(np.uint16)
    path, whole = tmp_path / "s", (0, 0, 0, 0, 1, 16, 16, 16)
    shard_write(path, spec, whole, data, (0, 0, 0, 0))
    raw = path.read_bytes()
    offset, length = _shard.index_range(spec, len(raw))
    index = _shard.parse_index(spec, raw[offset:offset + length], len(raw), "s")
    box = (0, 3, 5, 2, 1, 13, 16, 9)
    rows = _shard.plan(spec, index, box)
    assert len(rows) == 4 * 3 * 3 and (np.diff(rows[:, 1].astype(np.int64)) > 0).all()
    assert len(_shard.plan(spec, index, box, partial=True)) == 36 - 2 * 2 * 1   # 4 chunks lie wholly inside
    per_chunk = [(o, raw[o:o + n]) for _, o, n in rows.tolist()]
    for spans in ([(0, raw)], per_chunk[::-1], [(0, np.frombuffer(raw, np.uint8))]):
        out = np.zeros((1, 10, 11, 7), np.uint16)
        assert _shard.decode(spec, box, out, (0, 0, 0, 0), rows, spans, "s") == len(rows)
        assert (out == data[:, 3:13, 5:16, 2:9]).all()
    with pytest.raises(ValueError, match="no span holds"):
        _shard.decode(spec, box, np.zeros((1, 10, 11, 7), np.uint16), (0, 0, 0, 0), rows, per_chunk[1:], "s")
    with pytest.raises(ValueError, match="index bytes"):
        _shard.parse_index(spec, raw[offset:offset + length - 1], len(raw))
    assert _shard.plan(spec, None, box).shape == (0, 3)


# ---- copies between chunks and arrays of any layout ---------------------------------------------

@pytest.mark.parametrize("how", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype,nc", [("uint8", 1), ("uint8", 3), ("int16", 1), ("uint32", 1), ("float32", 2),
                                      ("uint64", 1)])
def test_chunk_copies_in_every_layout_match_the_stored_order(dtype, nc, how):
    # chunks wide enough for the blocked transposes (16-byte tiles) and their ragged edges
    shard, chunk = (nc, 64, 6, 80), (nc, 32, 3, 40)
    spec = spec_for(dtype, shard=shard, chunk=chunk, steps=[])
    rng = np.random.default_rng(7)
    model = rng.integers(1, 250, shard).astype(dtype)
    whole = (0, 0, 0, 0, *shard)
    sets = [_shard.encode(spec, whole, array_in_layout(model, how), (0, 0, 0, 0))]
    runs, index = _shard.assemble(spec, None, sets)
    blob = b"".join([*(memoryview(sets[0])[o:o + n] for _, o, n in runs.tolist()), index])
    entries = oracle_index(blob, spec.n_chunks)
    for m, g in enumerate(itertools.product(*(range(s // c) for s, c in zip(shard, chunk)))):
        part = model[tuple(slice(i * c, (i + 1) * c) for i, c in zip(g, chunk))]
        off, n = entries[m]
        assert blob[off:off + n] == np.transpose(part, (3, 2, 1, 0)).tobytes()   # the transpose codec's order
    parsed = _shard.parse_index(spec, blob[-spec.index_bytes:], len(blob))
    out = array_in_layout(np.zeros(shard, dtype), how)
    _shard.decode(spec, whole, out, (0, 0, 0, 0), _shard.plan(spec, parsed, whole), [(0, blob)])
    assert np.array_equal(out, model)
    box = (0, 3, 1, 5, nc, 61, 5, 77)                  # ragged in every chunk it touches
    ext = tuple(box[k + 4] - box[k] for k in range(4))
    part = array_in_layout(np.zeros(ext, dtype), how)
    _shard.decode(spec, box, part, (0, 0, 0, 0), _shard.plan(spec, parsed, box), [(0, blob)])
    assert np.array_equal(part, model[:, 3:61, 1:5, 5:77])
    new = array_in_layout(rng.integers(1, 250, ext).astype(dtype), how)
    sets = [_shard.encode(spec, box, new, (0, 0, 0, 0), parsed, [(0, blob)])]
    runs, index = _shard.assemble(spec, parsed, sets)
    parts = [blob[o:o + n] if s < 0 else memoryview(sets[s])[o:o + n] for s, o, n in runs.tolist()]
    blob = b"".join([*parts, index])
    model[:, 3:61, 1:5, 5:77] = new
    parsed = _shard.parse_index(spec, blob[-spec.index_bytes:], len(blob))
    out = array_in_layout(np.zeros(shard, dtype), how)
    _shard.decode(spec, whole, out, (0, 0, 0, 0), _shard.plan(spec, parsed, whole), [(0, blob)])
    assert np.array_equal(out, model)


@pytest.mark.parametrize("steps", [[("zstd", 3, True)], [("blosc", "lz4", 5, 1, 2, 0)], [("zstd", 1, False), ("crc32c",)],
                                   [("crc32c",), ("gzip", 1)]])
@pytest.mark.parametrize("dtype,nc,big", [("uint8", 1, False), ("uint16", 3, True)])
def test_whole_chunks_decode_into_arrays_of_their_layout(steps, dtype, nc, big):
    # a Fortran-ordered array of one chunk has the decoded chunk's layout: decoded in place
    shard, chunk = (nc, 16, 8, 8), (nc, 8, 8, 4)
    spec = spec_for(dtype, shard=shard, chunk=chunk, steps=steps, big_endian=big)
    model = np.random.default_rng(5).integers(0, 9, shard).astype(dtype)
    whole = (0, 0, 0, 0, *shard)
    sets = [_shard.encode(spec, whole, model, (0, 0, 0, 0))]
    runs, index = _shard.assemble(spec, None, sets)
    blob = bytearray(b"".join([*(memoryview(sets[0])[o:o + n] for _, o, n in runs.tolist()), index]))
    parsed = _shard.parse_index(spec, blob[-spec.index_bytes:], len(blob))
    for x, z in itertools.product((0, 8), (0, 4)):
        box = (0, x, 0, z, nc, x + 8, 8, z + 4)
        out = np.zeros(chunk, dtype, order="F")
        assert _shard.decode(spec, box, out, (0, 0, 0, 0), _shard.plan(spec, parsed, box), [(0, blob)]) == 1
        assert np.array_equal(out, model[:, x:x + 8, :, z:z + 4])
    off, n = parsed.chunk(0)
    blob[off:off + n] = b"\xff" * n                    # a damaged chunk still raises, also decoded in place
    box = (0, 0, 0, 0, *chunk)
    with pytest.raises(CorruptFileError, match="chunk 0,0,0,0"):
        _shard.decode(spec, box, np.zeros(chunk, dtype, order="F"), (0, 0, 0, 0), _shard.plan(spec, parsed, box),
                      [(0, blob)], "s")


@pytest.mark.parametrize("steps", [[("blosc", "lz4", 5, 1, 2, 0)], [("crc32c",), ("blosc", "zstd", 3, 0, 2, 0)]])
@pytest.mark.parametrize("how", ["C", "F"])
def test_chunks_blosc_stored_uncompressed_are_read_from_their_bytes(steps, how):
    # random bytes do not compress: Blosc stores them as they are, and a read copies them
    # from the chunk's bytes; a chunk cut short is still corrupt
    shard, chunk = (1, 32, 16, 16), (1, 16, 16, 16)
    spec = spec_for("uint16", shard=shard, chunk=chunk, steps=steps, big_endian=True)
    model = np.random.default_rng(9).integers(0, 2**16, shard).astype(np.uint16)
    whole = (0, 0, 0, 0, *shard)
    sets = [_shard.encode(spec, whole, model, (0, 0, 0, 0))]
    runs, index = _shard.assemble(spec, None, sets)
    blob = b"".join([*(memoryview(sets[0])[o:o + n] for _, o, n in runs.tolist()), index])
    parsed = _shard.parse_index(spec, blob[-spec.index_bytes:], len(blob))
    off, n = parsed.chunk(0)
    assert blob[off + 2] & 0x02 and n == 16 + 2 * 16**3 + 4 * len(steps[:-1])    # stored, not compressed
    out = np.zeros(shard, np.uint16, order=how)
    _shard.decode(spec, whole, out, (0, 0, 0, 0), _shard.plan(spec, parsed, whole), [(0, blob)])
    assert np.array_equal(out, model)
    cut = blob[:off + n - 1] + blob[off + n:]             # chunk 0 one byte short, the rest shifted
    rows = np.array([[0, off, n - 1]], np.uint64)
    with pytest.raises(CorruptFileError, match="chunk 0,0,0,0"):
        _shard.decode(spec, whole, out, (0, 0, 0, 0), rows, [(0, cut)], "s")
