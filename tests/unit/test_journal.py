"""The raw WKW undo journal: only a complete, checksummed journal is ever applied.

A journal is complete on disk before a raw file is patched in place (it is put atomically:
a writer killed while writing it leaves only a temporary file). A journal that is cut short
or damaged (by an older writer, a disk, a hand) never had a patch behind it, so it must be
deleted without being applied — whatever the saved blocks contain (0xFF blocks once made a
cut-short journal look committed). A complete journal is rolled back.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from one_file import wkw_journal, wkw_patch_only, wkw_read, wkw_roll_back, wkw_write

BLOCK_LOG2, FILE_LOG2 = 2, 1           # 4³-voxel blocks, 2³ blocks per file
SIDE = 1 << (BLOCK_LOG2 + FILE_LOG2)
LAYOUT = (BLOCK_LOG2, FILE_LOG2, 1, 1, 1)          # raw, uint8, one channel
READ_LAYOUT = (BLOCK_LOG2, FILE_LOG2, 1, 1)
BOX = (0, 0, 0, 8, 4, 4)                          # touches blocks (0,0,0) and (1,0,0)


def _file(tmp_path: Path, value: int) -> Path:
    path = tmp_path / "x0.wkw"
    data = np.full((1, SIDE, SIDE, SIDE), value, np.uint8)
    wkw_write(path, LAYOUT, (0, 0, 0, SIDE, SIDE, SIDE), data, (0, 0, 0))
    return path


def _patch(path: Path, value: int) -> None:
    """What the killed writer had done to the file: the box overwritten, no journal."""
    wkw_patch_only(path, LAYOUT, BOX, np.full((1, 8, 4, 4), value, np.uint8))


def _read(path: Path) -> np.ndarray:
    out = np.zeros((1, SIDE, SIDE, SIDE), np.uint8)
    wkw_read(path, READ_LAYOUT, (0, 0, 0, SIDE, SIDE, SIDE), out, (0, 0, 0))
    return out


@pytest.fixture(params=[0xFF, 0x00, 0x5A], ids=["ff", "00", "5a"])
def journal_case(request, tmp_path):
    """A real journal (old voxels all `old`), and the file after a complete patch to 7."""
    old = request.param
    path = _file(tmp_path, old)
    journal = wkw_journal(path, LAYOUT, BOX)
    raw = journal.read_bytes()
    _patch(path, 7)
    return path, journal, raw, old


def test_journal_layout_is_header_records_trailer(journal_case):
    path, journal, raw, old = journal_case
    block = 4 ** 3
    assert len(raw) == 32 + 2 * (8 + block) + 24
    assert raw[:5] == b"WKWJ\x02" and raw[-24:-16] == b"WKWJDONE"
    assert int.from_bytes(raw[-16:-8], "little") == len(raw)
    assert raw[32 + 8:32 + 8 + block] == bytes([old]) * block


def test_a_complete_journal_rolls_back_and_is_deleted(journal_case):
    path, journal, raw, old = journal_case
    assert _read(path)[0, :8, :4, :4].min() == 7
    assert wkw_roll_back(path) == 2
    assert not journal.exists()
    assert (_read(path) == old).all()
    assert wkw_roll_back(path) == 0


def test_a_file_hard_linked_after_the_crash_is_rolled_back_in_a_copy_of_its_own(journal_case):
    """A snapshot made with hard links (``cp -al``) after a writer was killed: the journal
    still belongs to the file (its patch was made before the file got other names); the
    file is rolled back in a copy of its own, the other name keeps its bytes."""
    path, journal, raw, old = journal_case
    other = path.with_name("snapshot.wkw")
    os.link(path, other)
    before = other.read_bytes()
    assert wkw_roll_back(path) == 2
    assert (_read(path) == old).all()
    assert not journal.exists() and other.read_bytes() == before
    assert path.stat().st_nlink == 1 and other.stat().st_nlink == 1


def test_every_cut_short_journal_is_discarded_and_leaves_the_file(journal_case):
    path, journal, raw, old = journal_case
    before = path.read_bytes()
    for n in range(len(raw)):
        journal.write_bytes(raw[:n])
        assert wkw_roll_back(path) == 1, f"journal cut to {n} of {len(raw)} bytes"
        assert not journal.exists()
        assert path.read_bytes() == before, f"journal cut to {n} bytes changed the file"


def test_every_single_bit_flip_is_discarded(journal_case):
    path, journal, raw, old = journal_case
    before = path.read_bytes()
    for pos in range(len(raw)):
        for bit in (0, 7):
            bad = bytearray(raw)
            bad[pos] ^= 1 << bit
            journal.write_bytes(bytes(bad))
            assert wkw_roll_back(path) == 1, f"byte {pos} bit {bit} flipped"
            assert path.read_bytes() == before


def test_appended_or_tail_like_garbage_is_discarded(journal_case):
    path, journal, raw, old = journal_case
    before = path.read_bytes()
    for bad in (raw + b"\xff" * 8, raw[:-24] + b"\xff" * 24, b"\xff" * len(raw), bytes(len(raw)),
                raw[:40] + raw[-24:]):
        journal.write_bytes(bad)
        assert wkw_roll_back(path) == 1
        assert path.read_bytes() == before


def test_a_journal_of_another_file_is_discarded(tmp_path):
    path = _file(tmp_path, 3)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = other_dir / "x0.wkw"
    data = np.full((2, 16, 16, 16), 9, np.uint8)         # two channels: other block size
    wkw_write(other, (2, 2, 1, 1, 2), (0, 0, 0, 16, 16, 16), data, (0, 0, 0))
    journal = wkw_journal(other, (2, 2, 1, 1, 2), (0, 0, 0, 4, 4, 4))
    mine = Path(f"{path}.journal")
    os.replace(journal, mine)
    before = path.read_bytes()
    assert wkw_roll_back(path) == 1
    assert path.read_bytes() == before and not mine.exists()


def test_a_journal_without_its_file_is_discarded(tmp_path):
    path = _file(tmp_path, 3)
    journal = wkw_journal(path, LAYOUT, BOX)
    path.unlink()
    assert wkw_roll_back(path) == 1
    assert not path.exists() and not journal.exists()


def test_a_link_at_the_journal_name_is_removed_not_followed(tmp_path):
    path = _file(tmp_path, 3)
    real = tmp_path / "elsewhere.journal"
    os.replace(wkw_journal(path, LAYOUT, BOX), real)
    _patch(path, 7)
    journal = Path(f"{path}.journal")
    journal.symlink_to(real)
    before, kept = path.read_bytes(), real.read_bytes()
    assert wkw_roll_back(path) == 1
    assert not os.path.lexists(journal)
    assert path.read_bytes() == before and real.read_bytes() == kept


def test_a_write_settles_a_leftover_journal_first(journal_case):
    path, journal, raw, old = journal_case
    journal.write_bytes(raw)                   # complete: the patch to 7 is undone first
    wkw_write(path, LAYOUT, (4, 4, 4, 5, 5, 5), np.full((1, 1, 1, 1), 9, np.uint8), (0, 0, 0))
    out = _read(path)
    assert out[0, 4, 4, 4] == 9
    out[0, 4, 4, 4] = old
    assert (out == old).all() and not journal.exists()
    journal.write_bytes(raw[:-1])              # cut short: dropped, the file as it is
    wkw_write(path, LAYOUT, (5, 5, 5, 6, 6, 6), np.full((1, 1, 1, 1), 8, np.uint8), (0, 0, 0))
    out = _read(path)
    assert out[0, 4, 4, 4] == 9 and out[0, 5, 5, 5] == 8 and not journal.exists()


def test_a_successful_patch_leaves_no_journal(tmp_path):
    path = _file(tmp_path, 1)
    journal = Path(f"{path}.journal")
    wkw_write(path, LAYOUT, BOX, np.full((1, 8, 4, 4), 2, np.uint8), (0, 0, 0))
    assert not journal.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["x0.wkw"]
    assert _read(path)[0, :8, :4, :4].min() == 2


# ---- readers ---------------------------------------------------------------------------


def _raw_mag(tmp_path: Path):  # type: ignore[no-untyped-def]
    import wkpy as wk

    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", dtype="uint8").add_mag(1, chunk_shape=8, shard_shape=16,
                                                                        compress=False)
    mag.write(np.full((16, 16, 16), 4, np.uint8), absolute_offset=(0, 0, 0))
    return mag, tmp_path / "ds" / "c" / "1" / "z0" / "y0" / "x0.wkw"


def _kill_mid_patch(shard: Path) -> None:
    """What a writer killed mid-patch leaves: a complete journal of a box of two blocks,
    and only the first of those blocks overwritten (with 9)."""
    wkw_journal(shard, (3, 1, 1, 1, 1), (0, 0, 0, 16, 8, 8))
    wkw_patch_only(shard, (3, 1, 1, 1, 1), (0, 0, 0, 8, 8, 8), np.full((1, 8, 8, 8), 9, np.uint8))


def test_a_reader_rolls_back_a_killed_patch_and_sees_the_old_data(tmp_path):
    mag, shard = _raw_mag(tmp_path)
    _kill_mid_patch(shard)
    assert (mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 4).all()
    assert not Path(f"{shard}.journal").exists()


def test_a_journal_left_while_the_reader_waited_for_the_lock_is_rolled_back(tmp_path, monkeypatch):
    """The writer is killed after the reader looked for a journal but before it got the
    shared lock: the reader must look again once it holds the lock."""
    from wkpy.storage.store import LocalStore

    mag, shard = _raw_mag(tmp_path)
    real = LocalStore.lock
    planted = []

    def lock(self, key, *, shared=False):  # type: ignore[no-untyped-def]
        if shared and not planted:
            planted.append(True)
            _kill_mid_patch(shard)        # happens while this reader waits for the lock
        return real(self, key, shared=shared)

    monkeypatch.setattr(LocalStore, "lock", lock)
    assert (mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 4).all()
    assert planted and not Path(f"{shard}.journal").exists()


def test_a_journal_that_cannot_be_applied_fails_the_read_typed(tmp_path, monkeypatch):
    """A read-only dataset (a read-only mount, files of another user) meeting a killed
    writer's journal: the read raises `ReadOnlyError` naming the file, which stays as it was."""
    import errno

    from wkpy.errors import ReadOnlyError
    from wkpy.storage.store import LocalStore

    mag, shard = _raw_mag(tmp_path)
    _kill_mid_patch(shard)
    before = shard.read_bytes()

    def refuse(self, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system", self.name(key))

    monkeypatch.setattr(LocalStore, "patch", refuse)
    monkeypatch.setattr(LocalStore, "put", refuse)
    with pytest.raises(ReadOnlyError, match=str(shard)):
        mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16))
    assert shard.read_bytes() == before and Path(f"{shard}.journal").exists()


def test_a_cut_short_journal_does_not_block_reads_or_writes(tmp_path):
    mag, shard = _raw_mag(tmp_path)
    journal = wkw_journal(shard, (3, 1, 1, 1, 1), (0, 0, 0, 16, 8, 8))
    raw = journal.read_bytes()
    journal.write_bytes(raw[:-3])
    assert (mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 4).all()
    assert not journal.exists()
    journal.write_bytes(raw[:len(raw) // 2])
    mag.write(np.full((8, 8, 8), 6, np.uint8), absolute_offset=(8, 8, 8), allow_unaligned=True)
    back = mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16))[0]
    assert (back[8:, 8:, 8:] == 6).all() and back[:8].max() == 4 and not journal.exists()
