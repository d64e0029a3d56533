"""Agglomerate files: the Zarr v3 group of an agglomerate attachment, as webknossos 4.3.3
writes it and WEBKNOSSOS reads it.

A folder with a group ``zarr.json`` (voxelytics ``AgglomerateViewArtifact``, schema 4)
and seven sharded arrays, each a compressed-sparse-row view of one graph whose connected
components are the agglomerates (ids 1..A; 0 is the background)::

    segment_to_agglomerate           uint64  (S + 1,)    agglomerate of each segment id
    agglomerate_to_segments_offsets  uint64  (A + 2,)    into agglomerate_to_segments
    agglomerate_to_segments          seg     (S,)        segment ids, ascending per agglomerate
    agglomerate_to_positions         int32   (S, 3)      x, y, z of each of those segments
    agglomerate_to_edges_offsets     uint64  (A + 2,)    into the two edge arrays
    agglomerate_to_edges             seg     (E, 2)      local indices (into the agglomerate's segments)
    agglomerate_to_affinities        float32 (E,)        one per edge

``seg`` is the segmentation layer's type (uint32 or uint64). Every array is one
``sharding_indexed`` array (little-endian bytes, zstd level 5 with checksum, an index with
crc32c) whose chunks and shards run along the first axis only, sized to about 256 KiB per
chunk and 1 GiB per shard (64 KiB and 256 MiB for the offsets): the arrays tensorstore
writes for webknossos, read back by tensorstore and zarr-python as well.

Reading checks a file before trusting it: shapes and types must agree with each other,
and every array is allocated only after its size is backed by chunks stored on disk
(segment ids are never 0, so the chunks of ``agglomerate_to_segments`` are all stored;
the other arrays are bounded by it), so a hostile ``zarr.json`` claiming huge shapes is
refused before anything is allocated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wkpy._paths import write_file_atomic
from wkpy.errors import CorruptFileError
from wkpy.storage._zarr3_meta import ZARR_JSON
from wkpy.storage.zarr3 import Zarr3Array, write_whole_array

__all__ = ["AgglomerateArrays", "GROUP_ATTRIBUTES", "read_agglomerate_file", "write_agglomerate_file"]

GROUP_ATTRIBUTES = {"voxelytics": {"artifact_schema_version": 4, "artifact_class": "AgglomerateViewArtifact"}}
SEGMENT_DTYPES = (np.dtype("uint32"), np.dtype("uint64"))
_DATA_TARGET = (256 << 10, 1 << 30)      # bytes per chunk, per shard
_OFFSETS_TARGET = (64 << 10, 256 << 20)
_CHUNK_BYTES_CAP = 16 << 20              # reading: a chunk larger than this must not outsize its array


@dataclass(frozen=True)
class AgglomerateArrays:
    """The seven arrays of an agglomerate file (see the module docstring for shapes)."""

    segment_to_agglomerate: np.ndarray
    agglomerate_to_segments_offsets: np.ndarray
    agglomerate_to_segments: np.ndarray
    agglomerate_to_positions: np.ndarray
    agglomerate_to_edges_offsets: np.ndarray
    agglomerate_to_edges: np.ndarray
    agglomerate_to_affinities: np.ndarray

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The array (and folder) names, in the order webknossos writes them."""
        return tuple(cls.__dataclass_fields__)


def write_agglomerate_file(path: Path, arrays: AgglomerateArrays) -> None:
    """Write `arrays` as the agglomerate file `path`, a new folder (its parent exists).

    The caller makes this crash-safe by building under a hidden name and renaming it
    into place (`wkpy.attachments`).
    """
    path = Path(path)
    path.mkdir()
    write_file_atomic(path / ZARR_JSON, json.dumps(
        {"zarr_format": 3, "node_type": "group", "attributes": GROUP_ATTRIBUTES}, indent=2).encode())
    for name in AgglomerateArrays.names():
        chunk_bytes, shard_bytes = _OFFSETS_TARGET if name.endswith("_offsets") else _DATA_TARGET
        write_whole_array(path / name, getattr(arrays, name), target_chunk_bytes=chunk_bytes,
                          target_shard_bytes=shard_bytes)


# ---- reading ------------------------------------------------------------------------------
def _open(path: Path, name: str, ndim: int, kinds: str, width: int | None = None) -> Zarr3Array:
    array = Zarr3Array.open(path / name, ranks=(ndim,))
    meta = array.meta
    shape = meta.shape
    if meta.dtype.kind not in kinds:
        raise CorruptFileError(f"{meta.file}: data_type {meta.dtype} is not {'an integer' if kinds != 'f' else 'a float'}"
                               " type")
    if width is not None and shape[1] != width:
        raise CorruptFileError(f"{meta.file}: shape {list(shape)} does not have {width} columns")
    array_bytes = int(np.prod(shape, dtype=object)) * meta.dtype.itemsize
    chunk_bytes = int(np.prod(meta.chunk, dtype=object)) * meta.dtype.itemsize
    if chunk_bytes > max(array_bytes, _CHUNK_BYTES_CAP):
        raise CorruptFileError(f"{meta.file}: chunks of {chunk_bytes} bytes for an array of {array_bytes} bytes")
    return array


def _rows(array: Zarr3Array) -> int:
    return array.meta.shape[0]


def _expect_rows(array: Zarr3Array, rows: int, what: str) -> None:
    if _rows(array) != rows:
        raise CorruptFileError(f"{array.meta.file}: shape {list(array.meta.shape)} has {_rows(array)} rows, "
                               f"not {rows} ({what})")


def read_agglomerate_file(path: Path) -> AgglomerateArrays:
    """Read the arrays of the agglomerate file `path` that describe its graph (all but
    ``segment_to_agglomerate``, returned empty), with their shapes and types checked
    against each other before anything is allocated.

    Raises
    ------
    CorruptFileError
        An array is missing (as `PropertiesError`), malformed, damaged, of the wrong type or
        of a shape that contradicts the others, or claims more data than its stored chunks
        hold; the message names the file.
    UnsupportedError
        An array that is valid Zarr v3 but uses what wkpy does not read.
    """
    path = Path(path)
    if not path.is_dir():
        raise CorruptFileError(f"{path}: not an agglomerate file (no such folder)")
    segments = _open(path, "agglomerate_to_segments", 1, "u")
    n_segments = _rows(segments)
    stored = segments.stored_elements()
    if stored != n_segments:      # segment ids are >= 1: a chunk left out would read as 0
        raise CorruptFileError(f"{segments.meta.file}: shape [{n_segments}] but only {stored} ids are stored")
    positions = _open(path, "agglomerate_to_positions", 2, "iu", 3)
    _expect_rows(positions, n_segments, "one position per segment")
    segment_offsets = _open(path, "agglomerate_to_segments_offsets", 1, "iu")
    n_agglomerates = _rows(segment_offsets) - 2
    if not 0 <= n_agglomerates <= n_segments:
        raise CorruptFileError(f"{segment_offsets.meta.file}: {_rows(segment_offsets)} offsets for {n_segments} "
                               "segments (need 2 + one per agglomerate, each agglomerate non-empty)")
    edge_offsets = _open(path, "agglomerate_to_edges_offsets", 1, "iu")
    _expect_rows(edge_offsets, n_agglomerates + 2, "as many as agglomerate_to_segments_offsets")
    edges = _open(path, "agglomerate_to_edges", 2, "iu", 2)
    n_edges = _rows(edges)
    # A left-out chunk of edges reads as (0, 0) rows: a self-loop of an agglomerate's first
    # segment, of which each agglomerate has at most one.
    absent_rows = (2 * n_edges - edges.stored_elements()) // 2
    if absent_rows > n_agglomerates:
        raise CorruptFileError(f"{edges.meta.file}: shape [{n_edges}, 2] but {absent_rows} rows are not stored")
    affinities = _open(path, "agglomerate_to_affinities", 1, "f")
    _expect_rows(affinities, n_edges, "one affinity per edge")
    return AgglomerateArrays(
        segment_to_agglomerate=np.zeros(0, np.uint64),
        agglomerate_to_segments_offsets=segment_offsets.read_all(),
        agglomerate_to_segments=segments.read_all(),
        agglomerate_to_positions=positions.read_all(),
        agglomerate_to_edges_offsets=edge_offsets.read_all(),
        agglomerate_to_edges=edges.read_all(),
        agglomerate_to_affinities=affinities.read_all(),
    )

