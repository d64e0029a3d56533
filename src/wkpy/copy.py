"""Copying data between mags, layers and datasets, shard by shard on an executor."""

from __future__ import annotations

import copy
import os
from concurrent.futures import Executor
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wkpy._urls import as_location
from wkpy.attachments import copy_attachments
from wkpy.errors import InvalidRequestError, UnsupportedError
from wkpy.executor import map_on_executor
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, Vec3Int, Vec3IntLike
from wkpy.properties import LayerProperties, MagProperties, element_class_for
from wkpy.storage import Array, open_array
from wkpy.storage._positions import ArrayAt, Box, shards_by_position
from wkpy.dataset.layer.view.view import box_in_mag

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer
    from wkpy.dataset.layer.view.mag_view import MagView

__all__ = ["carry_over_metadata", "check_format_holds_axes", "copy_mag_data", "copy_layer", "foreign_layer_of", "foreign_mag_of", "register_existing_layer", "run_per_shard"]


def _copy_box(job: tuple[Array, Array, tuple[int, ...], tuple[int, ...], tuple[int, ...]]) -> None:
    """One task: copy a box (mag voxels; x, y, z and any additional axes) from one array to
    another, from `src` to `dst`; all-zero boxes are skipped."""
    source, target, src, dst, shape = job
    data = source.read(src, shape)
    if data.any():
        target.write(dst, data)


def _extra_bounds(source: MagView, target: Array, layer: Layer) -> list[tuple[int, int]]:
    """[start, end) along each additional axis of `source` (in its array's order), from the
    ``additionalAxes`` of `layer`; [] for 3-D data.

    Raises
    ------
    UnsupportedError
        `target` does not have the additional axes of `source`, in the same order.
    """
    extra = source._array.info.extra_axes
    if target.info.extra_axes != extra:
        raise UnsupportedError(f"cannot copy {source.path} with the additional axes {extra} into an array with "
                               f"the additional axes {target.info.extra_axes}")
    bounds = {a.name: a.bounds for a in layer._properties.additional_axes}
    return [tuple(bounds.get(a, (0, 0))) for a in extra]  # type: ignore[misc]


def copy_mag_data(source: MagView, target: Array, executor: Executor | None, progress_desc: str | None = None,
                  *, region: BoundingBox | None = None, to: Vec3Int | None = None,
                  extra_region: list[tuple[int, int]] | None = None, extra_to: tuple[int, ...] | None = None) -> None:
    """Copy the data of `source` inside `region` into `target`, one target shard per task.

    `region` is a box in the source mag's voxels (default: the layer's box); it lands at
    `to` in `target` (default: where it is, so the copy keeps its coordinates). Only
    target shards that overlap a source shard on disk are visited, and no two tasks
    write the same target shard, so any executor can run them in parallel. In an n-d layer
    each task copies one position along the additional axes (where webknossos' arrays
    have shards of 1): those in `extra_region` ([start, end) along each additional axis,
    in the array's order; default the layer's ``additionalAxes`` bounds), which land
    from `extra_to` on (default: where they are).

    Raises
    ------
    UnsupportedError
        The source has additional axes that the target does not have in the same order.
    """
    if region is None:
        region = box_in_mag(BoundingBox.from_ndbbox(source.bounding_box), source.mag, allow_empty=True)
    if region.is_empty():
        return
    shift = Vec3Int(0, 0, 0) if to is None else Vec3Int(to) - region.topleft
    bounds = _extra_bounds(source, target, source.layer)       # (checks that the axes agree)
    if extra_region is not None:
        bounds = [(int(lo), int(hi)) for lo, hi in extra_region]
    moved = [0] * len(bounds) if extra_to is None else [t - lo for t, (lo, _) in zip(extra_to, bounds)]
    shard = Vec3Int(target.info.shard_shape)
    wanted: set[tuple[int, ...]] = set()
    for position, shards in shards_by_position(source._array.list_shards(), bounds).items():
        for offset, shape in shards:
            on_disk = BoundingBox(offset, shape).intersected_with(region, dont_assert=True)
            if on_disk.is_empty():
                continue
            on_disk = on_disk.offset(shift)
            first, last = on_disk.topleft // shard, (on_disk.bottomright - 1) // shard
            for k in range(first.z, last.z + 1):
                for j in range(first.y, last.y + 1):
                    for i in range(first.x, last.x + 1):
                        wanted.add((k, j, i, *position))
    placed = region.offset(shift)
    jobs = []
    for k, j, i, *e in sorted(wanted):
        box = BoundingBox(Vec3Int(i, j, k) * shard, shard).intersected_with(placed, dont_assert=True)
        if not box.is_empty():
            ones = (1,) * len(e)
            there = tuple(p + m for p, m in zip(e, moved))
            jobs.append((source._array, target, (*(box.topleft - shift), *e), (*box.topleft, *there),
                         (*box.size, *ones)))
    map_on_executor(_copy_box, jobs, executor, progress_desc)


def run_per_shard(
    task: Callable[[Any], None], source: MagView, target: MagView, layer_box: NDBoundingBox,
    executor: Executor | None, job: Callable[[Box, Array, Array, list[Box]], Any], progress_desc: str | None = None,
    box_shape: Vec3Int | None = None,
) -> None:
    """Run `task(job(box, source_array, target_array, shards))` for the boxes (target-mag
    voxels) of a grid over the x, y, z of `layer_box` (mag 1) whose data comes from
    `source`: the target's shards, or `box_shape`-sized boxes (a multiple of the shard
    shape), so no two tasks write one target shard. `shards` are the source shards on disk
    ((offset, shape) in source-mag voxels along x, y, z).

    Only the target shards whose mag-1 region overlaps a shard of `source` on disk are
    visited (the others would read nothing but zeros and write nothing): each box is cut
    down to the target shards with data, so work and memory follow the data that exists,
    not the size the properties file claims for the layer.

    In an n-d layer the grid is visited once per position along the additional axes
    that holds data in `source` (inside the target layer's ``additionalAxes`` bounds),
    with `source_array` and `target_array` the faces at that position (`ArrayAt`): 3-D
    work runs per position, as webknossos 4.3.3 runs it.

    Raises
    ------
    UnsupportedError
        `source` and `target` do not have the same additional axes.
    """
    layer_box = BoundingBox.from_ndbbox(layer_box)
    region = box_in_mag(layer_box.align_with_mag(target.mag, ceil=True), target.mag, allow_empty=True)
    if region.is_empty():
        return
    bounds = _extra_bounds(source, target._array, target.layer)
    shard = Vec3Int(target.info.shard_shape)
    cell = box_shape or shard
    jobs: list[Any] = []
    for position, shards in sorted(shards_by_position(source._array.list_shards(), bounds).items()):
        src: Array = ArrayAt(source._array, position) if position else source._array
        dst: Array = ArrayAt(target._array, position) if position else target._array
        boxes = _boxes_with_data(shards, source.mag, target.mag, region, shard, cell)
        jobs.extend(job((tuple(box.topleft), tuple(box.size)), src, dst, shards)
                    for _, box in sorted(boxes.items(), key=lambda item: (item[0].z, item[0].y, item[0].x)))
    map_on_executor(task, jobs, executor, progress_desc)


def _boxes_with_data(shards: list[Box], source_mag: Mag, target_mag: Mag, region: BoundingBox, shard: Vec3Int,
                     cell: Vec3Int) -> dict[Vec3Int, BoundingBox]:
    """For each grid cell (`cell`-sized, in `target_mag` voxels) with data: the part of it,
    inside `region`, made of the target shards that overlap one of `shards` (source shards
    on disk, in `source_mag` voxels along x, y, z).

    There are as many entries as such source shards, times a few; each box's borders lie
    on the shard grid or on `region`'s border, so two boxes never share a target shard.
    """
    scale = target_mag.to_vec3_int()
    out: dict[Vec3Int, BoundingBox] = {}
    for offset, shape in shards:
        mag1 = BoundingBox(offset, shape).from_mag_to_mag1(source_mag)
        lo = mag1.topleft // scale                        # target voxels the source shard feeds
        hi = -((-mag1.bottomright) // scale)
        touched = BoundingBox(lo, hi - lo).intersected_with(region, dont_assert=True)
        if touched.is_empty():
            continue
        touched = touched.align_with_mag(shard, ceil=True).intersected_with(region, dont_assert=True)
        first, last = touched.topleft // cell, (touched.bottomright - 1) // cell
        for k in range(first.z, last.z + 1):
            for j in range(first.y, last.y + 1):
                for i in range(first.x, last.x + 1):
                    index = Vec3Int(i, j, k)
                    part = BoundingBox(index * cell, cell).intersected_with(touched, dont_assert=True)
                    if part.is_empty():
                        continue
                    out[index] = out[index].extended_by(part) if index in out else part
    return out


def foreign_mag_of(mag: MagView | str | os.PathLike[str]) -> MagView:
    """A `MagView`, given one or the path of a mag folder inside a dataset's layer."""
    from wkpy.dataset.layer.view.mag_view import MagView

    if isinstance(mag, MagView):
        return mag
    path = as_location(mag)
    return foreign_layer_of(path.parent).get_mag(path.name)


def foreign_layer_of(layer: Layer | str | os.PathLike[str]) -> Layer:
    """A `Layer`, given one or the path of a layer folder inside a dataset."""
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer

    if isinstance(layer, Layer):
        return layer
    path = as_location(layer)
    return Dataset.open(path.parent).get_layer(path.name)


def copy_layer(
    source: Layer,
    dataset: Dataset,
    new_layer_name: str | None,
    *,
    chunk_shape: Vec3IntLike | int | None = None,
    shard_shape: Vec3IntLike | int | None = None,
    chunks_per_shard: Vec3IntLike | int | None = None,
    compress: Any = None,
    data_format: str | None = None,
    exists_ok: bool = False,
    executor: Executor | None = None,
    with_attachments: bool = True,
) -> Layer:
    """Copy `source` (metadata, every mag, attachments) into a new layer of `dataset`, or
    with `exists_ok` into the layer of that name; see `Dataset.add_layer_as_copy`.

    A new layer is built whole out of sight and listed with all its mags and attachments
    in one step (`wkpy.dataset._staged_layer`): a failure or kill never leaves a
    half-copied layer listed."""
    from wkpy._layer_args import check_layer_name
    from wkpy.dataset._staged_layer import add_staged_layer
    from wkpy.errors import DuplicateError

    check_format_holds_axes(source._properties, data_format or source.data_format)
    name = check_layer_name(new_layer_name or source.name)
    copy_args: dict[str, Any] = dict(chunk_shape=chunk_shape, shard_shape=shard_shape,
                                     chunks_per_shard=chunks_per_shard, compress=compress, executor=executor,
                                     with_attachments=with_attachments)
    if not (exists_ok and name in dataset.layers):
        if name in dataset.layers:
            raise DuplicateError(f"cannot copy {source!r}: dataset {dataset.path} has a layer {name!r} already")
        return add_staged_layer(dataset, name, lambda staging: _fill_layer(source, staging, name, data_format,
                                                                           False, **copy_args))
    return _fill_layer(source, dataset, name, data_format, exists_ok, **copy_args)


def _fill_layer(source: Layer, dataset: Dataset, name: str, data_format: str | None, exists_ok: bool, *,
                chunk_shape: Vec3IntLike | int | None, shard_shape: Vec3IntLike | int | None,
                chunks_per_shard: Vec3IntLike | int | None, compress: Any, executor: Executor | None,
                with_attachments: bool) -> Layer:
    """Add (or with `exists_ok` get) the layer `name` of `dataset` and copy `source` into it."""
    args = dict(dtype=source.dtype, num_channels=source.num_channels, data_format=data_format or source.data_format,
                bounding_box=source._properties.bounding_box, largest_segment_id=getattr(source, "largest_segment_id", None))
    if exists_ok:
        new = dataset.get_or_add_layer(name, source.category, **args)  # type: ignore[arg-type]
    else:
        new = dataset.add_layer(name, source.category, **args)  # type: ignore[arg-type]
    dataset._update_layer(new.name, carry_over_metadata(source._properties))
    for mag, view in source.mags.items():
        new.add_mag_as_copy(view, extend_layer_bounding_box=False, chunk_shape=chunk_shape, shard_shape=shard_shape,
                            chunks_per_shard=chunks_per_shard, compress=compress, exists_ok=exists_ok,
                            executor=executor, progress_desc=f"copying {source.name}/{mag.to_layer_name()}")
    if with_attachments:
        copy_attachments(source, new)
    return new


def carry_over_metadata(source: LayerProperties) -> Callable[[LayerProperties], None]:
    """A change that gives a new layer the metadata of `source` that its data does not
    determine: ``defaultViewConfiguration``, ``coordinateTransformations``, ``mappings``,
    the axes (``additionalAxes``, ``axisOrder``) and keys wkpy does not know. Not the
    attachments: copies list their own. Call it before the new layer gets mags."""
    extra = {k: copy.deepcopy(v) for k, v in source.extra.items() if k != "attachments"}
    view = copy.deepcopy(source.default_view_configuration)
    axes, order = list(source.additional_axes), dict(source.axis_order or {})

    def carry_over(p: LayerProperties) -> None:
        p.extra.update(copy.deepcopy(extra))
        if view is not None:
            p.default_view_configuration = copy.deepcopy(view)
        if axes:
            p.additional_axes, p.axis_order = list(axes), dict(order)
            for m in p.mags:
                m.axis_order = dict(order)

    return carry_over


def check_format_holds_axes(source: LayerProperties, data_format: str) -> None:
    """Refuse to give a layer of `data_format` the additional axes of `source` (WKW has none).

    Raises
    ------
    UnsupportedError
        `source` has additional axes and `data_format` is ``"wkw"``.
    """
    if source.additional_axes and data_format == "wkw":
        names = [a.name for a in source.additional_axes]
        raise UnsupportedError(f"layer {source.name!r} has the additional axes {names}, which a {data_format} layer "
                               "cannot hold; use data_format='zarr3' or 'zarr'")


def register_existing_layer(
    dataset: Dataset, layer_name: str, category: str, data_format: str, **kwargs: Any
) -> Layer:
    """Add a layer whose folder already holds mag folders; the box comes from files on disk."""
    folder = dataset.path / layer_name
    if not folder.is_dir():
        raise InvalidRequestError(f"{folder} is not a folder")
    mags: list[tuple[Mag, Array]] = []
    for child in sorted(folder.iterdir()):
        try:
            mag = Mag(child.name)
        except (ValueError, TypeError):
            continue
        mags.append((mag, open_array(child, data_format)))
    if not mags:
        raise InvalidRequestError(f"{folder} holds no mag folders")
    info = mags[0][1].info
    box = kwargs.pop("bounding_box", None)
    if box is None:
        box = BoundingBox((0, 0, 0), (0, 0, 0))
        for mag, array in mags:
            for offset, shape in array.list_shards():
                box = box.extended_by(BoundingBox(offset[:3], shape[:3]).from_mag_to_mag1(mag))
    if kwargs:
        raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
    props = LayerProperties(
        name=layer_name, category=category, bounding_box=box,
        element_class=element_class_for(info.dtype, info.num_channels), data_format=data_format,
        num_channels=info.num_channels,
        mags=[MagProperties(mag=m, path=f"./{layer_name}/{m.to_layer_name()}" if (folder / m.to_layer_name()).exists()
                            else f"./{layer_name}/{m.to_long_layer_name()}",
                            cube_length=a.info.shard_shape[0] if data_format == "wkw" else None)
              for m, a in mags],
    )
    return dataset._register_layer(props)
