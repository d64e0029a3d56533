"""Partial writes into compressed Zarr3 shards append (issue 16): the new chunks and a new
index go after the old bytes, under an undo journal; readers take no lock; a killed
writer's journal is settled by whoever comes next; shards are compacted when their dead
bytes would exceed their live ones. The SIGKILL loop with a reader beside the writer is
the ``write-zarr3-compressed-noisy`` case of ``tests/crash_cases.py``."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import zarr

import wkpy as wk
from wkcore import _shard
from wkpy.errors import CorruptFileError, ForeignPathError
from wkpy.storage import _zarr_file
from wkpy.storage.store import LocalStore

SHARD, CHUNK = 128, 32


def _noise(shape: tuple[int, ...], seed: int, dtype: str = "uint8") -> np.ndarray:
    """Data that compresses a little: chunks of kilobytes, far more than the index."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60, shape).astype(dtype)


def _mag(path: Path, dtype: str = "uint8", channels: int = 1) -> wk.MagView:
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype=dtype, num_channels=channels, data_format="zarr3")
    return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD, compress=True)


def _shard_file(path: Path) -> Path:
    return path / "color" / "1" / "c" / "0" / "0" / "0" / "0"


def _live_bytes(mag: wk.MagView) -> int:
    return sum(n for _, n in filter(None, mag._array.shard_index((0, 0, 0))))


@pytest.mark.parametrize("dtype,channels", [("uint8", 3), ("uint16", 1)])
def test_partial_writes_append_and_every_reader_reads_them(tmp_path, dtype, channels):
    mag = _mag(tmp_path, dtype, channels)
    want = _noise((channels, SHARD, SHARD, SHARD), 1, dtype)
    mag.write(want, absolute_offset=(0, 0, 0))
    file = _shard_file(tmp_path)
    inode, size = file.stat().st_ino, file.stat().st_size
    rng = np.random.default_rng(2)
    for i in range(6):   # chunk-aligned, unaligned, C- and F-ordered, within one chunk and across several
        off = tuple(int(v) for v in rng.integers(0, SHARD - 40, 3))
        piece = _noise((channels, 17 + 5 * i, 40, 9 + i), 10 + i, dtype)
        piece = np.asfortranarray(piece) if i % 2 else piece
        mag.write(piece, absolute_offset=off, allow_unaligned=True)
        want[(slice(None), *(slice(o, o + n) for o, n in zip(off, piece.shape[1:])))] = piece
        st = file.stat()
        assert st.st_ino == inode and st.st_size > size, "the shard was rewritten, not appended to"
        size = st.st_size
    assert not [p.name for p in file.parent.iterdir() if p.name != file.name], "a journal was left"
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3), want)
    got_ts = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "color" / "1")}}
                     ).result()[:, :SHARD, :SHARD, :SHARD].read().result()
    np.testing.assert_array_equal(got_ts, want)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "color" / "1"), mode="r")[:, :SHARD, :SHARD, :SHARD],
                                  want)


def test_a_shard_is_compacted_before_its_dead_bytes_exceed_its_live_bytes(tmp_path):
    mag = _mag(tmp_path)
    want = _noise((1, SHARD, SHARD, SHARD), 3)
    mag.write(want, absolute_offset=(0, 0, 0))
    file = _shard_file(tmp_path)
    sizes = [file.stat().st_size]
    for i in range(12):   # each replaces a quarter of the shard's chunks
        piece = _noise((1, SHARD, SHARD, 32), 20 + i)
        z = 32 * (i % 4)
        mag.write(piece, absolute_offset=(0, 0, z), allow_unaligned=True)
        want[:, :, :, z:z + 32] = piece
        live = _live_bytes(mag)
        index = (SHARD // CHUNK) ** 3 * 16 + 4
        assert file.stat().st_size - index - live <= live * _zarr_file.COMPACT_RATIO
        sizes.append(file.stat().st_size)
    compactions = sum(b < a for a, b in zip(sizes, sizes[1:]))       # (inode numbers are reused)
    assert 2 <= compactions <= 4, f"{compactions} compactions in 12 writes: expected 3 appends between them"
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3), want)


def test_a_write_clearing_chunks_drops_them_from_the_index(tmp_path):
    mag = _mag(tmp_path)
    mag.write(_noise((1, SHARD, SHARD, SHARD), 4), absolute_offset=(0, 0, 0))
    file = _shard_file(tmp_path)
    inode = file.stat().st_ino
    mag.write(np.zeros((1, 32, 32, 64), np.uint8), absolute_offset=(32, 64, 0), allow_unaligned=True)
    assert file.stat().st_ino == inode
    index = mag._array.shard_index((0, 0, 0))
    cleared = [m for m, e in enumerate(index) if e is None]
    assert len(cleared) == 2
    assert (mag.read(absolute_offset=(32, 64, 0), size=(32, 32, 64)) == 0).all()


def test_hard_linked_shards_are_rewritten_and_symlinked_ones_refused(tmp_path):
    mag = _mag(tmp_path / "ds")
    mag.write(_noise((1, SHARD, SHARD, SHARD), 5), absolute_offset=(0, 0, 0))
    file = _shard_file(tmp_path / "ds")
    other = tmp_path / "elsewhere"
    os.link(file, other)                       # another dataset sharing the file
    before = other.read_bytes()
    mag.write(np.full((1, 10, 10, 10), 7, np.uint8), absolute_offset=(3, 3, 3), allow_unaligned=True)
    assert other.read_bytes() == before
    assert file.stat().st_nlink == 1 and file.stat().st_ino != other.stat().st_ino
    target = tmp_path / "target"
    got = mag.read(absolute_offset=(0, 0, 0), size=(13, 13, 13))
    assert (got[:, 3:13, 3:13, 3:13] == 7).all()
    file.rename(target)                        # now a link to a file outside the dataset
    file.symlink_to(target)
    before = target.read_bytes()
    with pytest.raises(ForeignPathError):
        mag.write(np.full((1, 10, 10, 10), 9, np.uint8), absolute_offset=(30, 3, 3), allow_unaligned=True)
    assert target.read_bytes() == before


def test_layouts_without_a_checked_index_at_the_end_are_rewritten(tmp_path):
    for name, kwargs in (("at-start", {"index_at_start": True}), ("no-crc", {"index_crc": False})):
        spec = _shard.ShardSpec(1, (32, 32, 32), (8, 8, 8), (0, 1, 2), False, [("zstd", 3, False)], True, **kwargs)
        store = LocalStore(tmp_path / name)
        store.prepare(["0"])
        _zarr_file.write_box(store, "0", spec, (0, 0, 0, 32, 32, 32), _noise((32, 32, 32), 6), (0, 0, 0))
        inode = os.stat(store.name("0")).st_ino
        _zarr_file.write_box(store, "0", spec, (0, 0, 0, 8, 8, 8), np.ones((8, 8, 8), np.uint8), (0, 0, 0))
        assert os.stat(store.name("0")).st_ino != inode, name


# ---- the journal of a killed writer ---------------------------------------------------------
SPEC = _shard.ShardSpec(1, (64, 64, 64), (16, 16, 16), (0, 1, 2), False, [("zstd", 3, False)], True)
OLD, NEW = _noise((64, 64, 64), 7), np.full((16, 16, 16), 200, np.uint8)


def _append_killed(tmp_path: Path, cut: int | None) -> tuple[LocalStore, int]:
    """A shard of OLD, then an append of NEW at (0, 0, 0) as a writer killed after writing
    `cut` bytes of it (None: all of it) and before removing its journal. Returns the store
    and the old size."""
    store = LocalStore(tmp_path)
    store.prepare(["s"])
    _zarr_file.write_box(store, "s", SPEC, (0, 0, 0, 64, 64, 64), OLD, (0, 0, 0))
    reader = store.open("s")
    assert reader is not None
    with reader:
        old_size, index = reader.size, _zarr_file.read_index(reader, SPEC)
        sets = [_shard.encode(SPEC, (0, 0, 0, 16, 16, 16), NEW, (0, 0, 0), index)]
        runs, head, _ = _shard.append(SPEC, index, sets, reader.size)
    tail = b"".join(bytes(memoryview(sets[s])[o:o + n]) for s, o, n in runs.tolist()) + head
    store.put(_zarr_file.journal_key("s"), _zarr_file._journal(old_size))
    store.patch("s", [(old_size, tail[:cut] if cut is not None else tail)])
    return store, old_size


def _read(store: LocalStore) -> np.ndarray:
    out = np.zeros((64, 64, 64), np.uint8)
    found = _zarr_file.open_indexed(store, "s", SPEC)
    assert found is not None
    with found[0]:
        _zarr_file.read_box(found[0], found[1], SPEC, (0, 0, 0, 64, 64, 64), out, (0, 0, 0))
    return out


@pytest.mark.parametrize("cut", [0, 1, 1000, -5])
def test_an_append_cut_short_reads_as_the_old_file_and_the_next_writer_undoes_it(tmp_path, cut):
    store, old_size = _append_killed(tmp_path, cut if cut >= 0 else None)
    if cut < 0:                                            # the index itself cut short
        os.truncate(store.name("s"), os.stat(store.name("s")).st_size + cut)
    size = os.stat(store.name("s")).st_size
    np.testing.assert_array_equal(_read(store), OLD)       # readers change nothing
    assert os.stat(store.name("s")).st_size == size and store.exists(_zarr_file.journal_key("s"))
    with store.lock("s"):
        assert _zarr_file.settle(store, "s", SPEC) == (2 if cut == 0 else 3)
    assert os.stat(store.name("s")).st_size == old_size
    assert not store.exists(_zarr_file.journal_key("s"))
    np.testing.assert_array_equal(_read(store), OLD)


def test_a_complete_append_whose_journal_was_left_is_kept(tmp_path):
    store, _ = _append_killed(tmp_path, None)
    want = OLD.copy()
    want[:16, :16, :16] = NEW
    np.testing.assert_array_equal(_read(store), want)      # the reader needs no lock: the index is valid
    with store.lock("s"):
        assert _zarr_file.settle(store, "s", SPEC) == 2
    np.testing.assert_array_equal(_read(store), want)
    assert not store.exists(_zarr_file.journal_key("s"))


def test_a_writer_settles_the_journal_before_appending(tmp_path):
    store, old_size = _append_killed(tmp_path, 100)
    with store.lock("s"):
        _zarr_file.write_box(store, "s", SPEC, (16, 0, 0, 32, 16, 16), NEW, (0, 0, 0))
    want = OLD.copy()
    want[16:32, :16, :16] = NEW
    np.testing.assert_array_equal(_read(store), want)
    assert not store.exists(_zarr_file.journal_key("s"))


@pytest.mark.parametrize("journal", ["damaged", "short", "other-size", "link", "folder"])
def test_journals_that_do_not_fit_are_dropped_unapplied(tmp_path, journal):
    store, old_size = _append_killed(tmp_path, 1000)       # a torn tail: only a fitting journal could undo it
    key = _zarr_file.journal_key("s")
    path = Path(store.name(key))
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_bytes(b"keep")
    path.unlink()
    if journal == "damaged":
        path.write_bytes(_zarr_file._journal(old_size)[:-1] + b"\0")
    elif journal == "short":
        path.write_bytes(_zarr_file._journal(old_size)[:10])
    elif journal == "other-size":
        path.write_bytes(_zarr_file._journal(old_size - 7))
    elif journal == "link":
        path.symlink_to(victim)
    else:
        path.mkdir()
    size = os.stat(store.name("s")).st_size
    with pytest.raises(CorruptFileError, match=str(store.name("s"))):
        _read(store)                                       # nothing fits: the damage is reported, never guessed
    assert os.stat(store.name("s")).st_size == size and victim.read_bytes() == b"keep"
    with pytest.raises(CorruptFileError, match=str(store.name("s"))), store.lock("s"):
        _zarr_file.write_box(store, "s", SPEC, (16, 0, 0, 32, 16, 16), NEW, (0, 0, 0))   # a partial write too
    assert os.stat(store.name("s")).st_size == size and victim.read_bytes() == b"keep"
    assert path.is_dir() if journal == "folder" else not os.path.lexists(path)       # dropped by the writer
    with store.lock("s"):                                  # a write over the whole shard replaces it
        _zarr_file.write_box(store, "s", SPEC, (0, 0, 0, 64, 64, 64), OLD, (0, 0, 0))
    np.testing.assert_array_equal(_read(store), OLD)


def test_readers_beside_an_appending_writer_see_whole_writes(tmp_path):
    """Threads reading a box while another appends uniform values to it: every read is
    one write's values (an index read mid-append is detected and read again)."""
    mag = _mag(tmp_path)
    mag.write(_noise((1, SHARD, SHARD, SHARD), 8), absolute_offset=(0, 0, 0))
    box = ((10, 20, 30), (40, 30, 20))
    mag.write(np.full((1, *box[1]), 1, np.uint8), absolute_offset=box[0], allow_unaligned=True)
    stop, torn, errors = threading.Event(), [], []

    def reader() -> None:
        view = wk.Dataset.open(tmp_path).get_layer("color").get_mag(1)
        try:
            while not stop.is_set():
                values = np.unique(view.read(absolute_offset=box[0], size=box[1]))
                if len(values) != 1:
                    torn.append(values[:5])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(2, 60):
            mag.write(np.full((1, *box[1]), i, np.uint8), absolute_offset=box[0], allow_unaligned=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and not torn, (errors[:2], torn[:2])


def test_a_shard_that_is_not_writable_is_rewritten_as_before(tmp_path, monkeypatch):
    """A shard file without write permission (mode 0444, in a folder that is writable)
    cannot be appended to; it is rewritten (a new file renamed over it), as before appends
    existed, instead of failing with the append's journal left behind."""
    mag = _mag(tmp_path)
    want = _noise((1, SHARD, SHARD, SHARD), 9)
    mag.write(want, absolute_offset=(0, 0, 0))
    file = _shard_file(tmp_path)
    os.chmod(file, 0o444)
    if os.geteuid() == 0:              # root opens any file for writing: refuse it as the kernel does others
        real_open = os.open

        def open_(path, flags, *args, **kwargs):
            if os.fspath(path) == str(file) and flags & (os.O_WRONLY | os.O_RDWR):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_)
    inode = file.stat().st_ino
    mag.write(np.full((1, 10, 10, 10), 7, np.uint8), absolute_offset=(3, 3, 3), allow_unaligned=True)
    want[:, 3:13, 3:13, 3:13] = 7
    assert file.stat().st_ino != inode
    assert [p.name for p in file.parent.iterdir()] == [file.name], "a journal was left"
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(SHARD,) * 3), want)


def test_a_reader_whose_locks_a_writer_does_not_share_reads_again_while_the_file_changes(tmp_path, monkeypatch):
    """A writer of another user (locks are per user) appends again and again: every time
    the reader opens the file it is mid-append, and the journal is gone by the time the
    reader looks for it (that append finished). Holding its own lock proves nothing then:
    the reader tries again while the file keeps changing, instead of reporting the shard
    damaged; a file that does not change is reported (test_journals_that_do_not_fit...)."""
    store, _ = _append_killed(tmp_path, None)               # a whole append: the state the writer ends in
    os.remove(store.name(_zarr_file.journal_key("s")))
    done = Path(store.name("s")).read_bytes()
    want = OLD.copy()
    want[:16, :16, :16] = NEW
    appends = []
    real_open, real_journal = LocalStore.open, _zarr_file._journal_size

    def open_(self, key, **kwargs):
        if key == "s" and len(appends) < 6:                 # the writer is mid-append at each open
            appends.append(1)
            Path(self.name("s")).write_bytes(done + b"\1" * (100 + len(appends)))
        return real_open(self, key, **kwargs)

    def journal_size(store_, key):
        Path(store_.name("s")).write_bytes(done)            # ... and done before the reader looks
        return real_journal(store_, key)

    monkeypatch.setattr(LocalStore, "open", open_)
    monkeypatch.setattr(_zarr_file, "_journal_size", journal_size)
    np.testing.assert_array_equal(_read(store), want)
    assert len(appends) == 6
