"""Zipped OME-Zarr (``.ozx``, NGFF RFC-9): one Zarr v3 hierarchy in one ZIP file.

RFC-9 requires the archive's root to be the hierarchy's root (its ``zarr.json`` at the
top) and recommends, for its "recommended variant": ZIP64 headers whatever the size, no
ZIP-level compression (the Zarr codecs compress), the sharding codec, every ``zarr.json``
first in the archive and in the central directory (root first, then breadth first), and
an archive comment of UTF-8 JSON ``{"ome": {"version": ...}}``. `write_ozx` does all of
that; the comment also carries ``"jsonFirst": true``, as webknossos 4.3.3 writes it.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

__all__ = ["write_ozx", "ozx_entries"]

_COPY_BUFFER = 1 << 20


def ozx_entries(folder: Path) -> list[Path]:
    """The files under `folder` in archive order: every ``zarr.json`` by depth, then by
    path; then every other file by path. Hidden files and folders (names starting with
    ``.``) are left out."""
    folder = Path(folder)
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, name).relative_to(folder) for name in files if not name.startswith("."))
    meta = sorted((p for p in found if p.name == "zarr.json"), key=lambda p: (len(p.parts), p.as_posix()))
    data = sorted((p for p in found if p.name != "zarr.json"), key=lambda p: p.as_posix())
    return [*meta, *data]


def write_ozx(folder: Path, output: Path, ome_version: str = "0.5") -> None:
    """Pack the Zarr hierarchy in `folder` (its root ``zarr.json`` at the top) into the ZIP
    file `output` (created or truncated), as RFC-9's recommended variant.

    Each file is streamed into the archive (memory stays bounded whatever a shard's
    size) and removed from `folder` once stored, so the export needs little more disk
    than the archive itself. Entries keep the files' modification times and modes.
    """
    folder = Path(folder)
    with zipfile.ZipFile(output, mode="w") as archive:
        for rel in ozx_entries(folder):
            file = folder / rel
            info = zipfile.ZipInfo.from_file(file, rel.as_posix())
            info.compress_type = zipfile.ZIP_STORED
            with open(file, "rb") as src, archive.open(info, mode="w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, _COPY_BUFFER)
            file.unlink()
        archive.comment = json.dumps({"ome": {"version": ome_version}, "jsonFirst": True}).encode("utf-8")
