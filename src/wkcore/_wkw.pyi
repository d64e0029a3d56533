"""WKW files: header parsing and building, box reads and writes of one file."""

import os
from typing import Any

import numpy as np
from typing_extensions import Buffer

_Array = np.ndarray[Any, Any] | Buffer

_Path = str | bytes | os.PathLike[str]
_Layout = tuple[int, int, int, int, int]

def read(path: _Path, layout_: tuple[int, int, int, int], box: tuple[int, ...], out: _Array | np.ndarray,
         out_offset: tuple[int, ...], fd: int = -1) -> bool: ...
def write(path: _Path, tmp_path: _Path, layout_: _Layout, box: tuple[int, ...], data: _Array | np.ndarray,
          data_offset: tuple[int, ...], journal_path: _Path = "") -> None: ...
def roll_back(path: _Path, journal_path: _Path) -> int: ...
def encode_range(old: bytes | None, layout_: _Layout, box: tuple[int, ...], data: _Array | np.ndarray,
                 data_offset: tuple[int, ...], m_lo: int, m_hi: int, path: object = "<file>") -> tuple[bytes, bytes]: ...
def assemble(path: _Path, tmp_path: _Path, layout_: _Layout, parts: list[tuple[bytes, bytes]]) -> None: ...
def parse_header_bytes(data: bytes, path: object = "<bytes>") -> tuple[int, int, int, int, int, int]: ...
def header_bytes(block_log2: int, file_log2: int, block_type: int, voxel_type: int, voxel_bytes: int,
                 data_offset: int = 0) -> bytes: ...
