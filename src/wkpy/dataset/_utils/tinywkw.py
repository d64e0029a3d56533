"""A small WKW array API under the names of webknossos 4.3.3
(``webknossos.dataset._utils.tinywkw``): `TinyWkwHeader` and `TinyWkwArray`.

webknossos ships these as a pure-Python WKW reader and writer. Here they are a thin
layer over wkpy's own WKW storage (`wkpy.storage.wkw.WkwArray` and the kernels of
`wkcore._wkw`): the same header parser, block codecs, shard locks and crash-safe
writes as every WKW layer of a dataset. Local paths only (also a local ``UPath``).

As in webknossos 4.3.3, a write that leaves a whole file zero deletes it (and an
all-zero write never creates one), so that missing files stand for zeros.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from wkcore import _wkw
from wkpy._paths import read_small_file
from wkpy._urls import local_path
from wkpy.errors import (
    CorruptFileError,
    CorruptHeaderError,
    DataMismatchError,
    DatasetNotFoundError,
    InvalidRequestError,
    UnsupportedError,
)
from wkpy.geometry import BoundingBox, NDBoundingBox, NormalizedBoundingBox, Vec3Int, Vec3IntLike
from wkpy.storage.array import ArrayInfo, split_by_shard
from wkpy.storage.wkw import MAX_LOG2, VOXEL_DTYPES, VOXEL_TYPES, WkwArray

__all__ = ["ChunkType", "TinyWkwHeader", "TinyWkwArray"]

_CXYZ = ("c", "x", "y", "z")
_HEADER_BYTES = 16


class ChunkType(IntEnum):
    """How the blocks (chunks) of a WKW file are stored: the header's block type."""

    RAW = 1
    LZ4 = 2
    LZ4HC = 3


def _side_log2(n: int, what: str) -> int:
    if n < 1 or n & (n - 1) or n.bit_length() - 1 > MAX_LOG2:
        raise InvalidRequestError(f"TinyWkwHeader.{what}: {n} is not a power of two up to 2^{MAX_LOG2}")
    return n.bit_length() - 1


@dataclass(frozen=True)
class TinyWkwHeader:
    """The 16-byte header of a WKW dataset (``header.wkw``) or file, as in webknossos 4.3.3.

    Parameters
    ----------
    chunk_shape : Vec3IntLike
        Voxels per block side (x, y, z); cubic, a power of two.
    shard_shape : Vec3IntLike
        Voxels per file side (x, y, z); cubic, a power-of-two multiple of `chunk_shape`.
    chunk_type : ChunkType or int
        RAW, LZ4 or LZ4HC blocks.
    voxel_type : numpy dtype-like
        Type of one channel: uint8/16/32/64, float32 or float64.
    num_channels : int
        Channels per voxel (at most 255 bytes per voxel).
    data_offset : int or None
        Where the blocks begin in a file; 0 in ``header.wkw``, None when not read from bytes.

    Raises
    ------
    InvalidRequestError
        A field outside the format (also a `ValueError` and an `AssertionError`).
    """

    chunk_shape: Vec3Int
    shard_shape: Vec3Int
    chunk_type: ChunkType
    voxel_type: np.dtype
    num_channels: int
    data_offset: int | None = field(default=None)

    def __post_init__(self) -> None:
        chunk, shard = Vec3Int(self.chunk_shape), Vec3Int(self.shard_shape)
        for name, shape in (("chunk_shape", chunk), ("shard_shape", shard)):
            if len(set(shape)) != 1:
                raise InvalidRequestError(f"TinyWkwHeader.{name}: WKW needs a cubic shape, got {tuple(shape)}")
        _side_log2(chunk.x, "chunk_shape")
        if shard.x % chunk.x:
            raise InvalidRequestError(f"TinyWkwHeader.shard_shape: {tuple(shard)} is not a multiple of "
                                      f"chunk_shape {tuple(chunk)}")
        _side_log2(shard.x // chunk.x, "shard_shape (chunks per side)")
        try:
            chunk_type = ChunkType(self.chunk_type)
        except ValueError:
            raise InvalidRequestError(f"TinyWkwHeader.chunk_type: {self.chunk_type!r} is not 1, 2 or 3 "
                                      "(RAW, LZ4, LZ4HC)") from None
        try:
            voxel_type = np.dtype(self.voxel_type)
        except TypeError:
            raise InvalidRequestError(f"TinyWkwHeader.voxel_type: {self.voxel_type!r} is not a dtype") from None
        if voxel_type not in VOXEL_TYPES:
            raise InvalidRequestError(f"TinyWkwHeader.voxel_type: WKW cannot store {voxel_type}; "
                                      f"use one of {[str(t) for t in VOXEL_TYPES]}")
        num_channels = self.num_channels
        if not isinstance(num_channels, (int, np.integer)) or not 1 <= num_channels * voxel_type.itemsize <= 255:
            raise InvalidRequestError(f"TinyWkwHeader.num_channels: {num_channels!r} channels of {voxel_type} "
                                      "do not fit the header's 1..255 bytes per voxel")
        for name, value in (("chunk_shape", chunk), ("shard_shape", shard), ("chunk_type", chunk_type),
                            ("voxel_type", voxel_type), ("num_channels", int(num_channels))):
            object.__setattr__(self, name, value)

    @classmethod
    def from_bytes(cls, data: bytes, path: str | os.PathLike[str] = "<bytes>") -> TinyWkwHeader:
        """Parse the first 16 bytes of `data` (a ``header.wkw`` or a WKW file).

        Parameters
        ----------
        data : bytes
            At least 16 bytes.
        path : str or os.PathLike, optional
            The file the bytes come from, named in errors.

        Raises
        ------
        CorruptHeaderError
            Too few bytes, wrong magic or version, a block or voxel type outside the format
            (also a `ValueError` and an `AssertionError`, as webknossos 4.3.3 asserts there).
        UnsupportedError
            Blocks or files larger than wkpy reads (2^8 voxels per block side, 2^8 blocks
            per file side).
        """
        try:
            block_log2, file_log2, block_type, voxel_type, voxel_bytes, data_offset = \
                _wkw.parse_header_bytes(bytes(data[:_HEADER_BYTES]), path)
        except CorruptFileError as exc:
            raise CorruptHeaderError(str(exc)) from None
        if block_log2 > MAX_LOG2 or file_log2 > MAX_LOG2:
            raise UnsupportedError(f"{os.fspath(path)}: header: blocks of 2^{block_log2} voxels per side and files "
                                   f"of 2^{file_log2} blocks per side; wkpy reads at most 2^{MAX_LOG2} of each")
        dtype = VOXEL_DTYPES[voxel_type]
        return cls(chunk_shape=Vec3Int.full(1 << block_log2), shard_shape=Vec3Int.full(1 << (block_log2 + file_log2)),
                   chunk_type=ChunkType(block_type), voxel_type=dtype, num_channels=voxel_bytes // dtype.itemsize,
                   data_offset=data_offset)

    def to_bytes(self, data_offset: int | None = None) -> bytes:
        """The 16 header bytes. Without `data_offset`, that of a file's own header: 16 for
        RAW files, 16 plus the jump table (8 bytes per block) for compressed ones; a
        ``header.wkw`` holds 0."""
        if data_offset is None:
            data_offset = _HEADER_BYTES + (0 if self.chunk_type == ChunkType.RAW else 8 * self.file_len ** 3)
        return _wkw.header_bytes(self.block_len.bit_length() - 1, self.file_len.bit_length() - 1,
                                 int(self.chunk_type), VOXEL_TYPES[self.voxel_type],
                                 self.num_channels * self.voxel_type.itemsize, data_offset)

    @property
    def block_len(self) -> int:
        """Voxels per block side (the name of ``wkw.Header``)."""
        return int(self.chunk_shape.x)

    @property
    def file_len(self) -> int:
        """Blocks per file side (the name of ``wkw.Header``)."""
        return int(self.shard_shape.x // self.chunk_shape.x)

    @property
    def block_type(self) -> int:
        """The chunk type as the header's number (the name of ``wkw.Header``)."""
        return int(self.chunk_type)


def _local(path: str | os.PathLike[str]) -> Path:
    return local_path(path, "WKW dataset")


def _cxyz(bbox: NDBoundingBox, num_channels: int) -> tuple[slice, Vec3Int, Vec3Int]:
    """The channel range and the x, y, z offset and size of a (c, x, y, z) box."""
    if tuple(bbox.axes) != _CXYZ:
        raise InvalidRequestError(f"a WKW box needs the axes {_CXYZ}, got {tuple(bbox.axes)}")
    c0, c1 = int(bbox.topleft[0]), int(bbox.topleft[0] + bbox.size[0])
    if not 0 <= c0 <= c1 <= num_channels:
        raise InvalidRequestError(f"the box's channels {c0}..{c1} lie outside the {num_channels} channels")
    return slice(c0, c1), Vec3Int(bbox.topleft[1:]), Vec3Int(bbox.size[1:])


class TinyWkwArray:
    """A WKW dataset (one mag folder: ``header.wkw`` and ``z*/y*/x*.wkw``), as in
    webknossos 4.3.3. Reads and writes go through wkpy's WKW storage.

    Arrays are (c, x, y, z), Fortran order; coordinates are voxels of this dataset.
    """

    def __init__(self, path: str | os.PathLike[str], header: TinyWkwHeader) -> None:
        self._path = _local(path)
        self._header = header
        self._array: WkwArray | None = None

    @property
    def header(self) -> TinyWkwHeader:
        """The dataset's header."""
        return self._header

    @property
    def _storage(self) -> WkwArray:
        if self._array is None:
            self._array = WkwArray.open(self._path)
        return self._array

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TinyWkwArray:
        """Open the WKW dataset at `path` (a folder holding ``header.wkw``).

        Raises
        ------
        DatasetNotFoundError
            No ``header.wkw`` there (also a `FileNotFoundError`).
        CorruptHeaderError, UnsupportedError
            See `TinyWkwHeader.from_bytes`.
        UnsupportedError
            A URL (remote WKW datasets are not supported).
        """
        folder = _local(path)
        header_file = folder / "header.wkw"
        try:
            raw = read_small_file(header_file, 1 << 12)
        except FileNotFoundError:
            raise DatasetNotFoundError(f"{header_file}: missing; {folder} is not a WKW dataset") from None
        array = cls(folder, TinyWkwHeader.from_bytes(raw, header_file))
        array._array = WkwArray.open(folder)
        return array

    @classmethod
    def create(cls, path: str | os.PathLike[str], header: TinyWkwHeader) -> TinyWkwArray:
        """Create a WKW dataset at `path`: the folder (with its parents) and ``header.wkw``
        (data offset 0), replacing a header that is there.

        Raises
        ------
        UnsupportedError
            A URL.
        """
        folder = _local(path)
        info = ArrayInfo("wkw", header.voxel_type, header.num_channels, tuple(header.chunk_shape),
                         tuple(header.shard_shape), header.chunk_type != ChunkType.RAW,
                         lz4hc=header.chunk_type == ChunkType.LZ4HC)
        array = cls(folder, header)
        array._array = WkwArray.create(folder, info)
        return array

    def close(self) -> None:
        """Nothing to release (kept for code written against ``wkw.Dataset``)."""

    # ---- reading --------------------------------------------------------------------------
    def read(self, topleft: Vec3IntLike, size: Vec3IntLike) -> np.ndarray:
        """The voxels of the box (all channels) as a (c, x, y, z) array; missing files read
        as zeros.

        Raises
        ------
        CorruptFileError
            A damaged file, or one whose header contradicts ``header.wkw`` (naming it).
        """
        return self.read_bbox(BoundingBox(topleft, size).normalize_axes(self._header.num_channels))

    def read_bbox(self, bbox: NormalizedBoundingBox) -> np.ndarray:
        """The voxels of a (c, x, y, z) box as an array of its shape, Fortran order.

        Raises
        ------
        InvalidRequestError
            A box of other axes, or channels outside the dataset's.
        CorruptFileError
            As `read`.
        """
        channels, offset, size = _cxyz(bbox, self._header.num_channels)
        data = self._storage.read(tuple(offset), tuple(size))
        return data if channels == slice(0, self._header.num_channels) else np.asfortranarray(data[channels])

    def _read_shard_into(self, shard_address: Vec3Int, bbox: BoundingBox, output: np.ndarray) -> None:
        """Copy the part of file `shard_address` inside `bbox` into `output`, a (c, x, y, z)
        array covering `bbox`."""
        shard = BoundingBox(Vec3Int(shard_address) * self._header.shard_shape, self._header.shard_shape)
        part = bbox.intersected_with(shard)
        if part.is_empty():
            return
        start = part.topleft - bbox.topleft
        target = (slice(None), *(slice(a, a + n) for a, n in zip(start, part.size)))
        output[target] = self._storage.read(tuple(part.topleft), tuple(part.size))

    # ---- writing --------------------------------------------------------------------------
    def write(self, topleft: Vec3IntLike, data: np.ndarray) -> None:
        """Write a (c, x, y, z) array of all channels with its first voxel at `topleft`.

        Raises
        ------
        InvalidRequestError
            Data of another rank or channel count, or a negative `topleft`.
        DataMismatchError
            Data of another dtype than the header's (never cast).
        """
        if np.ndim(data) != 4:
            raise InvalidRequestError(f"data must have (c, x, y, z) axes, got {np.ndim(data)} axes")
        size = Vec3Int(np.shape(data)[1:])
        self.write_bbox(BoundingBox(topleft, size).normalize_axes(self._header.num_channels), data)

    def write_bbox(self, bbox: NormalizedBoundingBox, data: np.ndarray) -> None:
        """Write the (c, x, y, z) array `data` into the box `bbox` (all channels).

        A file whose blocks all end up zero is deleted, and an all-zero part of the data
        never creates one (as in webknossos 4.3.3).

        Raises
        ------
        InvalidRequestError
            A box of other axes or not of all channels, data not of the box's shape, a
            negative offset.
        DataMismatchError
            Data of another dtype than the header's (never cast).
        CorruptFileError
            A partial write into a damaged file (it is left as it was).
        """
        header = self._header
        channels, offset, size = _cxyz(bbox, header.num_channels)
        if channels != slice(0, header.num_channels):
            raise InvalidRequestError(f"a write needs all {header.num_channels} channels, the box has "
                                      f"{channels.start}..{channels.stop}")
        data = np.asarray(data)
        if data.shape != (header.num_channels, *size):
            raise InvalidRequestError(f"data of shape {data.shape} does not fill the box "
                                      f"{(header.num_channels, *size)} (c, x, y, z)")
        if data.dtype != header.voxel_type:
            raise DataMismatchError(f"data of dtype {data.dtype} cannot be written to a WKW dataset of "
                                    f"{header.voxel_type}")
        if min(offset) < 0:
            raise InvalidRequestError(f"a write offset must not be negative, got {tuple(offset)}")
        side = tuple(header.shard_shape)
        for part in split_by_shard(tuple(offset), tuple(size), side):
            piece = data[(slice(None), *(slice(s, s + n) for s, n in zip(part.start, part.extent)))]
            at = tuple(i * s + lo for i, s, lo in zip(part.shard, side, part.local))
            if piece.any():
                self._storage.write(at, piece)
            else:
                self._write_zeros(Vec3Int(part.shard), BoundingBox(at, part.extent))

    def _write_zeros(self, shard_address: Vec3Int, box: BoundingBox) -> None:
        """Zero `box` inside one file: the file is deleted if nothing else in it is set.

        The file is scanned a row of blocks (x by one block by one block) at a time, so
        memory stays bounded whatever shard shape the header gives."""
        header = self._header
        shard = BoundingBox(shard_address * header.shard_shape, header.shard_shape)
        idx = tuple(shard_address)
        with self._storage.holding_shard(idx) as file:  # type: ignore[arg-type]
            if not os.path.lexists(file):
                return
            if box != shard:
                self._storage.write(tuple(box.topleft), np.zeros((header.num_channels, *box.size),
                                                              header.voxel_type, order="F"))
                block = header.block_len
                row = Vec3Int(shard.size.x, block, block)
                for z in range(shard.topleft.z, shard.bottomright.z, block):
                    for y in range(shard.topleft.y, shard.bottomright.y, block):
                        if self._storage.read((shard.topleft.x, y, z), tuple(row)).any():
                            return
            self._storage.remove_shard(idx)  # type: ignore[arg-type]
