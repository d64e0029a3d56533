"""Zarr v3 chunk files (sharded or not): box reads and writes, index and chunk codecs."""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from typing_extensions import Buffer

_Array = np.ndarray[Any, Any] | Buffer

_Path = str | bytes | os.PathLike[str]

MAX_NDIM: int

class ShardSpec:
    def __init__(self, itemsize: int, shard_shape: Sequence[int], chunk_shape: Sequence[int],
                 order: Sequence[int], big_endian: bool, steps: Sequence[tuple[Any, ...]], sharded: bool,
                 index_at_start: bool = False, index_big_endian: bool = False, index_crc: bool = True,
                 fill: bytes | None = None) -> None: ...
    @property
    def ndim(self) -> int: ...
    @property
    def n_chunks(self) -> int: ...
    @property
    def chunk_bytes(self) -> int: ...
    @property
    def index_bytes(self) -> int: ...

def read(path: _Path, spec: ShardSpec, box: tuple[int, ...], out: _Array, out_offset: tuple[int, ...],
         fd: int = -1) -> bool: ...
class PreparedChunks:
    spec: ShardSpec
    @property
    def count(self) -> int: ...
    @property
    def nbytes(self) -> int: ...

def encode(path: _Path, spec: ShardSpec, box: tuple[int, ...], data: _Array,
           data_offset: tuple[int, ...]) -> PreparedChunks: ...
def write(path: _Path, tmp_path: _Path, spec: ShardSpec, box: tuple[int, ...], data: _Array,
          data_offset: tuple[int, ...], prepared: Sequence[PreparedChunks] = ()) -> int: ...
def read_index(path: _Path, spec: ShardSpec) -> list[tuple[int, int] | None] | None: ...
def decode_chunk_bytes(spec: ShardSpec, data: _Array, name: object = "<bytes>") -> bytes: ...
def encode_chunk_bytes(spec: ShardSpec, data: _Array) -> bytes: ...
