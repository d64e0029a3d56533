"""`AgglomerateGraph`: the supervoxel graph of an agglomerate attachment (webknossos 4.3.3 API).

A `networkx.Graph` whose nodes are segment ids 1..n, each with a ``position`` (x, y, z
voxel), and whose edges carry an ``affinity``. Its connected components are the
agglomerates. `graph_to_arrays` turns it into the arrays of an agglomerate file
(`wkpy.storage.agglomerate_file`) exactly as webknossos does; `arrays_to_graph` reads
them back, checking every offset and index first.

Examples
--------
>>> g = AgglomerateGraph()
>>> g.add_segment(1, position=wk.Vec3Int(10, 20, 30))      # doctest: +SKIP
>>> g.add_segment(2, position=wk.Vec3Int(15, 25, 35))      # doctest: +SKIP
>>> g.add_affinity_edge(1, 2, affinity=0.9)                # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from wkpy.errors import CorruptFileError, InvalidGraphError
from wkpy.geometry import Vec3Int
from wkpy.storage.agglomerate_file import SEGMENT_DTYPES, AgglomerateArrays

__all__ = ["AgglomerateGraph", "arrays_to_graph", "graph_to_arrays"]

_INT32 = np.iinfo(np.int32)


class AgglomerateGraph(nx.Graph):  # type: ignore[misc]
    """A `networkx.Graph` of segments (nodes: ids 1..n with a ``position``) and affinity
    edges, as in webknossos 4.3.3. Connected components are the agglomerates."""

    def add_segment(self, segment_id: int, *, position: Vec3Int) -> None:
        """Add the segment `segment_id` (>= 1) at voxel `position` (x, y, z)."""
        self.add_node(segment_id, position=position)

    def add_affinity_edge(self, u: int, v: int, *, affinity: float) -> None:
        """Connect segments `u` and `v` with an edge of the given `affinity`."""
        self.add_edge(u, v, affinity=affinity)

    def __repr__(self) -> str:
        return f"AgglomerateGraph({self.number_of_nodes()} nodes, {self.number_of_edges()} edges)"


def _segment_ids(graph: Any) -> int:
    """n, after checking that the nodes are exactly the integers 1..n."""
    largest = 0
    for node in graph.nodes:
        if not isinstance(node, numbers.Integral) or isinstance(node, bool) or node < 1:
            raise InvalidGraphError(f"All node labels must be positive integers (1-based), got {node!r}")
        largest = max(largest, int(node))
    count = graph.number_of_nodes()
    if largest != count:
        present = {int(n) for n in graph.nodes}
        missing = [i for i in range(1, largest + 1) if i not in present][:10] if largest <= 10 * count + 10 else None
        shown = f"missing: {missing}" if missing is not None else f"{largest - count} ids are missing"
        raise InvalidGraphError(f"Segment IDs must be dense (1..{largest}) with no gaps, {shown}")
    return count


def _position(segment: int, value: Any) -> tuple[int, int, int]:
    try:
        xyz = tuple(value)
    except TypeError:
        xyz = ()
    if len(xyz) != 3 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in xyz):
        raise InvalidGraphError(f"segment {segment}: position {value!r} is not three integers (x, y, z)")
    if not all(_INT32.min <= v <= _INT32.max for v in xyz):
        raise InvalidGraphError(f"segment {segment}: position {value!r} does not fit the file's int32")
    return xyz  # type: ignore[return-value]


def _affinity(u: int, v: int, data: dict[str, Any]) -> float:
    try:
        return float(data.get("affinity", 0.0))
    except (TypeError, ValueError):
        raise InvalidGraphError(f"edge ({u}, {v}): affinity {data.get('affinity')!r} is not a number") from None


def graph_to_arrays(graph: Any, segmentation_dtype: npt.DTypeLike = "uint32") -> AgglomerateArrays:
    """The arrays of the agglomerate file of `graph`, as webknossos 4.3.3 computes them.

    Agglomerates are the connected components, numbered 1..A by their smallest segment;
    each lists its segments ascending, and its edges as local index pairs (smaller
    first) in ascending order. Edges without ``affinity`` get 0.0.

    Parameters
    ----------
    graph
        An `AgglomerateGraph` (any `networkx.Graph` with those attributes).
    segmentation_dtype
        uint32 or uint64: the type of the segmentation layer, used for segment ids and
        edge indices.

    Raises
    ------
    InvalidGraphError
        Node labels that are not 1..n, a missing or malformed ``position``, an affinity
        that is not a number, or ids beyond `segmentation_dtype`.
    InvalidRequestError
        `segmentation_dtype` is not uint32 or uint64 (`InvalidGraphError` is one too).
    """
    n = _segment_ids(graph)
    try:
        dtype = np.dtype(segmentation_dtype)
    except TypeError:
        dtype = None
    if dtype not in SEGMENT_DTYPES:
        raise InvalidGraphError(f"Segmentation dtype must be uint32 or uint64, not {segmentation_dtype!r}")
    if n > np.iinfo(dtype).max:
        raise InvalidGraphError(f"segment id {n} does not fit the segmentation dtype {dtype}")

    positions_by_id = np.zeros((n + 1, 3), np.int32)
    for node, value in graph.nodes(data="position"):
        if value is None:
            raise InvalidGraphError(f"segment {node} has no 'position' attribute")
        positions_by_id[int(node)] = _position(int(node), value)

    # agglomerate of each segment id: components numbered by their smallest id
    components = sorted((min(m), m) for m in ([int(x) for x in c] for c in nx.connected_components(graph)))
    agglomerate_of = np.zeros(n + 1, np.uint64)
    for number, (_, members) in enumerate(components, start=1):
        agglomerate_of[members] = number
    n_agglomerates = len(components)

    ids = np.arange(1, n + 1, dtype=np.int64)
    order = ids[np.lexsort((ids, agglomerate_of[1:]))]          # by agglomerate, then id
    sizes = np.bincount(agglomerate_of[1:].astype(np.int64), minlength=n_agglomerates + 1)
    segment_offsets = np.zeros(n_agglomerates + 2, np.uint64)
    segment_offsets[2:] = np.cumsum(sizes[1:])
    local = np.zeros(n + 1, np.int64)
    local[order] = np.arange(n, dtype=np.int64) - segment_offsets[agglomerate_of[order].astype(np.int64)].astype(np.int64)

    edge_list = [(int(u), int(v), _affinity(u, v, d)) for u, v, d in graph.edges(data=True)]
    ends = np.array([(u, v) for u, v, _ in edge_list], np.int64).reshape(-1, 2)
    affinities = np.array([a for _, _, a in edge_list], np.float32)
    pairs = np.sort(local[ends], axis=1)
    edge_agglomerate = agglomerate_of[ends[:, 0]].astype(np.int64)
    edge_order = np.lexsort((pairs[:, 1], pairs[:, 0], edge_agglomerate))
    edge_offsets = np.zeros(n_agglomerates + 2, np.uint64)
    edge_offsets[2:] = np.cumsum(np.bincount(edge_agglomerate, minlength=n_agglomerates + 1)[1:])

    return AgglomerateArrays(
        segment_to_agglomerate=agglomerate_of,
        agglomerate_to_segments_offsets=segment_offsets,
        agglomerate_to_segments=order.astype(dtype),
        agglomerate_to_positions=positions_by_id[order],
        agglomerate_to_edges_offsets=edge_offsets,
        agglomerate_to_edges=pairs[edge_order].astype(dtype),
        agglomerate_to_affinities=affinities[edge_order],
    )


def _offsets(values: np.ndarray, total: int, name: str, where: str) -> np.ndarray:
    """Checked CSR offsets: start 0, 0 (agglomerate 0 is empty), never decrease, end at `total`."""
    if values.size < 2:
        raise CorruptFileError(f"{where}/{name}: fewer than 2 offsets")
    if values.dtype.kind == "i" and values.min() < 0:
        raise CorruptFileError(f"{where}/{name}: a negative offset")
    v = values.astype(np.uint64)
    if v[0] != 0 or v[1] != 0 or np.any(v[1:] < v[:-1]) or int(v[-1]) != total:
        raise CorruptFileError(f"{where}/{name}: offsets must start 0, 0, never decrease and end at {total}")
    return v.astype(np.int64)


def arrays_to_graph(arrays: AgglomerateArrays, where: str = "<agglomerate file>") -> AgglomerateGraph:
    """The graph an agglomerate file describes (nodes in file order, as webknossos 4.3.3).

    Raises
    ------
    CorruptFileError
        Offsets that do not fit the arrays, segment ids that are 0 or repeated, or edge
        indices beyond their agglomerate; the message names `where` and the array.
    """
    segments = arrays.agglomerate_to_segments.astype(np.uint64)
    n = segments.shape[0]
    seg_off = _offsets(arrays.agglomerate_to_segments_offsets, n, "agglomerate_to_segments_offsets", where)
    edges = arrays.agglomerate_to_edges
    n_edges = edges.shape[0]
    edge_off = _offsets(arrays.agglomerate_to_edges_offsets, n_edges, "agglomerate_to_edges_offsets", where)
    if n and (segments.min() == 0 or np.unique(segments).size != n):
        raise CorruptFileError(f"{where}/agglomerate_to_segments: segment ids must be >= 1 and listed once")
    sizes = np.diff(seg_off)                                   # per agglomerate 0..A
    edge_agglomerate = np.repeat(np.arange(sizes.size, dtype=np.int64), np.diff(edge_off))
    if edges.dtype.kind == "i" and n_edges and edges.min() < 0:
        raise CorruptFileError(f"{where}/agglomerate_to_edges: a negative index")
    local = edges.astype(np.uint64).astype(np.int64) if n_edges else np.zeros((0, 2), np.int64)
    if n_edges and np.any(local >= sizes[edge_agglomerate][:, None]):
        raise CorruptFileError(f"{where}/agglomerate_to_edges: an index beyond its agglomerate's segments")
    ends = segments[seg_off[edge_agglomerate][:, None] + local] if n_edges else np.zeros((0, 2), np.uint64)

    graph = AgglomerateGraph()
    positions = arrays.agglomerate_to_positions
    graph.add_nodes_from((int(s), {"position": Vec3Int(p)}) for s, p in zip(segments.tolist(), positions.tolist()))
    graph.add_edges_from((u, v, {"affinity": a}) for (u, v), a in
                         zip(ends.tolist(), arrays.agglomerate_to_affinities.astype(np.float64).tolist()))
    return graph
