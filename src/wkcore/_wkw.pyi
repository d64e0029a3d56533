"""WKW files: header parsing and building, box reads and writes of one file."""

import os
from typing_extensions import Buffer

_Path = str | bytes | os.PathLike[str]

def read(path: _Path, layout_: tuple[int, int, int, int], box: tuple[int, ...], out: Buffer,
         out_offset: tuple[int, int, int]) -> bool: ...
def write(path: _Path, tmp_path: _Path, layout_: tuple[int, int, int, int, int], box: tuple[int, ...],
          data: Buffer, data_offset: tuple[int, int, int]) -> None: ...
def parse_header_bytes(data: bytes, path: object = "<bytes>") -> tuple[int, int, int, int, int, int]: ...
def header_bytes(block_log2: int, file_log2: int, block_type: int, voxel_type: int, voxel_bytes: int,
                 data_offset: int = 0) -> bytes: ...
