"""`TransferMode`: how a folder (a mag, an attachment) gets to where it is needed, as the
webknossos 4.3.3 enum of that name.

Local transfers only: ``COPY`` copies the files, ``SYMLINK`` links the destination to
the source, ``MOVE_AND_SYMLINK`` renames the source to the destination (a cheap rename on
one file system, refused across file systems) and leaves a link at the source. ``HTTP``
(an upload to a WEBKNOSSOS server) is not available in wkpy.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from wkpy.errors import InvalidRequestError, UnsupportedError
from wkpy.utils import copytree

__all__ = ["TransferMode"]


def _local(path: str | os.PathLike[str]) -> Path:
    if "://" in os.fspath(path):
        raise InvalidRequestError(f"{os.fspath(path)}: links and moves need local paths")
    return Path(path)


def _free(dst: Path) -> Path:
    if os.path.lexists(dst):
        raise InvalidRequestError(f"{dst} exists already; a transfer never replaces it")
    return dst


class TransferMode(str, Enum):
    """How `transfer` brings a folder from `src_path` to `dst_path` (a `str` enum)."""

    HTTP = "http"
    MOVE_AND_SYMLINK = "move+symlink"
    SYMLINK = "symlink"
    COPY = "copy"

    @staticmethod
    def symlink(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str]) -> None:
        """Make `dst_path` a link to `src_path` (absolute).

        Raises
        ------
        InvalidRequestError
            `dst_path` exists, or a path is a URL (a `ValueError` and an `AssertionError`,
            as webknossos asserts).
        """
        src, dst = _local(src_path), _free(_local(dst_path))
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(os.path.abspath(src), target_is_directory=src.is_dir())

    @staticmethod
    def move_and_symlink(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str]) -> None:
        """Rename `src_path` to `dst_path` (one `os.rename`: never a copy), then leave a
        link at `src_path` to where the data is now (links are followed to the data).

        Raises
        ------
        InvalidRequestError
            `dst_path` exists.
        OSError
            The rename is not possible (e.g. another file system).
        """
        src, dst = _local(src_path), _free(_local(dst_path))
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, dst)
        src.symlink_to(os.path.realpath(dst), target_is_directory=True)

    @staticmethod
    def copy(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str],
             progress_desc_label: str | None = None) -> None:
        """Copy the files under `src_path` into `dst_path` (links followed)."""
        dst = Path(dst_path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        copytree(src_path, dst, progress_desc=f"copying {progress_desc_label or ''}".strip())

    def transfer(self, src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str],
                 progress_desc_label: str | None = None) -> None:
        """Bring `src_path` to `dst_path` in this mode.

        Raises
        ------
        UnsupportedError
            ``HTTP``: uploads to a WEBKNOSSOS server are not part of wkpy.
        """
        if self is TransferMode.COPY:
            self.copy(src_path, dst_path, progress_desc_label)
        elif self is TransferMode.MOVE_AND_SYMLINK:
            self.move_and_symlink(src_path, dst_path)
        elif self is TransferMode.SYMLINK:
            self.symlink(src_path, dst_path)
        else:
            raise UnsupportedError("TransferMode.HTTP uploads to a WEBKNOSSOS server, which wkpy does not do")
