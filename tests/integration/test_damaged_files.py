"""A damaged file never blocks a write that replaces it (issue 12, item 8).

A shard cut to 0 bytes, to 40 bytes, to 60 % of its size, or with a garbage index (jump
table, shard index; the header of a raw WKW file) is overwritten by a write that covers
every block or chunk of it, in every format. A partial write into it still raises
CorruptFileError naming the file, and leaves the file as it was.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from wkpy.errors import CorruptFileError

SHARD = 32
FORMATS = [("wkw", True), ("wkw", False), ("zarr3", True), ("zarr3", False), ("zarr", True), ("zarr", False)]
DAMAGE = ["empty", "40_bytes", "60_percent", "garbage_index"]
# Zarr v2 chunk files have no index to garble (one chunk per file, one shard per chunk)
CASES = [(fmt, compress, kind) for fmt, compress in FORMATS for kind in DAMAGE
         if not (fmt == "zarr" and kind == "garbage_index")]


def _mag(tmp_path: Path, fmt: str, compress: bool):  # type: ignore[no-untyped-def]
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", dtype="uint8", data_format=fmt)
    return layer.add_mag(1, chunk_shape=SHARD if fmt == "zarr" else 8, shard_shape=SHARD, compress=compress)


def _shard_file(tmp_path: Path, fmt: str) -> Path:
    mag_dir = tmp_path / "ds" / "c" / "1"
    if fmt == "wkw":
        return mag_dir / "z0" / "y0" / "x0.wkw"
    (found,) = [p for p in mag_dir.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray")
                and not any(part.startswith(".") for part in p.relative_to(mag_dir).parts)]
    return found


def _damage(path: Path, kind: str, fmt: str, compress: bool) -> bytes:
    raw = bytearray(path.read_bytes())
    rng = random.Random(12)
    if kind == "empty":
        raw = bytearray()
    elif kind == "40_bytes":
        raw = raw[:40]
    elif kind == "60_percent":
        raw = raw[: len(raw) * 6 // 10]
    elif fmt == "wkw" and compress:          # the jump table
        raw[16:16 + 8 * 64] = rng.randbytes(8 * 64)
    elif fmt == "wkw":                       # a raw file has no index: its header is garbage
        raw[0:16] = rng.randbytes(16)
    else:                                    # the shard index (with its checksum) at the end
        n = 16 * 64 + 4
        raw[-n:] = rng.randbytes(n)
    path.write_bytes(bytes(raw))
    return bytes(raw)


def _pattern(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 255, (SHARD, SHARD, SHARD), dtype=np.uint8)


@pytest.mark.parametrize("fmt,compress,kind", CASES)
def test_a_write_covering_a_damaged_shard_replaces_it(tmp_path, fmt, compress, kind):
    mag = _mag(tmp_path, fmt, compress)
    mag.write(_pattern(1), absolute_offset=(0, 0, 0))
    shard = _shard_file(tmp_path, fmt)
    _damage(shard, kind, fmt, compress)
    new = _pattern(2)
    mag.write(new, absolute_offset=(0, 0, 0))
    assert (mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3)[0] == new).all()
    # the replaced shard is whole again: partial writes into it work
    mag.write(np.full((8, 8, 8), 3, np.uint8), absolute_offset=(8, 8, 8), allow_unaligned=True)
    back = mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3)[0]
    new[8:16, 8:16, 8:16] = 3
    assert (back == new).all()
    leftovers = [p.name for p in shard.parent.iterdir() if p.name.endswith((".tmp", ".journal"))]
    assert leftovers == []


@pytest.mark.parametrize("fmt,compress,kind", CASES)
def test_a_partial_write_into_a_damaged_shard_raises_naming_it(tmp_path, fmt, compress, kind):
    mag = _mag(tmp_path, fmt, compress)
    mag.write(_pattern(1), absolute_offset=(0, 0, 0))
    shard = _shard_file(tmp_path, fmt)
    damaged = _damage(shard, kind, fmt, compress)
    with pytest.raises(CorruptFileError, match=shard.name):
        mag.write(np.full((8, 8, 8), 5, np.uint8), absolute_offset=(8, 8, 8), allow_unaligned=True)
    assert shard.read_bytes() == damaged, "a refused write must leave the file as it was"
    leftovers = [p.name for p in shard.parent.iterdir() if p.name.endswith((".tmp", ".journal"))]
    assert leftovers == []


@pytest.mark.parametrize("fmt,compress", FORMATS)
def test_an_all_fill_write_over_a_damaged_shard_leaves_zeros(tmp_path, fmt, compress):
    mag = _mag(tmp_path, fmt, compress)
    mag.write(_pattern(1), absolute_offset=(0, 0, 0))
    shard = _shard_file(tmp_path, fmt)
    _damage(shard, "40_bytes", fmt, compress)
    mag.write(np.zeros((SHARD,) * 3, np.uint8), absolute_offset=(0, 0, 0))
    assert not mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3).any()


@pytest.mark.parametrize("compress", [True, False])
def test_a_wkw_header_of_another_kind_is_still_refused_by_a_whole_write(tmp_path, compress):
    """Damage is replaced; a valid header of another geometry is not damage but a mismatch."""
    mag = _mag(tmp_path, "wkw", compress)
    mag.write(_pattern(1), absolute_offset=(0, 0, 0))
    shard = _shard_file(tmp_path, "wkw")
    raw = bytearray(shard.read_bytes())
    raw[4] = (raw[4] & 0xF0) | 2                 # blocks of 4³, not the layer's 8³
    shard.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="x0.wkw"):
        mag.write(_pattern(2), absolute_offset=(0, 0, 0))
    assert shard.read_bytes() == bytes(raw)


def test_a_shard_index_listing_more_bytes_than_the_file_holds_is_refused(tmp_path):
    """Index entries sharing bytes are bounded by the file: all 64 entries pointing at the
    whole data would make a rewrite copy it 64 times (the file grew 60-fold); a shard
    whose entries list more bytes than it holds is damaged. Entries sharing a chunk's
    bytes within that bound read as the chunk."""
    from wkcore import _shard
    from wkcore._codecs import crc32c_of
    from wkpy.errors import CorruptFileError as Corrupt
    from wkpy.storage import _zarr_file
    from wkpy.storage.store import LocalStore

    spec = _shard.ShardSpec(1, (64, 64, 64), (16, 16, 16), (0, 1, 2), False, [("zstd", 3, False)], True)
    store = LocalStore(tmp_path)
    store.prepare(["s"])
    data = np.random.default_rng(0).integers(0, 50, (64, 64, 64)).astype(np.uint8)
    _zarr_file.write_box(store, "s", spec, (0, 0, 0, 64, 64, 64), data, (0, 0, 0))
    raw = (tmp_path / "s").read_bytes()
    body = len(raw) - spec.index_bytes
    entries = np.frombuffer(raw[body:body + 16 * 64], "<u8").reshape(64, 2).copy()

    def with_entries(rows: np.ndarray) -> bytes:
        table = rows.astype("<u8").tobytes()
        return raw[:body] + table + crc32c_of(table).to_bytes(4, "little")

    (tmp_path / "s").write_bytes(with_entries(np.tile([0, body], (64, 1))))
    out = np.zeros((64, 64, 64), np.uint8)
    with pytest.raises(Corrupt, match="more chunk bytes"):
        _zarr_file.open_indexed(store, "s", spec)
    with pytest.raises(Corrupt, match="more chunk bytes"), store.lock("s"):
        _zarr_file.write_box(store, "s", spec, (0, 0, 0, 8, 8, 8), data[:8, :8, :8], (0, 0, 0))
    assert (tmp_path / "s").stat().st_size == len(raw)
    shared = entries.copy()
    small, big = (0, 1) if entries[0, 1] <= entries[1, 1] else (1, 0)
    shared[big] = shared[small]                            # (chunks 0 and 1: z 0-16 and 16-32 of x, y 0-16)
    (tmp_path / "s").write_bytes(with_entries(shared))
    found = _zarr_file.open_indexed(store, "s", spec)
    assert found is not None
    with found[0]:
        _zarr_file.read_box(found[0], found[1], spec, (0, 0, 0, 64, 64, 64), out, (0, 0, 0))
    z = [slice(0, 16), slice(16, 32)]
    np.testing.assert_array_equal(out[:16, :16, z[big]], data[:16, :16, z[small]])
