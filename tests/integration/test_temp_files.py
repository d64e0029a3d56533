"""Temporary files, journals and patched files never follow links (issue 12, item 1).

Every test plants a symbolic link inside a sandbox (the dataset, or the store's folder)
pointing at a file or folder outside it, runs a write, and checks by hashing that nothing
outside changed: the link is replaced or removed, or the write raises a typed error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from one_file import shard_read, shard_write, tmp_name, wkw_read, wkw_write
from wkcore import _shard, _wkw
from wkpy.errors import ForeignPathError
from wkpy.storage.store import LocalStore


def _hash_tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def outside(tmp_path):
    """A folder beside the sandbox with a victim file, and a check that nothing in it
    changed since the test's setup (a test that puts files there calls `settled()`)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    victim = folder / "victim"
    victim.write_bytes(b"precious\n" * 100)
    (tmp_path / "sandbox").mkdir()
    before = [_hash_tree(folder)]

    def settled() -> None:
        before[0] = _hash_tree(folder)

    yield folder, victim, tmp_path / "sandbox", settled
    assert _hash_tree(folder) == before[0], "a write changed a file outside the sandbox"


WKW_LZ4 = (3, 1, 2, 1, 1)      # 8³ blocks, 2³ per file, LZ4, uint8
WKW_RAW = (3, 1, 1, 1, 1)
DATA = np.full((1, 16, 16, 16), 7, np.uint8)


def _read_wkw(path: Path) -> np.ndarray:
    out = np.zeros((1, 16, 16, 16), np.uint8)
    wkw_read(path, (3, 1, 1, 1), (0, 0, 0, 16, 16, 16), out, (0, 0, 0))
    return out


# ---- one file: the temporary name the store writes to is a planted link ----------------------


@pytest.mark.parametrize("layout", [WKW_LZ4, WKW_RAW], ids=["lz4", "raw"])
@pytest.mark.parametrize("box", [(0, 0, 0, 16, 16, 16), (0, 0, 0, 8, 8, 8)], ids=["whole", "part"])
def test_wkw_temporary_file_at_a_link_is_replaced(outside, layout, box):
    folder, victim, sandbox, settled = outside
    path = sandbox / "x0.wkw"
    tmp = tmp_name(path)
    tmp.symlink_to(victim)
    n = box[3]
    wkw_write(path, layout, box, DATA[:, :n, :n, :n], (0, 0, 0))
    assert (_read_wkw(path)[:, :n, :n, :n] == 7).all()
    assert not os.path.lexists(tmp) and not path.is_symlink()


def test_wkw_temporary_leftover_of_a_killed_writer_is_replaced(outside):
    folder, victim, sandbox, settled = outside
    path = sandbox / "x0.wkw"
    tmp = tmp_name(path)
    tmp.write_bytes(b"half a file from a killed writer")
    wkw_write(path, WKW_LZ4, (0, 0, 0, 8, 8, 8), DATA[:, :8, :8, :8], (0, 0, 0))
    assert (_read_wkw(path)[:, :8, :8, :8] == 7).all() and not tmp.exists()


def test_a_put_never_writes_through_its_temporary_name(outside):
    folder, victim, sandbox, settled = outside
    path = sandbox / "x0.wkw"
    tmp = tmp_name(path)
    tmp.symlink_to(victim)
    part = _wkw.encode_range(None, WKW_LZ4, (0, 0, 0, 16, 16, 16), DATA, (0, 0, 0), 0, 8)
    LocalStore(sandbox).put("x0.wkw", [_wkw.assemble(WKW_LZ4, [part]), part[0]])
    assert (_read_wkw(path) == 7).all() and not os.path.lexists(tmp)


def test_raw_journal_at_a_link_is_not_followed(outside):
    folder, victim, sandbox, settled = outside
    path = sandbox / "x0.wkw"
    wkw_write(path, WKW_RAW, (0, 0, 0, 16, 16, 16), DATA, (0, 0, 0))
    journal = sandbox / "x0.wkw.journal"
    journal.symlink_to(victim)
    wkw_write(path, WKW_RAW, (0, 0, 0, 8, 8, 8), np.full((1, 8, 8, 8), 2, np.uint8), (0, 0, 0))
    back = _read_wkw(path)
    assert (back[:, :8, :8, :8] == 2).all() and back.max() == 7
    assert not os.path.lexists(journal)


def test_a_raw_file_that_is_a_link_is_not_patched_through(outside):
    folder, victim, sandbox, settled = outside
    target = folder / "x0.wkw"
    wkw_write(target, WKW_RAW, (0, 0, 0, 16, 16, 16), DATA, (0, 0, 0))
    path = sandbox / "x0.wkw"
    path.symlink_to(target)
    before = target.read_bytes()
    settled()
    with pytest.raises(OSError) as info:
        wkw_write(path, WKW_RAW, (0, 0, 0, 8, 8, 8), np.ones((1, 8, 8, 8), np.uint8), (0, 0, 0))
    assert info.value.errno == 40 or "link" in str(info.value).lower()    # ELOOP
    assert target.read_bytes() == before


def test_shard_temporary_file_at_a_link_is_replaced(outside):
    folder, victim, sandbox, settled = outside
    # (an index without checksum: the partial write rewrites the shard instead of appending)
    spec = _shard.ShardSpec(1, (1, 16, 16, 16), (1, 8, 8, 8), (0, 1, 2, 3), False, [("zstd", 3, False)], True,
                            index_crc=False)
    path = sandbox / "0"
    tmp = tmp_name(path)
    for box, n in (((0, 0, 0, 0, 1, 16, 16, 16), 16), ((0, 0, 0, 0, 1, 8, 8, 8), 8)):
        tmp.symlink_to(victim)
        shard_write(path, spec, box, DATA[:, :n, :n, :n], (0, 0, 0, 0))
        assert not os.path.lexists(tmp)
    out = np.zeros((1, 16, 16, 16), np.uint8)
    shard_read(path, spec, (0, 0, 0, 0, 1, 16, 16, 16), out, (0, 0, 0, 0))
    assert (out == 7).all()


# ---- datasets: links planted inside a dataset -------------------------------------------------


def _mag(sandbox: Path, fmt: str, compress: bool):  # type: ignore[no-untyped-def]
    ds = wk.Dataset(sandbox / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", dtype="uint8", data_format=fmt)
    return layer.add_mag(1, chunk_shape=8, shard_shape=16, compress=compress)


def test_a_dataset_raw_journal_link_is_removed_not_followed(outside):
    folder, victim, sandbox, settled = outside
    mag = _mag(sandbox, "wkw", False)
    mag.write(np.full((16, 16, 16), 1, np.uint8), absolute_offset=(0, 0, 0))
    shard = sandbox / "ds" / "c" / "1" / "z0" / "y0" / "x0.wkw"
    journal = Path(f"{shard}.journal")
    journal.symlink_to(victim)
    assert (mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 1).all()   # a reader drops it
    assert not os.path.lexists(journal)
    journal.symlink_to(victim)
    mag.write(np.full((8, 8, 8), 2, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
    assert mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)).min() == 2
    assert not os.path.lexists(journal)


def test_a_dataset_raw_shard_that_is_a_link_is_refused(outside):
    folder, victim, sandbox, settled = outside
    mag = _mag(sandbox, "wkw", False)
    mag.write(np.full((16, 16, 16), 1, np.uint8), absolute_offset=(0, 0, 0))
    shard = sandbox / "ds" / "c" / "1" / "z0" / "y0" / "x0.wkw"
    os.replace(shard, folder / "x0.wkw")
    shard.symlink_to(folder / "x0.wkw")
    settled()
    with pytest.raises(ForeignPathError, match="x0.wkw"):
        mag.write(np.full((8, 8, 8), 2, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)


@pytest.mark.parametrize("fmt,compress", [("wkw", True), ("wkw", False), ("zarr3", True)])
def test_a_shard_folder_linking_outside_is_refused(outside, fmt, compress):
    folder, victim, sandbox, settled = outside
    mag = _mag(sandbox, fmt, compress)
    mag.write(np.full((16, 16, 16), 1, np.uint8), absolute_offset=(0, 0, 0))
    mag_dir = sandbox / "ds" / "c" / "1"
    # the folder that would hold the shard at x=16 is a link to the outside folder
    link = mag_dir / "z0" / "y0" if fmt == "wkw" else mag_dir / "c" / "0" / "1"
    if link.exists():
        link.rename(link.with_name(link.name + ".moved"))
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(folder, target_is_directory=True)
    with pytest.raises(ForeignPathError):
        mag.write(np.full((16, 16, 16), 2, np.uint8), absolute_offset=(16, 0, 0))


def test_a_zarr_json_link_is_replaced_not_written_through(outside):
    folder, victim, sandbox, settled = outside
    mag = _mag(sandbox, "zarr3", True)
    zarr_json = sandbox / "ds" / "c" / "1" / "zarr.json"
    text = zarr_json.read_text()
    outside_json = folder / "zarr.json"
    outside_json.write_text(text)
    zarr_json.unlink()
    zarr_json.symlink_to(outside_json)
    before = outside_json.read_bytes()
    settled()
    mag.write(np.full((16, 16, 16), 3, np.uint8), absolute_offset=(0, 0, 0))     # grows the shape
    assert not zarr_json.is_symlink() and outside_json.read_bytes() == before
    assert (mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 3).all()
