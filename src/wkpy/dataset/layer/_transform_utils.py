"""Resampling one layer into another through a coordinate transform (nearest neighbour).

The names and results follow ``webknossos.dataset.layer._transform_utils`` (webknossos
4.3.3): for every output voxel the inverse transform gives a mag-1 position in the input
layer, whose nearest voxel is copied (ties round up, positions usable up to the last
sample position per axis — the conventions of ``scipy.ndimage.affine_transform`` with
``order=0, mode="constant"``). The inverse transform runs on whole (N, 3) coordinate
arrays; the per-voxel part (bounds, rounding, mask, copy) is the `wkcore._sample` kernel,
which runs with the GIL released.

The output is processed one chunk of whole output shards per task on the executor (so
tasks never share a shard), each chunk in tiles of `buffer_shape` voxels on the cores.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np

from wkcore import _sample
from wkpy.errors import DataMismatchError, InvalidRequestError, MissingLayerError
from wkpy.executor import map_on_executor, run_tasks
from wkpy.geometry import BoundingBox, Mag, MagLike, Vec3Int, Vec3IntLike

if TYPE_CHECKING:
    from wkpy.dataset.layer.layer import Layer
    from wkpy.dataset.layer.view.mag_view import MagView
    from wkpy.dataset.layer.view.view import View

__all__ = ["AbstractTransform", "AffineTransform", "TransformFunction", "determine_transform_buffer_shape",
           "transform"]

TransformFunction = Callable[[np.ndarray], np.ndarray]
"""Maps an (N, 3) float64 array of mag-1 positions to another; NaN rows have no source."""


def determine_transform_buffer_shape(input_chunk_shape: Vec3IntLike) -> Vec3Int:
    """The default tile (voxels of the transformed mag): about 128³ voxels, rounded up to a
    multiple of the input's chunk shape (reads decompress whole chunks anyway).

    webknossos 4.3.3 uses about 256³; the tile only bounds the memory of a task (about
    100 bytes per tile voxel), it never changes the result.
    """
    chunk = Vec3Int(input_chunk_shape)
    return chunk * Vec3Int.full(128).ceildiv(chunk).pairmax(1)


class AbstractTransform(ABC):
    """A coordinate transform of (N, 3) arrays of mag-1 positions, with its inverse.

    Subclasses implement `apply` (input → output positions) and `inverse`; `transform`
    uses the inverse to find, for each output voxel, its position in the input layer.
    Instances must pickle to run on process executors.
    """

    @abstractmethod
    def apply(self, points: np.ndarray) -> np.ndarray:
        """The forward transform of an (N, 3) array of points."""

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return self.apply(points)

    @abstractmethod
    def inverse(self) -> AbstractTransform:
        """The inverse transform."""

    def transform_bbox(self, bbox: BoundingBox) -> BoundingBox:
        """The smallest box (whole voxels) around the eight transformed corners of `bbox`."""
        lo, hi = bbox.topleft, bbox.bottomright
        corners = np.array([(x, y, z) for x in (lo.x, hi.x) for y in (lo.y, hi.y) for z in (lo.z, hi.z)],
                           dtype=np.float64)
        moved = np.asarray(self(corners), dtype=np.float64)
        topleft = np.floor(moved.min(axis=0)).astype(np.int64)
        bottomright = np.ceil(moved.max(axis=0)).astype(np.int64)
        return BoundingBox(tuple(int(v) for v in topleft), tuple(int(v) for v in bottomright - topleft))


class AffineTransform(AbstractTransform):
    """A 4×4 homogeneous affine matrix applied to (N, 3) point arrays: ``p ↦ M[:3, :3]·p +
    M[:3, 3]``.

    Raises
    ------
    InvalidRequestError
        The matrix is not 4×4 (also a `ValueError`, as in webknossos).
    """

    def __init__(self, matrix: np.ndarray) -> None:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (4, 4):
            raise InvalidRequestError(f"the affine matrix must have shape (4, 4), got {matrix.shape}")
        self.matrix = matrix

    def __repr__(self) -> str:
        return f"AffineTransform({self.matrix.tolist()!r})"

    def apply(self, points: np.ndarray) -> np.ndarray:
        return points @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def inverse(self) -> AffineTransform:
        return AffineTransform(np.linalg.inv(self.matrix))


def _tile_coordinates(tile: BoundingBox, mag: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The mag-1 positions of a tile's voxels as an (N, 3) float64 array (x slowest, z
    fastest, as ``np.meshgrid(..., indexing="ij")`` flattened) and the tile's shape."""
    axes = [np.arange(tile.topleft[a], tile.bottomright[a], mag[a], dtype=np.float64) for a in range(3)]
    nx, ny, nz = (len(a) for a in axes)
    coords = np.empty((nx * ny * nz, 3), np.float64)
    coords[:, 0] = np.repeat(axes[0], ny * nz)
    coords[:, 1] = np.tile(np.repeat(axes[1], nz), nx)
    coords[:, 2] = np.tile(axes[2], nx * ny)
    return coords, (nx, ny, nz)


def _transform_tile(
    tile: BoundingBox,
    output_data: np.ndarray,
    chunk_topleft: Vec3Int,
    input_mag_view: MagView,
    input_mask_mag_view: MagView | None,
    inverse_transform: TransformFunction,
    translation: Vec3Int,
    input_bbox: BoundingBox,
    mag: Mag,
) -> None:
    """Fill the part of `output_data` (the whole chunk's buffer) that `tile` covers."""
    mag_np = np.array(mag.to_list(), dtype=np.float64)
    coords, shape = _tile_coordinates(tile, mag_np)
    found = inverse_transform(coords - np.array(translation.to_list(), dtype=np.float64))
    coords = np.ascontiguousarray(found, dtype=np.float64)
    if coords.shape != (len(found), 3) or len(coords) != shape[0] * shape[1] * shape[2]:
        raise DataMismatchError(f"the inverse transform returned an array of shape {np.shape(found)} for "
                                f"{shape[0] * shape[1] * shape[2]} points; it must keep the (N, 3) shape")
    lo = np.array(input_bbox.topleft.to_list(), dtype=np.float64)
    hi = np.array(input_bbox.bottomright.to_list(), dtype=np.float64) - mag_np
    count, mins, maxs = _sample.coordinate_extent(coords, lo, hi)
    if count == 0:
        return                          # nothing maps into this tile: it keeps its values
    # the box read holds every sampled voxel: floor of the smallest position, and the
    # largest plus two voxels (as webknossos reads it)
    topleft = np.floor(np.array(mins)).astype(np.int64)
    size = np.round(np.array(maxs) + 2 * mag_np - topleft).astype(np.int64)
    read_box = BoundingBox(tuple(int(v) for v in topleft), tuple(int(v) for v in size)).align_with_mag(mag, ceil=True)
    input_data = input_mag_view.read(absolute_bounding_box=read_box)
    mask = None
    if input_mask_mag_view is not None:
        mask = np.ascontiguousarray((input_mask_mag_view.read(absolute_bounding_box=read_box) > 0).all(axis=0),
                                    dtype=np.uint8)
    offset = (tile.topleft - chunk_topleft) // mag.to_vec3_int()
    _sample.sample_nearest(input_data, coords, lo, hi, read_box.topleft.to_list(), mag_np, mask, output_data,
                           tuple(offset), shape)


def _transform_chunk_job(
    args: tuple[View, int],
    input_mag_view: MagView,
    input_mask_mag_view: MagView | None,
    inverse_transform: TransformFunction,
    translation: Vec3Int,
    input_bbox: BoundingBox,
    mag: Mag,
    buffer_shape: Vec3Int,
    fill_value: float | None,
) -> None:
    """One task: transform one output chunk (whole shards), tile by tile, write it once."""
    output_view, _ = args
    chunk = output_view.bounding_box
    if fill_value is None:
        output_data = output_view.read()        # voxels without a source keep their values
    else:
        shape = chunk.in_mag(mag).size
        output_data = np.full((input_mag_view.num_channels, *shape), fill_value, dtype=input_mag_view.get_dtype())
    step = buffer_shape * mag.to_vec3_int()
    run_tasks(functools.partial(_transform_tile, tile, output_data, chunk.topleft, input_mag_view,
                                input_mask_mag_view, inverse_transform, translation, input_bbox, mag)
              for tile in chunk.chunk(step, step))
    output_view.write(output_data)


def transform(
    input_layer: Layer,
    output_layer: Layer,
    transform: AbstractTransform | None = None,
    *,
    inverse_transform: TransformFunction | None = None,
    mag: MagLike | None = None,
    output_bbox: BoundingBox | None = None,
    fill_value: float | None = None,
    input_mask_layer: Layer | None = None,
    translate_to_positive: bool = False,
    chunk_shape: Vec3IntLike | None = None,
    buffer_shape: Vec3IntLike | int | None = None,
    executor: Executor | None = None,
    progress_desc: str | None = None,
) -> BoundingBox:
    """Resample `input_layer` into `output_layer` through a coordinate transform, as
    webknossos 4.3.3 (nearest neighbour, no interpolation).

    Give exactly one of `transform` (a forward `AbstractTransform`, e.g. `AffineTransform`,
    inverted with its `inverse`) and `inverse_transform` (any callable mapping an (N, 3)
    float64 array of output positions to input positions, both mag 1; NaN rows have no
    source; it must pickle for process executors).

    Parameters
    ----------
    mag : the mag to transform; default: the input's finest. It is created in the output
        layer (with the input mag's chunk and shard shape) if missing.
    output_bbox : mag-1 box of the output to fill; default: the input's box moved by
        `transform`, or the output layer's box with `inverse_transform`. It is rounded
        out to `mag`, and the output layer's box grows to cover it.
    fill_value : value of output voxels without a source (outside the input's box, NaN,
        masked out); None keeps what the output held there.
    input_mask_layer : only input voxels where this layer (same geometry, with `mag`) is
        above 0 in every channel are copied.
    translate_to_positive : shift an output box with a negative corner to the origin (the
        inverse transform still gets the unshifted positions); otherwise that is an error.
    chunk_shape : mag-1 shape processed per task, a multiple of the output shard (in mag
        1); default: one shard.
    buffer_shape : tile (voxels of `mag`) processed at once inside a task; it bounds the
        memory (about 100 bytes per tile voxel), never the result.

    Returns
    -------
    BoundingBox
        The mag-1 box written (rounded out to `mag`, after any translation).

    Raises
    ------
    InvalidRequestError
        Neither or both transforms; an empty input or output box; a negative output box
        without `translate_to_positive`; a bad `chunk_shape` (all also `ValueError`).
    DataMismatchError
        The layers' dtypes or channel counts differ (a `ValueError`).
    MissingLayerError
        `mag` is missing in the input or mask layer (a `KeyError`).
    ReadOnlyError
        The output layer cannot be written.
    """
    output_layer._ensure_writable()
    if (transform is None) == (inverse_transform is None):
        raise InvalidRequestError("Exactly one of `transform` or `inverse_transform` must be provided.")
    if transform is not None:
        inverse_transform = transform.inverse()
    assert inverse_transform is not None
    input_box = input_layer.bounding_box
    if input_box.is_empty():
        raise InvalidRequestError(f"the input layer {input_layer.name!r} has an empty bounding box; write data "
                                  "to it or set its bounding box first")
    if input_layer.dtype != output_layer.dtype:
        raise DataMismatchError(f"the output layer {output_layer.name!r} holds {output_layer.dtype}, the input "
                                f"layer {input_layer.name!r} {input_layer.dtype}")
    if input_layer.num_channels != output_layer.num_channels:
        raise DataMismatchError(f"the output layer {output_layer.name!r} has {output_layer.num_channels} channels, "
                                f"the input layer {input_layer.name!r} {input_layer.num_channels}")
    if mag is None:
        mag = input_layer.get_finest_mag().mag
    mag = Mag(mag)
    if mag not in input_layer.mags:
        raise MissingLayerError(f"cannot transform layer {input_layer.name!r}: it has no mag {mag}")
    if input_mask_layer is not None and mag not in input_mask_layer.mags:
        raise MissingLayerError(f"cannot transform layer {input_layer.name!r}: the mask layer "
                                f"{input_mask_layer.name!r} has no mag {mag}")
    if output_bbox is None:
        output_bbox = transform.transform_bbox(input_box) if transform is not None else output_layer.bounding_box
    if not isinstance(output_bbox, BoundingBox):
        raise InvalidRequestError(f"output_bbox must be a BoundingBox, got {type(output_bbox).__name__}")
    if output_bbox.is_empty():
        raise InvalidRequestError("the output bounding box is empty: pass a non-empty output_bbox or set the "
                                  "bounding box of the output layer")
    if translate_to_positive:
        translation = Vec3Int(tuple(max(-v, 0) for v in output_bbox.topleft))
        output_bbox = output_bbox.offset(translation)
    else:
        translation = Vec3Int.zeros()
        if not output_bbox.topleft.is_positive():
            raise InvalidRequestError(f"the output bounding box {output_bbox} has a negative corner; pass "
                                      "translate_to_positive=True to shift it to the origin")
    output_bbox = output_bbox.align_with_mag(mag, ceil=True)

    output_layer.bounding_box = (output_bbox if output_layer.bounding_box.is_empty()
                                 else output_layer.bounding_box.extended_by(output_bbox))
    input_mag_view = input_layer.get_mag(mag)
    if mag in output_layer.mags:
        output_mag_view = output_layer.get_mag(mag)
        output_mag_view._ensure_writable()
    else:
        output_mag_view = output_layer._initialize_mag_from_other_mag(mag, input_mag_view, compress=True)
    shard_mag1 = Vec3Int(output_mag_view.info.shard_shape) * mag.to_vec3_int()
    if chunk_shape is None:
        chunk = shard_mag1
    else:
        chunk = Vec3Int.from_vec_or_int(chunk_shape)  # type: ignore[arg-type]
        if not chunk.is_positive(strictly_positive=True) or chunk % shard_mag1 != Vec3Int.zeros():
            raise InvalidRequestError(f"chunk_shape {tuple(chunk)} must be a positive multiple of the output "
                                      f"shard shape in mag 1, {tuple(shard_mag1)}")
    tile = (determine_transform_buffer_shape(input_mag_view.info.chunk_shape) if buffer_shape is None
            else Vec3Int.from_vec_or_int(buffer_shape))
    if not tile.is_positive(strictly_positive=True):
        raise InvalidRequestError(f"buffer_shape must be positive, got {tuple(tile)}")

    job = functools.partial(
        _transform_chunk_job,
        input_mag_view=input_mag_view,
        input_mask_mag_view=input_mask_layer.get_mag(mag) if input_mask_layer is not None else None,
        inverse_transform=inverse_transform,
        translation=translation,
        input_bbox=input_box.align_with_mag(mag, ceil=False),
        mag=mag,
        buffer_shape=tile,
        fill_value=fill_value,
    )
    output_view = output_mag_view.get_view(absolute_bounding_box=output_bbox)
    views = list(output_view.chunk(chunk, chunk))
    map_on_executor(job, [(v, i) for i, v in enumerate(views)], executor, progress_desc)
    return output_bbox
