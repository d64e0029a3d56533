"""`Layer` and `SegmentationLayer`: a named set of mags with one bounding box and dtype."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy._paths import ensure_inside, is_inside
from wkpy._urls import is_remote, url_of
from wkpy._trash import move_aside, new_folder_for, remove, swap_in
from wkpy.data_format import DataFormat
from wkpy.dataset.defaults import DEFAULT_CHUNK_SHAPE, DEFAULT_CHUNKS_PER_SHARD_ZARR, DEFAULT_SHARD_SHAPE
from wkpy.dataset.sampling_modes import SamplingModes
from wkpy.errors import (
    DataMismatchError,
    DuplicateError,
    ForeignPathError,
    InvalidRequestError,
    LayerTypeError,
    MissingLayerError,
    OperationError,
    ReadOnlyError,
)
from wkpy.geometry import BoundingBox, Mag, MagLike, NormalizedBoundingBox, Vec3Int, Vec3IntLike
from wkpy.locking import mag_lock_file, new_mag_generation, path_lock
from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.properties import LayerProperties, MagProperties
from wkpy.properties._transforms import CoordinateTransformation
from wkpy.properties._view_configuration import LayerViewConfiguration, layer_view_from_json, view_json_for_setting
from wkpy.storage import METADATA_FILES, Array, ArrayInfo, create_array
from wkpy.storage.zarr3 import Zarr3Config
from wkpy.dataset.layer.view.view import View, box_in_mag
from wkpy.utils import warn_deprecated

if TYPE_CHECKING:
    from wkpy.attachments import Attachments
    from wkpy.dataset.layer.export import LayerExport
    from wkpy.dataset.dataset import Dataset

__all__ = ["Layer", "SegmentationLayer"]



def _power_of_two(shape: Vec3Int, what: str) -> Vec3Int:
    if any(v < 1 or v & (v - 1) for v in shape):
        raise DataMismatchError(f"{what} must be a power of two in each dimension, got {tuple(shape)}")
    return shape


def chunk_and_shard_shape(
    chunk_shape: Vec3IntLike | int | None,
    shard_shape: Vec3IntLike | int | None,
    chunks_per_shard: Vec3IntLike | int | None,
    data_format: str | None = None,
    layer_box: BoundingBox | None = None,
) -> tuple[Vec3Int, Vec3Int]:
    """The chunk and shard shapes of a new mag, with webknossos 4.3.3's defaults and checks.

    Without a shard shape: Zarr (v2) shards are one chunk; a Zarr3 mag added to a layer
    with mags whose box is at most one chunk deep gets flat shards of 128×128×1 chunks;
    else 32³ chunks. `chunks_per_shard` is the deprecated spelling of a shard shape.

    Raises
    ------
    DataMismatchError
        Both `shard_shape` and `chunks_per_shard`; a shard shape that is not a multiple
        of the chunk shape; shapes that are not powers of two (a `ValueError`).
    InvalidRequestError
        Non-cubic shapes for WKW (a `ValueError` and an `AssertionError`, as webknossos asserts).
    """
    from wkpy.dataset.defaults import DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES, DEFAULT_CHUNKS_PER_SHARD_ZARR
    from wkpy.utils import warn_deprecated

    if shard_shape is not None and chunks_per_shard is not None:
        raise DataMismatchError("give shard_shape or chunks_per_shard, not both")
    chunk = DEFAULT_CHUNK_SHAPE if chunk_shape is None else Vec3Int.from_vec_or_int(chunk_shape)
    if shard_shape is not None:
        shard = Vec3Int.from_vec_or_int(shard_shape)
        if shard % chunk != Vec3Int(0, 0, 0):
            raise DataMismatchError(f"shard_shape {tuple(shard)} must be a multiple of chunk_shape {tuple(chunk)}")
    elif chunks_per_shard is not None:
        warn_deprecated("chunks_per_shard", "shard_shape")
        shard = Vec3Int.from_vec_or_int(chunks_per_shard) * chunk
    elif data_format == "zarr":
        shard = chunk * DEFAULT_CHUNKS_PER_SHARD_ZARR
    elif data_format == "zarr3" and layer_box is not None and \
            layer_box.size.z <= chunk.z * DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES.z:
        shard = chunk * DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES
    else:
        shard = DEFAULT_SHARD_SHAPE // DEFAULT_CHUNK_SHAPE * chunk
    _power_of_two(shard, "shard_shape")
    _power_of_two(chunk, "chunk_shape")
    if data_format == "wkw":
        for what, shape in (("chunk_shape", chunk), ("shard_shape", shard)):
            if len(set(shape)) != 1:
                raise InvalidRequestError(f"WKW needs a cubic {what}, got {tuple(shape)}; use data_format='zarr3' "
                                          "for other shapes")
    return chunk, shard


def _rescaled_box(foreign: MagView, mag: Mag) -> BoundingBox:
    """The mag-1 box the data of `foreign` (inside its layer's box) covers when its voxel
    grid is listed as mag `mag` (as is, not resampled)."""
    in_foreign = box_in_mag(foreign.layer._properties.bounding_box.align_with_mag(foreign.mag, ceil=True),
                            foreign.mag, allow_empty=True)
    return in_foreign.from_mag_to_mag1(mag)


class Layer:
    """One layer of a dataset. Do not construct; use `Dataset.add_layer` / `get_layer`."""

    def __init__(self, dataset: Dataset, properties: LayerProperties) -> None:
        self._dataset = dataset
        self._properties = properties
        self._mags: dict[Mag, MagView] = {}
        self._linked: bool | None = None
        self._sync_mags()

    def _sync_mags(self) -> None:
        """Match the mag views to the properties (after they changed, maybe elsewhere)."""
        listed = {m.mag: m for m in self._properties.mags}
        for mag in set(self._mags) - set(listed):
            del self._mags[mag]
        for mag, mag_props in listed.items():
            path = self._resolve_mag_path(mag_props)
            if mag not in self._mags:
                self._mags[mag] = MagView(self, mag, path, read_only=self._dataset.read_only)
            elif self._mags[mag].path != path and not (
                    is_remote(path) and is_remote(self._mags[mag].path) and url_of(path) == url_of(self._mags[mag].path)):
                self._mags[mag]._relocate(path)   # the entry names another folder now (a URL naming the
                # same place keeps the storage options this object was given, see `add_mag_as_ref`)

    # ---- properties -----------------------------------------------------------------
    @property
    def dataset(self) -> Dataset:
        return self._dataset

    @property
    def name(self) -> str:
        """The layer's name; setting it renames the layer (see the setter)."""
        return self._properties.name

    @name.setter
    def name(self, layer_name: str) -> None:
        """Rename the layer: its properties entry, its folder (or link) and the paths of
        its own mags and attachments, as webknossos does. Crash-safe: a crash at any
        instant leaves the layer under the old or the new name, whole (see `wkpy._trash`).

        Raises
        ------
        ReadOnlyError
            The dataset is read-only.
        InvalidRequestError
            An invalid name, or one another layer has (a `ValueError`, as in webknossos).
        """
        from wkpy._layer_args import check_layer_name

        if layer_name == self.name:
            return
        if self._dataset.read_only:
            raise ReadOnlyError(f"layer {self.name!r} of {self._dataset.path} is read-only")
        check_layer_name(layer_name)
        if layer_name in self._dataset.layers:
            raise InvalidRequestError(f"cannot rename layer {self.name!r} to {layer_name!r}: "
                                      f"dataset {self._dataset.path} has a layer {layer_name!r} already")
        self._dataset._rename_layer(self, layer_name)

    @property
    def resolved_path(self) -> Any:
        """The layer's folder with links resolved (for a linked layer: the folder it links
        to; for a remote dataset's layer its path as it is)."""
        if self._dataset._remote:
            return self.path
        return Path(os.path.realpath(self.path))

    @property
    def is_foreign(self) -> bool:
        """Whether the layer's folder lies outside the dataset (a linked layer), as in webknossos."""
        return self.is_linked

    @property
    def is_remote_to_dataset(self) -> bool:
        """Deprecated (as in webknossos 4.3.3): use `is_foreign`."""
        warn_deprecated("is_remote_to_dataset", "is_foreign")
        return self.is_foreign

    def is_mag_view_foreign(self, mag: MagView) -> bool:
        """Whether the files of `mag` (a mag of this layer) lie outside the dataset (a linked
        or referenced mag): read here, never written or deleted."""
        return mag._is_foreign

    @property
    def path(self) -> Any:
        """The layer's folder inside the dataset (may be a symlink); a ``upath.UPath`` for
        a remote dataset."""
        return self._dataset.path / self.name

    @property
    def category(self) -> str:
        return self._properties.category

    @property
    def dtype(self) -> np.dtype:
        """The dtype of one channel (``uint8`` for an RGB layer of ``uint24``)."""
        return self._properties.dtype_per_channel

    @property
    def dtype_per_channel(self) -> np.dtype:
        """Deprecated (as in webknossos 4.3.3): the older name of `dtype`."""
        warn_deprecated("dtype_per_channel", "dtype")
        return self._properties.dtype_per_channel

    @property
    def num_channels(self) -> int:
        assert self._properties.num_channels is not None
        return self._properties.num_channels

    @property
    def data_format(self) -> DataFormat:
        """The layer's storage format (a `str` enum: equal to ``"wkw"``, ``"zarr"`` or ``"zarr3"``)."""
        return DataFormat(self._properties.data_format)

    @property
    def is_linked(self) -> bool:
        """Whether the layer's folder lies outside the dataset (`add_symlink_layer`): such
        a layer is read-only, and deleting it removes only the link."""
        if self._linked is None:
            self._linked = not is_inside(self._dataset.path, self.path)
        return self._linked

    @property
    def read_only(self) -> bool:
        return self._dataset.read_only or self.is_linked

    @property
    def bounding_box(self) -> BoundingBox:
        """The layer's box in mag-1 voxels; setting it saves the properties.

        For an n-d layer (with ``additionalAxes``) an `NDBoundingBox` over the layer's
        axes in array order, as webknossos 4.3.3 gives it (``c`` spanning the channels if
        the arrays have a channel axis); setting one also sets the additional axes' bounds.
        """
        props = self._properties
        return props.nd_bounding_box if props.additional_axes else props.bounding_box

    @bounding_box.setter
    def bounding_box(self, box: BoundingBox) -> None:
        self._ensure_writable()
        self._dataset._update_layer(self.name, lambda p: p.set_nd_bounding_box(box))
        self._fit_arrays_to_box()

    @property
    def normalized_bounding_box(self) -> NormalizedBoundingBox:
        """`bounding_box` with the channel axis made explicit (as webknossos 4.3.3 keeps
        it): ``c`` spanning the channels when the layer's arrays have a channel axis."""
        return self.bounding_box.normalize_axes(self.num_channels)

    def _grow_bounding_box(self, box: BoundingBox) -> None:
        """Extend the box on disk to cover `box` (for n-d layers also an `NDBoundingBox`
        over the layer's axes), merging with growth by other writers."""
        self._ensure_writable()
        if isinstance(box, BoundingBox):
            self._dataset._update_layer(self.name, lambda p: setattr(p, "bounding_box", p.bounding_box.extended_by(box)))
        else:
            self._dataset._update_layer(self.name, lambda p: p.set_nd_bounding_box(p.nd_bounding_box.extended_by(box)))
        self._fit_arrays_to_box()

    def _fit_arrays_to_box(self) -> None:
        """Grow the `shape` in each Zarr mag's `zarr.json` or `.zarray` to cover the layer's
        box, as webknossos does, so that zarr-python and tensorstore read the whole box."""
        if self.data_format not in ("zarr", "zarr3") or self._properties.bounding_box.is_empty():
            return
        for mag, view in self._mags.items():
            if not view._is_foreign:
                view._array.resize(self._array_end(mag))  # type: ignore[attr-defined]

    def _array_end(self, mag: Mag) -> tuple[int, ...]:
        """Where the layer ends in `mag`'s arrays: along x, y, z (the box, in the mag's
        voxels), then along the additional axes in array order (their upper bounds)."""
        end = tuple(box_in_mag(self._properties.bounding_box.align_with_mag(mag, ceil=True), mag).bottomright)
        bounds = {a.name: a.bounds[1] for a in self._properties.additional_axes}
        axes = self._properties.array_axes or ()
        return (*end, *(bounds[a] for a in axes if a in bounds))

    @property
    def default_view_configuration(self) -> LayerViewConfiguration | None:
        """How webknossos shows the layer at first (``defaultViewConfiguration``), or None.

        A copy: assign a changed one back to save it. The setter also takes the JSON
        object (camelCase keys); keys webknossos does not know are kept.
        """
        found = self._properties.default_view_configuration
        return None if found is None else layer_view_from_json(found)

    @default_view_configuration.setter
    def default_view_configuration(self, value: LayerViewConfiguration | dict[str, Any] | None) -> None:
        self._ensure_writable()
        obj = view_json_for_setting(value, LayerViewConfiguration, "Layer.default_view_configuration")
        self._dataset._update_layer(self.name, lambda p: setattr(p, "default_view_configuration", obj))

    @property
    def coordinate_transformations(self) -> tuple[CoordinateTransformation, ...]:
        """The transformations (applied in order) that place the layer in the dataset's
        space; empty if there are none. They change how webknossos renders the layer,
        not the voxels.

        Raises
        ------
        PropertiesError
            The file holds a malformed transformation.
        """
        return tuple(self._properties.coordinate_transformations or ())

    @coordinate_transformations.setter
    def coordinate_transformations(self, value: Sequence[CoordinateTransformation] | None) -> None:
        self._ensure_writable()
        found = list(value or ())
        for t in found:
            if not isinstance(t, CoordinateTransformation):
                raise InvalidRequestError(f"coordinate_transformations takes AffineCoordinateTransformation "
                                          f"and ThinPlateSplineCoordinateTransformation objects, got {t!r}")
        self._dataset._update_layer(self.name, lambda p: setattr(p, "coordinate_transformations", found))

    def _ensure_writable(self) -> None:
        """Raises `ReadOnlyError` (`ForeignPathError` for a linked layer)."""
        if self._dataset.read_only:
            raise ReadOnlyError(f"layer {self.name!r} of {self._dataset.path} is read-only")
        if self.is_linked:
            raise ForeignPathError(f"layer {self.name!r} of {self._dataset.path} is a link to "
                                   f"{os.path.realpath(self.path)}: linked layers are read-only")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.category}, {self.dtype}×{self.num_channels})"

    # ---- mags -----------------------------------------------------------------------
    @property
    def mags(self) -> dict[Mag, MagView]:
        """The mags, finest first."""
        return dict(sorted(self._mags.items()))

    def get_mag(self, mag: MagLike) -> MagView:
        mag = Mag(mag)
        try:
            return self._mags[mag]
        except KeyError:
            raise MissingLayerError(f"layer {self.name!r} has no mag {mag}; it has {sorted(self._mags)}") from None

    def get_finest_mag(self) -> MagView:
        if not self._mags:
            raise MissingLayerError(f"layer {self.name!r} has no mags")
        return self._mags[min(self._mags)]

    def get_or_add_mag(
        self,
        mag: MagLike,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool | str | Zarr3Config | None = None,
    ) -> MagView:
        """The mag `mag`, added (see `add_mag`) if there is none.

        Raises
        ------
        DataMismatchError
            The mag exists with other chunk or shard shapes or compression than given (a
            `ValueError`, as in webknossos).
        """
        mag = Mag(mag)
        if mag not in self._mags:
            return self.add_mag(mag, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                chunks_per_shard=chunks_per_shard, compress=True if compress is None else compress)
        view = self._mags[mag]
        chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, chunks_per_shard, self.data_format)
        info = view.info
        for what, given, wanted, found in (("chunk shape", chunk_shape, chunk, info.chunk_shape),
                                           ("shard shape", shard_shape or chunks_per_shard, shard, info.shard_shape),
                                           ("compression", compress if isinstance(compress, bool) else None,
                                            compress, info.compression)):
            if given is not None and wanted != found:
                raise DataMismatchError(f"Cannot get_or_add_mag: mag {mag} of layer {self.name!r} exists, but its "
                                        f"{what} is {found}, not {wanted}")
        if isinstance(compress, Zarr3Config) and info.zarr3_config is not None and compress != info.zarr3_config:
            raise DataMismatchError(f"Cannot get_or_add_mag: mag {mag} of layer {self.name!r} exists with other "
                                    f"codecs or chunk key encoding ({info.zarr3_config})")
        return view

    def _new_mag_info(self, chunk: Vec3Int, shard: Vec3Int, compress: bool | str | Zarr3Config) -> ArrayInfo:
        """The storage layout of a new mag of this layer."""
        config = compress if isinstance(compress, Zarr3Config) else None
        if config is not None and self.data_format != "zarr3":
            raise DataMismatchError(f"a Zarr3Config needs a zarr3 layer; {self.name!r} is {self.data_format}")
        lz4hc = compress == "lz4hc"
        if lz4hc and self.data_format != "wkw":
            raise DataMismatchError(f"compress='lz4hc' needs a wkw layer; {self.name!r} is {self.data_format}")
        return ArrayInfo(self.data_format, self.dtype, self.num_channels, tuple(chunk), tuple(shard),  # type: ignore[arg-type]
                         True if config or lz4hc else bool(compress), config, lz4hc, self._properties.array_axes)

    def add_mag(
        self,
        mag: MagLike,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool | str | Zarr3Config = True,
    ) -> MagView:
        """Create an empty mag (folder, header, zarr.json or .zarray, properties entry).

        `compress` is a bool (WKW: LZ4, Zarr3: zstd, Zarr: zstd level 5), ``"lz4hc"`` for
        WKW blocks packed with LZ4HC (smaller, much slower to write), or for Zarr3 a
        `Zarr3Config`. Shapes default as in webknossos (see `chunk_and_shard_shape`);
        `chunks_per_shard` is deprecated (`DeprecationWarning`), use `shard_shape`. Zarr
        (v2) mags have no shards: `shard_shape` defaults to `chunk_shape` and must equal
        it, as in webknossos 4.3.3.

        Raises
        ------
        ReadOnlyError
            The dataset is read-only or the layer linked.
        DuplicateError
            The mag exists, or its folder holds unlisted files.
        DataMismatchError
            Shapes that are not powers of two, or a shard shape that is no multiple of the
            chunk shape; a `Zarr3Config` or ``"lz4hc"`` for another format.
        InvalidRequestError
            A Zarr (v2) mag with a shard shape other than its chunk shape; non-cubic
            shapes for WKW.
        """
        self._ensure_writable()
        mag = Mag(mag)
        if mag in self._mags:
            raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
        chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, chunks_per_shard, self.data_format,
                                             self.bounding_box if self._mags else None)
        return self._create_mag(mag, self._new_mag_info(chunk, shard, compress))

    def _create_mag(self, mag: Mag, info: ArrayInfo, fill: Callable[[Array], None] | None = None) -> MagView:
        """Create mag `mag` with layout `info`, filled by `fill(array)` if given, and list it.

        The mag is built under a hidden name and renamed into place once listed: a crash
        never leaves an unlisted mag folder (that would block the next add_mag) nor a
        listed, half-filled one. Its mag lock, held meanwhile, keeps `recover` in other
        processes off it.
        """
        path = ensure_inside(self._dataset.path, self.path / mag.to_layer_name(), "create")
        remote = self._dataset._remote
        if (remote and next(iter(self._dataset._store.list(f"{self.name}/{mag.to_layer_name()}")), None) is not None) \
                or (not remote and path.is_dir() and any(path.iterdir())):
            raise DuplicateError(f"{path} exists and holds files that no mag of layer {self.name!r} lists; "
                                 "move them away or register them with add_layer_for_existing_files")
        entry = MagProperties(mag=mag, path=f"./{self.name}/{mag.to_layer_name()}",
                              cube_length=info.shard_shape[0] if self.data_format == "wkw" else None)

        def add(p: LayerProperties) -> None:
            if p.get_mag(mag) is not None:
                raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
            p.mags.append(entry)

        if remote:
            return self._create_remote_mag(mag, info, fill, path, add)
        path.parent.mkdir(exist_ok=True)   # the mag lock is keyed by the layer folder: it must exist first
        new = new_folder_for(path)
        lock = mag_lock_file(path)
        with path_lock(lock):
            try:
                array = create_array(new, info)
                self._fit_new_array(array, mag)
                if fill is not None:
                    fill(array)
                new_mag_generation(lock)
                self._dataset._update_layer(self.name, add, publish=(new, path))
            except BaseException:
                if os.path.lexists(new):
                    remove(new)
                raise
        return self._mags[mag]

    def _create_remote_mag(self, mag: Mag, info: ArrayInfo, fill: Callable[[Array], None] | None, path: Any,
                           add: Callable[[LayerProperties], None]) -> MagView:
        """`_create_mag` on a remote dataset: there are no folders to rename into place,
        so the mag is built at its final prefix and listed once complete. A crash before
        the listing leaves unlisted objects there (refused by the next `add_mag` of that
        mag, naming them), never a listed, half-filled mag; a failure removes them."""
        try:
            array = create_array(path, info)
            self._fit_new_array(array, mag)
            if fill is not None:
                fill(array)
            self._dataset._update_layer(self.name, add)
        except DuplicateError:
            raise                      # another writer listed the mag meanwhile: its objects stay
        except BaseException:
            with contextlib.suppress(Exception):
                self._dataset._delete_objects(f"{self.name}/{mag.to_layer_name()}")
            raise
        return self._mags[mag]

    def _fit_new_array(self, array: Array, mag: Mag) -> None:
        """As webknossos does: a Zarr mag added to a layer with data starts at the layer's extent."""
        if self.data_format in ("zarr", "zarr3") and not self._properties.bounding_box.is_empty():
            array.resize(self._array_end(mag))  # type: ignore[attr-defined]

    def add_mag_as_copy(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        mag: MagLike | None = None,
        extend_layer_bounding_box: bool = True,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool | str | Zarr3Config | None = None,
        exists_ok: bool = False,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> MagView:
        """Copy a mag of another layer or dataset (a `MagView`, or the path of a mag folder)
        into this layer, as mag `mag` (default: the same mag; the voxel grid is copied as
        it is, not resampled). Unchanged shapes, format and compression copy the layout as
        it is (`_add_fs_copy_mag`); otherwise the data is re-chunked. Work is split per
        target shard on `executor`; the new mag is listed once it is complete.

        With `exists_ok`, an existing mag of the same layout is written into instead.

        Raises
        ------
        ReadOnlyError, DuplicateError
        DataMismatchError
            Another dtype or number of channels than this layer's.
        """
        from wkpy.copy import copy_mag_data, foreign_mag_of

        self._ensure_writable()
        foreign = self._compatible(foreign_mag_of(foreign_mag_view_or_path))
        target_mag = Mag(mag) if mag is not None else foreign.mag
        source_info = foreign.info
        same_shapes = all(given is None or Vec3Int.from_vec_or_int(given) == found for given, found in (
            (chunk_shape, source_info.chunk_shape), (shard_shape, source_info.shard_shape),
            (chunks_per_shard, source_info.chunks_per_shard)))
        if isinstance(compress, Zarr3Config):
            same_compression = compress == source_info.zarr3_config
        else:
            same_compression = compress is None or compress == source_info.compression
        if same_shapes and same_compression and source_info.data_format == self.data_format:
            return self._add_fs_copy_mag(foreign, mag=target_mag, extend_layer_bounding_box=extend_layer_bounding_box,
                                         exists_ok=exists_ok, executor=executor, progress_desc=progress_desc)
        chunk, shard = chunk_and_shard_shape(chunk_shape or source_info.chunk_shape,
                                             None if chunks_per_shard is not None else
                                             shard_shape or source_info.shard_shape,
                                             chunks_per_shard, self.data_format)
        info = self._new_mag_info(chunk, shard, source_info.compression if compress is None else compress)
        return self._copy_into_mag(foreign, target_mag, info, extend_layer_bounding_box, exists_ok, executor,
                                   progress_desc)

    def _copy_into_mag(self, foreign: MagView, mag: Mag, info: ArrayInfo, extend_layer_bounding_box: bool,
                       exists_ok: bool, executor: Executor | None, progress_desc: str | None) -> MagView:
        from wkpy.copy import copy_mag_data

        desc = progress_desc or f"copying {foreign.path}"
        if exists_ok and mag in self._mags:
            target = self.get_or_add_mag(mag, chunk_shape=info.chunk_shape, shard_shape=info.shard_shape,
                                         compress=info.zarr3_config or info.compression)
            target._ensure_writable()
            copy_mag_data(foreign, target._array, executor, desc)
        else:
            target = self._create_mag(mag, info, lambda array: copy_mag_data(foreign, array, executor, desc))
        if extend_layer_bounding_box:
            self._grow_bounding_box(_rescaled_box(foreign, mag))
        return target

    def _add_fs_copy_mag(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        mag: MagLike | None = None,
        extend_layer_bounding_box: bool = True,
        exists_ok: bool = False,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> MagView:
        """Copy a mag keeping its layout (chunk and shard shapes, compression, Zarr3
        codecs). webknossos copies the files; wkpy copies shard by shard through its
        kernels (the same voxels and layout), so shard locks and journals of writers of
        the source are honoured and nothing but mag data is copied. Compressed WKW is
        written as LZ4.

        Raises
        ------
        InvalidRequestError
            The source has another data format than this layer (also an `AssertionError`).
        """
        from wkpy.copy import foreign_mag_of

        self._ensure_writable()
        foreign = self._compatible(foreign_mag_of(foreign_mag_view_or_path))
        target_mag = Mag(mag) if mag is not None else foreign.mag
        source_info = foreign.info
        if source_info.data_format != self.data_format:
            raise InvalidRequestError(f"cannot copy the files of the {source_info.data_format} mag {foreign.path} "
                                      f"into the {self.data_format} layer {self.name!r}")
        if target_mag in self._mags and not exists_ok:
            raise DuplicateError(f"layer {self.name!r} has mag {target_mag} already")
        info = ArrayInfo(source_info.data_format, source_info.dtype, source_info.num_channels,
                         source_info.chunk_shape, source_info.shard_shape, source_info.compression,
                         source_info.zarr3_config, axes=self._properties.array_axes)
        return self._copy_into_mag(foreign, target_mag, info, extend_layer_bounding_box, exists_ok, executor,
                                   progress_desc)

    def add_fs_copy_mag(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        extend_layer_bounding_box: bool = True,
        exists_ok: bool = False,
    ) -> MagView:
        """Deprecated (as in webknossos 4.3.3): `add_mag_as_copy` keeps the layout by itself."""
        warnings.warn("[DEPRECATION] Direct use of `Layer.add_fs_copy_mag` is deprecated, please use "
                      "`Layer.add_mag_as_copy` instead, which keeps the layout when it can",
                      DeprecationWarning, stacklevel=2)
        return self._add_fs_copy_mag(foreign_mag_view_or_path, extend_layer_bounding_box=extend_layer_bounding_box,
                                     exists_ok=exists_ok)

    def add_copy_mag(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        extend_layer_bounding_box: bool = True,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool | None = None,
        exists_ok: bool = False,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> MagView:
        """Deprecated (as in webknossos 4.3.3): use `add_mag_as_copy`."""
        warn_deprecated("add_copy_mag", "add_mag_as_copy")
        return self.add_mag_as_copy(foreign_mag_view_or_path, extend_layer_bounding_box=extend_layer_bounding_box,
                                    chunk_shape=chunk_shape, shard_shape=shard_shape,
                                    chunks_per_shard=chunks_per_shard, compress=compress, exists_ok=exists_ok,
                                    executor=executor, progress_desc=progress_desc)

    def add_symlink_mag(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        make_relative: bool = False,
        extend_layer_bounding_box: bool = True,
    ) -> MagView:
        """Deprecated (as in webknossos 4.3.3; use `add_mag_as_ref`): link a mag folder of
        another layer into this layer (a filesystem symlink)."""
        from wkpy.copy import foreign_mag_of

        self._ensure_writable()
        warnings.warn("Using symlinks is deprecated and will be removed in a future version. Use `add_mag_as_ref` "
                      "instead, which adds the mag as a reference to this layer.", DeprecationWarning, stacklevel=2)
        self._dataset._refuse_remote("add_symlink_mag")
        foreign = self._compatible(foreign_mag_of(foreign_mag_view_or_path))
        if foreign.info.data_format != self.data_format:
            raise DataMismatchError(f"cannot link a {foreign.info.data_format} mag into the {self.data_format} "
                                    f"layer {self.name!r}; copy it instead")
        if foreign.mag in self._mags:
            raise DuplicateError(f"layer {self.name!r} has mag {foreign.mag} already")
        link = ensure_inside(self._dataset.path, self.path / foreign.mag.to_layer_name(), "create")
        target = foreign.path.resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        new = new_folder_for(link)
        new.symlink_to(os.path.relpath(target, self.path.resolve()) if make_relative else target,
                       target_is_directory=True)
        entry = MagProperties(mag=foreign.mag, path=f"./{self.name}/{foreign.mag.to_layer_name()}",
                              cube_length=foreign.info.shard_shape[0] if self.data_format == "wkw" else None)
        try:
            self._dataset._update_layer(self.name, lambda p: p.mags.append(entry), publish=(new, link))
        except BaseException:
            if os.path.lexists(new):
                new.unlink()
            raise
        if extend_layer_bounding_box:
            self._grow_bounding_box(foreign.layer.bounding_box)
        return self._mags[foreign.mag]

    def add_mag_as_ref(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        mag: MagLike | None = None,
        extend_layer_bounding_box: bool = True,
    ) -> MagView:
        """Reference a mag of another dataset: only a properties entry with the mag's path
        (``./…`` inside this dataset, else absolute), no files. The mag is read-only here.
        With `mag`, the foreign voxels are listed under that mag instead (not resampled).

        Raises
        ------
        ReadOnlyError, DuplicateError
        InvalidRequestError
            Data format or dtype differ from this layer's (also an `AssertionError`).
        """
        from wkpy.copy import foreign_mag_of
        from wkpy.utils import dump_path

        self._ensure_writable()
        foreign = foreign_mag_of(foreign_mag_view_or_path)
        mag = Mag(mag) if mag is not None else foreign.mag
        if mag in self._mags:
            raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
        if foreign.layer.data_format != self.data_format or foreign.layer.dtype != self.dtype:
            raise InvalidRequestError(f"mag {foreign.path} is {foreign.layer.data_format} "
                                      f"{foreign.layer.dtype}, layer {self.name!r} {self.data_format} "
                                      f"{self.dtype}")
        cube = foreign.layer._properties.get_mag(foreign.mag)
        entry = MagProperties(mag=mag, path=dump_path(foreign.path, self._dataset.path.resolve()),
                              cube_length=cube.cube_length if cube is not None else None)

        def add(p: LayerProperties) -> None:
            if p.get_mag(mag) is not None:
                raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
            p.mags.append(entry)

        self._dataset._update_layer(self.name, add)
        if is_remote(foreign.path):
            # the URL recorded names the endpoint's host only (as in webknossos 4.3.3); this
            # object keeps reading with the foreign path's storage options (endpoint, keys)
            self._mags[mag]._relocate(foreign.path)
        if extend_layer_bounding_box:
            self._grow_bounding_box(_rescaled_box(foreign, mag))
        return self._mags[mag]

    def add_remote_mag(self, foreign_mag_view_or_path: MagView | str | os.PathLike[str], *,
                       extend_layer_bounding_box: bool = True) -> MagView:
        """Deprecated (as in webknossos 4.3.3): use `add_mag_as_ref`."""
        warn_deprecated("add_remote_mag", "add_mag_as_ref")
        return self.add_mag_as_ref(foreign_mag_view_or_path, extend_layer_bounding_box=extend_layer_bounding_box)

    def add_mag_from_zarrarray(
        self,
        mag: MagLike,
        path: str | os.PathLike[str],
        *,
        move: bool = False,
        extend_layer_bounding_box: bool = True,
    ) -> MagView:
        """Copy (or, with `move`, move) the Zarr v3 array folder at `path` into this layer
        as `mag`, as in webknossos 4.3.3. The array keeps its own chunking and codecs.

        A relative `path` is taken relative to the dataset's folder (as webknossos does).
        The array must hold the layer's voxel type and channel count; a layer that has
        neither mags nor a bounding box yet takes the array's instead. The copy is built
        under a hidden name and renamed into place once the properties list it, so a
        crash never leaves a half-copied mag listed (see `wkpy._trash`). A move renames
        the folder when it lies on the same file system (else it copies, then deletes
        the source).

        With `extend_layer_bounding_box`, the layer's box keeps its top-left and grows
        to at least the array's extent (its shape times the mag, in mag-1 voxels).

        Raises
        ------
        ReadOnlyError, DuplicateError
        InvalidRequestError
            `path` holds no readable Zarr v3 array (also a `ValueError`).
        DataMismatchError
            The layer is not zarr3, or the array's voxel type or channels differ.
        """
        from wkpy.errors import WkError
        from wkpy.properties import element_class_for
        from wkpy.storage.zarr3 import Zarr3Array
        from wkpy.utils import copytree

        self._ensure_writable()
        self._dataset._refuse_remote("add_mag_from_zarrarray")
        mag = Mag(mag)
        source = Path(path) if Path(path).is_absolute() else self._dataset.path / path
        try:
            array = Zarr3Array.open(source)
        except (WkError, OSError) as exc:
            raise InvalidRequestError(f"{source} does not hold a valid Zarr v3 array: {exc}") from exc
        info = array.info
        if self.data_format != "zarr3":
            raise DataMismatchError(f"a Zarr v3 array can only become a mag of a zarr3 layer; "
                                    f"{self.name!r} is {self.data_format}")
        if mag in self._mags:
            raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
        adopt = not self._mags and self.bounding_box.is_empty()
        if not adopt and (info.num_channels, np.dtype(info.dtype)) != (self.num_channels, self.dtype):
            raise DataMismatchError(f"the array {source} holds {info.num_channels}×{info.dtype}, layer "
                                    f"{self.name!r} {self.num_channels}×{self.dtype}")
        target = ensure_inside(self._dataset.path, self.path / mag.to_layer_name(), "create")
        if target.is_dir() and any(target.iterdir()):
            raise DuplicateError(f"{target} exists and holds files that no mag of layer {self.name!r} lists")
        entry = MagProperties(mag=mag, path=f"./{self.name}/{mag.to_layer_name()}")
        extent = Vec3Int(array.shape) * mag.to_vec3_int()

        def add(p: LayerProperties) -> None:      # one save: the mag, its box and voxel type
            if p.get_mag(mag) is not None:
                raise DuplicateError(f"layer {self.name!r} has mag {mag} already")
            if adopt:
                p.num_channels = info.num_channels
                p.element_class = element_class_for(info.dtype, info.num_channels)
            if extend_layer_bounding_box:
                p.bounding_box = p.bounding_box.with_size(p.bounding_box.size.pairmax(extent))
            p.mags.append(entry)

        self.path.mkdir(parents=True, exist_ok=True)
        rename = (move and not source.is_symlink() and os.access(source.parent, os.W_OK | os.X_OK)
                  and os.stat(source).st_dev == os.stat(self.path).st_dev)
        lock = mag_lock_file(target)
        with path_lock(lock):
            if rename:
                # renamed straight into place right after the save: a crash in between
                # leaves the array where it was (and the mag listed but missing)
                new_mag_generation(lock)
                self._dataset._update_layer(self.name, add, publish=(source, target))
            else:
                new = new_folder_for(target)
                try:
                    try:
                        copytree(source, new)
                    except OSError as exc:
                        raise OperationError(f"copying the array {source} into {target} failed: {exc}") from exc
                    new_mag_generation(lock)
                    self._dataset._update_layer(self.name, add, publish=(new, target))
                except BaseException:
                    if os.path.lexists(new):
                        remove(new)
                    raise
        if move and not rename:
            shutil.rmtree(source)
        if extend_layer_bounding_box:
            self._fit_arrays_to_box()
        return self._mags[mag]

    @property
    def export(self) -> LayerExport:
        """Exports of this layer's voxels: ``layer.export.as_ozx(...)``, ``as_tiff_stack``,
        ``as_ome_tiff`` (see `wkpy.dataset.layer.export.LayerExport`), as in webknossos 4.3.3."""
        from wkpy.dataset.layer.export import LayerExport

        return LayerExport(self)

    def as_segmentation_layer(self) -> SegmentationLayer:
        """This layer as a `SegmentationLayer`.

        Raises
        ------
        LayerTypeError
            It is a color layer (also a `TypeError`, as in webknossos).
        """
        if isinstance(self, SegmentationLayer):
            return self
        raise LayerTypeError(f"layer {self.name!r} is a {self.category} layer, not a segmentation layer")

    def _compatible(self, foreign: MagView) -> MagView:
        if (foreign.get_dtype(), foreign.num_channels) != (self.dtype, self.num_channels):
            raise DataMismatchError(f"mag {foreign.path} holds {foreign.num_channels}×{foreign.get_dtype()}, "
                                    f"layer {self.name!r} {self.num_channels}×{self.dtype}")
        return foreign

    def delete_mag(self, mag: MagLike) -> None:
        """Remove a mag: its properties entry and its folder.

        The folder is first renamed to a hidden name (atomic), then the properties are
        saved, then the renamed folder is deleted, all while writers of the mag are held
        off: a crash at any instant leaves the mag listed and whole, or unlisted (see
        `wkpy._trash`). A linked or referenced mag loses only its link and entry; the
        linked data is never touched. On object storage the mag is unlisted first, then
        its objects are deleted (a crash in between leaves unlisted objects).

        Raises
        ------
        ReadOnlyError
            The dataset is read-only, or the layer is linked (`ForeignPathError`).
        OperationError
            The mag is unlisted, but some of its files could not be deleted (named).
        """
        self._ensure_writable()
        view = self.get_mag(mag)
        path = view.path
        if self._dataset._remote:
            self._delete_remote_mag(view)
            return
        own = os.path.lexists(path) and is_inside(self._dataset.path, path.parent) and (
            path.is_symlink() or is_inside(self._dataset.path, path))
        aside: list[Path] = []

        def drop(p: LayerProperties) -> None:
            if own and os.path.lexists(path):
                aside.append(move_aside(path))
            p.mags = [m for m in p.mags if m.mag != view.mag]

        lock = mag_lock_file(path) if own and not path.is_symlink() else None
        with path_lock(lock) if lock is not None else contextlib.nullcontext():
            self._dataset._update_layer(self.name, drop)
            view._array, view._deleted = None, True
            if lock is not None:
                new_mag_generation(lock)      # views opened elsewhere refuse to write now
            for folder in aside:
                remove(folder)

    def _delete_remote_mag(self, view: MagView) -> None:
        """`delete_mag` on a remote dataset: unlist the mag first, then delete its objects
        if they lie in the layer's own prefix (a referenced mag keeps them). A crash in
        between leaves unlisted objects (refused by the next `add_mag` of that mag,
        naming them), never a listed mag with missing data."""
        ds = self._dataset
        root = str(ds.path.path).rstrip("/") + "/"
        key = str(view.path.path)[len(root):] if not view._is_foreign else None
        own = key is not None and key.startswith(f"{self.name}/") and "/" not in key[len(self.name) + 1:]
        ds._update_layer(self.name, lambda p: setattr(p, "mags", [m for m in p.mags if m.mag != view.mag]))
        view._array, view._deleted = None, True
        if own:
            ds._delete_objects(key)  # type: ignore[arg-type]

    def _resolve_mag_path(self, mag_props: MagProperties) -> Any:
        """Where the mag's files lie: a local `Path`, or a ``upath.UPath`` for a URL and for
        the mags of a remote dataset (relative paths resolved against its path)."""
        ds = self._dataset
        if mag_props.path and "://" in mag_props.path:
            from wkpy._urls import resolve_url

            return resolve_url(mag_props.path, ds.path)
        if ds._remote:
            from wkpy._urls import join_url

            if not mag_props.path:                   # the first of webknossos' folder names that exists
                meta = METADATA_FILES.get(self.data_format)
                names = (mag_props.mag.to_layer_name(), mag_props.mag.to_long_layer_name(),
                         str(mag_props.mag.max_dim))
                found = next((n for n in names if meta and ds._store.exists(f"{self.name}/{n}/{meta}")), names[0])
                return self.path / found
            if mag_props.path.startswith("/"):
                return Path(mag_props.path)          # a local folder: read-only here (foreign)
            return join_url(ds.path, mag_props.path)
        if mag_props.path:
            path = Path(mag_props.path)
            if path.is_absolute():
                return path
            if ".." in path.parts:   # e.g. "../<dataset>/color/1": against the dataset's real folder
                return Path(os.path.normpath(os.path.join(os.path.realpath(self._dataset.path), path)))
            return self._dataset.path / path
        for name in (mag_props.mag.to_layer_name(), mag_props.mag.to_long_layer_name(), str(mag_props.mag.max_dim)):
            if (self.path / name).exists():
                return self.path / name
        return self.path / mag_props.mag.to_layer_name()

    def _rechunk_mag(self, view: MagView, chunk_shape: Vec3IntLike | int | None,
                     shard_shape: Vec3IntLike | int | None, compress: bool | str | Zarr3Config | None,
                     executor: Executor | None, keep_layout: bool = False) -> None:
        """Rewrite one mag with new chunk and shard shapes and compression (`keep_layout`:
        the same shapes, compressed): build the new folder beside it, swap the two in one
        atomic step, delete the old one (see `wkpy._trash`). Writers of the mag wait
        meanwhile and then continue in the new layout."""
        from wkpy.copy import copy_mag_data

        if keep_layout and view._is_foreign and view.info.compression:
            return                             # nothing to do, as in webknossos
        view._ensure_writable()

        def new_info() -> ArrayInfo | None:
            view._array = None                 # what is on disk now (maybe rewritten meanwhile)
            old = view.info
            if keep_layout:
                if old.compression:
                    return None
                return ArrayInfo(old.data_format, old.dtype, old.num_channels, old.chunk_shape, old.shard_shape,
                                 True, axes=old.axes)
            chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, None, self.data_format)
            return self._new_mag_info(chunk, shard, True if compress is None else compress)

        if self._dataset._remote:              # no folders to swap: through the properties
            from wkpy.dataset.layer._remote_rechunk import rechunk_remote_mag

            old_info = view.info
            info = new_info()
            if info is None:
                return
            rechunk_remote_mag(self, view, info, executor)
            view._array = None
            self._note_cube_length(view, info, old_info)
            return
        with path_lock(mag_lock_file(view.path)):
            old_info = view.info
            info = new_info()
            if info is None:
                return
            new = new_folder_for(view.path)
            try:
                array = create_array(new, info)
                self._fit_new_array(array, view.mag)
                copy_mag_data(view, array, executor)
                old = swap_in(new, view.path)
            except BaseException:
                if os.path.lexists(new):
                    remove(new)
                raise
            view._array = None
            remove(old)
        self._note_cube_length(view, info, old_info)

    def _note_cube_length(self, view: MagView, info: ArrayInfo, old_info: ArrayInfo) -> None:
        """A rewritten WKW mag with another file size: its ``cubeLength`` follows."""
        if self.data_format == "wkw" and info.shard_shape != old_info.shard_shape:
            def side(p: LayerProperties) -> None:
                entry = p.get_mag(view.mag)
                if entry is not None:
                    entry.cube_length = info.shard_shape[0]

            self._dataset._update_layer(self.name, side)

    def compress(self, executor: Executor | None = None) -> None:
        """Compress every mag of this layer in place (linked and referenced mags are skipped)."""
        for view in self.mags.values():
            if not view._is_foreign:
                self._rechunk_mag(view, None, None, True, executor, keep_layout=True)

    # ---- downsampling --------------------------------------------------------------
    def _dataset_to_align_with(self, align_with_other_layers: bool | Dataset) -> Dataset | None:
        if isinstance(align_with_other_layers, bool):
            return self._dataset if align_with_other_layers else None
        return align_with_other_layers

    def downsample(
        self,
        *,
        from_mag: MagLike | None = None,
        coarsest_mag: MagLike | None = None,
        interpolation_mode: str = "default",
        compress: bool | str | Zarr3Config = True,
        sampling_mode: str | SamplingModes = SamplingModes.ANISOTROPIC,
        align_with_other_layers: bool | Dataset = True,
        buffer_shape: Vec3IntLike | int | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        force_sampling_scheme: bool = False,
        allow_overwrite: bool = False,
        only_setup_mags: bool = False,
        from_mag_view: MagView | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Make coarser mags from `from_mag` up to `coarsest_mag`, as webknossos 4.3.3.

        Parameters
        ----------
        from_mag : the mag to start from; default: the coarsest existing mag.
        coarsest_mag : where to stop; default: `calculate_default_coarsest_mag` of the box.
        interpolation_mode : ``"default"`` (mode filter for segmentation, median
            otherwise), ``"median"``, ``"mode"``, ``"max"``, ``"min"``, ``"nearest"``,
            ``"bilinear"``, ``"bicubic"`` (the last two need scipy), or ``"average"``.
        sampling_mode : ``"anisotropic"`` grows the mags toward cubic physical voxels,
            ``"isotropic"`` doubles every axis, ``"constant_z"`` keeps z. A layer one
            voxel deep is always sampled with ``"constant_z"`` (with a warning).
        align_with_other_layers : reuse the mags of the dataset's other layers (True),
            of another dataset's layers (a `Dataset`), or not (False).
        chunk_shape, shard_shape : of the new mags; default: webknossos' defaults.
        force_sampling_scheme : warn instead of refusing a ladder that repeats a maximum.
        only_setup_mags : create the mags (properties and metadata) without data.
        from_mag_view : read `from_mag` from this mag of another layer or dataset.

        Raises
        ------
        MissingLayerError
            `from_mag` does not exist (a `KeyError`).
        OperationError
            The ladder cannot reach `coarsest_mag`, or repeats a maximum factor without
            `force_sampling_scheme` (a `RuntimeError`).
        InvalidRequestError
            The layer has no mag, or a target mag exists without `allow_overwrite`.
        """
        from wkpy.dataset.layer._downsampling_utils import calculate_default_coarsest_mag, calculate_mags_to_downsample

        if from_mag is None:
            if not self._mags:
                raise InvalidRequestError(f"layer {self.name!r} has no mag to downsample from")
            from_mag = max(self.mags)
        start = Mag(from_mag)
        if from_mag_view is None:
            self.get_mag(start)
        top = Mag(coarsest_mag) if coarsest_mag is not None else calculate_default_coarsest_mag(self._properties.bounding_box.size)
        mode = SamplingModes.parse(sampling_mode)
        if self._properties.bounding_box.size.z == 1 and mode != SamplingModes.CONSTANT_Z:
            warnings.warn("[INFO] The sampling_mode was changed to 'CONSTANT_Z': downsampling 2-D data in z would "
                          "mix in black and darken the images.", stacklevel=2)
            mode = SamplingModes.CONSTANT_Z
        voxel_size = tuple(self._dataset.voxel_size) if mode == SamplingModes.ANISOTROPIC else None
        if mode == SamplingModes.CONSTANT_Z:
            top = Mag((top.x, top.y, start.z))
        ladder = calculate_mags_to_downsample(start, top, self._dataset_to_align_with(align_with_other_layers),
                                              voxel_size)  # type: ignore[arg-type]
        if len({m.max_dim for m in ladder}) != len(ladder):
            message = (f"[INFO] the mag ladder {[m.to_layer_name() for m in ladder]} repeats a maximum factor, "
                       "which WEBKNOSSOS does not support; use another sampling_mode (e.g. isotropic)")
            if not force_sampling_scheme:
                raise OperationError(message + " or force_sampling_scheme=True")
            warnings.warn(message, stacklevel=2)
        views: list[MagView | None] = [from_mag_view] + [None] * (len(ladder) - 1)
        for prev, mag, view in zip([start, *ladder[:-1]], ladder, views):
            self.downsample_mag(prev, mag, interpolation_mode=interpolation_mode, compress=compress,
                                buffer_shape=buffer_shape, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                allow_overwrite=allow_overwrite, only_setup_mag=only_setup_mags,
                                from_mag_view=view, executor=executor)

    def downsample_mag(
        self,
        from_mag: MagLike,
        target_mag: MagLike,
        *,
        interpolation_mode: str = "default",
        compress: bool | str | Zarr3Config = True,
        buffer_shape: Vec3IntLike | int | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        allow_overwrite: bool = False,
        only_setup_mag: bool = False,
        from_mag_view: MagView | None = None,
        executor: Executor | None = None,
    ) -> MagView:
        """Fill `target_mag` from `from_mag` (one step), as webknossos 4.3.3.

        The work is split into boxes of whole target shards (at least 1024³ target
        voxels each), one task per box on `executor`, so no two tasks write one shard;
        each task reduces `buffer_shape` target voxels at a time (default:
        `determine_downsample_buffer_shape`). Voxels outside the layer's box are
        mirrored in from inside it, so the border of the coarser mag is not darkened.
        An n-d layer (with ``additionalAxes``) is downsampled along x, y and z at each
        position along its additional axes, as webknossos 4.3.3 does.

        Raises
        ------
        MissingLayerError
            `from_mag` does not exist (a `KeyError`).
        InvalidRequestError
            `target_mag` is not coarser than `from_mag` in every axis (or not a multiple
            of it), exists without `allow_overwrite`, or `from_mag_view` has another mag
            (all also `ValueError`, as in webknossos).
        UnknownInterpolationModeError
            An unknown `interpolation_mode` (a `KeyError`).
        UnsupportedError
            ``bilinear``/``bicubic`` without scipy installed.
        """
        from wkpy.copy import run_per_shard
        from wkpy.dataset.layer._downsampling_utils import (
            determine_downsample_buffer_shape,
            downsample_job,
            is_zoom_mode,
            job_shape,
            parse_interpolation_mode,
            require_interpolation,
            resampled_mag_shapes,
        )

        self._ensure_writable()
        mode = parse_interpolation_mode(interpolation_mode, self.category)
        start, target_mag = Mag(from_mag), Mag(target_mag)
        if not all(a <= b for a, b in zip(start.to_list(), target_mag.to_list())) or start == target_mag:
            raise InvalidRequestError(f"cannot downsample from {start} to the finer or equal mag {target_mag}")
        if any(t % f for t, f in zip(target_mag.to_list(), start.to_list())):
            raise InvalidRequestError(f"mag {target_mag} is not a multiple of {start}")
        if target_mag in self._mags and not allow_overwrite:
            raise InvalidRequestError(f"mag {target_mag} of layer {self.name!r} exists; pass allow_overwrite=True "
                                      "to overwrite it")
        if from_mag_view is not None:
            if from_mag_view.mag != start:
                raise InvalidRequestError(f"from_mag_view {from_mag_view.mag} was given to downsample, but it does "
                                          f"not match from_mag {start}")
            source = from_mag_view
        else:
            source = self.get_mag(start)
        require_interpolation(mode)
        factors = tuple(t // f for t, f in zip(target_mag.to_list(), start.to_list()))
        chunk, shard = resampled_mag_shapes(self.data_format, self._properties.bounding_box, chunk_shape, shard_shape)
        overwrite = target_mag in self._mags
        if overwrite:
            target = self._mags[target_mag]
            target._ensure_writable()            # never into a linked or referenced mag
        else:
            target = self._initialize_mag_from_other_mag(target_mag, source, compress, chunk, shard)
        if only_setup_mag:
            return target
        valid = box_in_mag(self._properties.bounding_box.align_with_mag(start, ceil=True), start, allow_empty=True)
        tile = tuple(Vec3Int.from_vec_or_int(buffer_shape) if buffer_shape is not None
                     else determine_downsample_buffer_shape(target.info, factors))
        cell = job_shape(target.info.shard_shape)
        region = box_in_mag(self._properties.bounding_box.align_with_mag(target_mag, ceil=True), target_mag, allow_empty=True)

        def job(box: tuple[tuple[int, ...], tuple[int, ...]], src: Array, dst: Array,
                on_disk: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> tuple[Any, ...]:
            if is_zoom_mode(mode):
                # buffers are resampled whole from the box's corner: use webknossos' whole job box
                corner = Vec3Int(box[0]) // cell * cell
                whole = BoundingBox(corner, cell).intersected_with(region)
                box = (tuple(whole.topleft), tuple(whole.size))
            lo = [box[0][a] * factors[a] for a in range(3)]
            hi = [lo[a] + box[1][a] * factors[a] for a in range(3)]
            shards = [(o, n) for o, n in on_disk if all(o[a] < hi[a] and o[a] + n[a] > lo[a] for a in range(3))]
            return (src, dst, box, factors, mode, (tuple(valid.topleft), tuple(valid.size)), tile, overwrite, shards)

        run_per_shard(downsample_job, source, target, self._properties.bounding_box, executor, job,
                      f"downsampling {self.name} to {target_mag.to_layer_name()}", cell)
        return target

    def _initialize_mag_from_other_mag(
        self,
        new_mag_name: MagLike,
        other_mag: MagView,
        compress: bool | str | Zarr3Config,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
    ) -> MagView:
        """Add an empty mag with the chunk and shard shape of `other_mag` unless given."""
        return self.add_mag(new_mag_name, chunk_shape=chunk_shape or Vec3Int(other_mag.info.chunk_shape),
                            shard_shape=shard_shape or Vec3Int(other_mag.info.shard_shape), compress=compress)

    def downsample_mag_list(
        self,
        from_mag: MagLike,
        target_mags: Sequence[MagLike],
        *,
        interpolation_mode: str = "default",
        compress: bool | str | Zarr3Config = True,
        buffer_shape: Vec3IntLike | int | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        allow_overwrite: bool = False,
        only_setup_mags: bool = False,
        executor: Executor | None = None,
    ) -> None:
        """Downsample into each of `target_mags` (sorted axis by axis), each from the one
        before, starting at `from_mag`, as webknossos 4.3.3.

        Raises
        ------
        MissingLayerError
            `from_mag` does not exist (a `KeyError`).
        InvalidRequestError
            Two neighbours of the sorted list are not ordered in every axis (also an
            `AssertionError`, as in webknossos); checked before any mag is made.
        """
        start = Mag(from_mag)
        self.get_mag(start)
        mags = sorted((Mag(m) for m in target_mags), key=lambda m: m.to_list())
        for a, b in zip(mags, mags[1:]):
            if not all(x <= y for x, y in zip(a.to_list(), b.to_list())):
                raise InvalidRequestError(f"cannot downsample {a.to_layer_name()} to {b.to_layer_name()}: each pair "
                                          f"of neighbours of the sorted target_mags {[m.to_layer_name() for m in mags]} "
                                          "is one downsampling step")
        for mag in mags:
            self.downsample_mag(start, mag, interpolation_mode=interpolation_mode, compress=compress,
                                buffer_shape=buffer_shape, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                allow_overwrite=allow_overwrite, only_setup_mag=only_setup_mags, executor=executor)
            start = mag

    def redownsample(
        self,
        *,
        interpolation_mode: str = "default",
        compress: bool | str | Zarr3Config = True,
        buffer_shape: Vec3IntLike | int | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Recompute every mag but the finest from the one before it (after the finest
        changed), as webknossos 4.3.3."""
        mags = sorted(self._mags, key=lambda m: m.to_list())
        if len(mags) <= 1:
            return
        self.downsample_mag_list(mags[0], mags[1:], interpolation_mode=interpolation_mode, compress=compress,
                                 buffer_shape=buffer_shape, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                 allow_overwrite=True, executor=executor)

    def upsample(
        self,
        from_mag: MagLike,
        *,
        from_mag_view: MagView | None = None,
        finest_mag: MagLike = Mag(1),
        compress: bool | str | Zarr3Config = True,
        sampling_mode: str | SamplingModes = SamplingModes.ANISOTROPIC,
        align_with_other_layers: bool | Dataset = True,
        buffer_shape: Vec3IntLike | int | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Make finer mags from `from_mag` down to `finest_mag` by repeating voxels, as
        webknossos 4.3.3 (the mags of the downsampling ladder, in reverse).

        Each new mag covers the source mag's box (the layer's box rounded out to the
        source mag); the layer's box is left as it is. `buffer_shape` is accepted for
        compatibility; the work is split per target shard. An n-d layer is upsampled
        along x, y and z at each position along its additional axes (webknossos 4.3.3
        does so for layers with a ``c`` axis and fails without one).

        Raises
        ------
        MissingLayerError
            `from_mag` does not exist (a `KeyError`).
        InvalidRequestError
            `from_mag_view` has another mag, or a mag on the way exists already (also
            `ValueError` and `AssertionError`, as in webknossos).
        """
        from wkpy.copy import run_per_shard
        from wkpy.dataset.layer._downsampling_utils import calculate_mags_to_upsample, resampled_mag_shapes
        from wkpy.dataset.layer._upsampling_utils import upsample_job

        self._ensure_writable()
        start, finest = Mag(from_mag), Mag(finest_mag)
        if from_mag_view is not None:
            if from_mag_view.mag != start:
                raise InvalidRequestError(f"from_mag_view {from_mag_view.mag} was given to upsample, but it does not "
                                          f"match from_mag {start}")
        else:
            from_mag_view = self.get_mag(start)
        mode = SamplingModes.parse(sampling_mode)
        voxel_size = tuple(self._dataset.voxel_size) if mode == SamplingModes.ANISOTROPIC else None
        if mode == SamplingModes.CONSTANT_Z:
            finest = Mag((finest.x, finest.y, start.z))
        ladder = calculate_mags_to_upsample(start, finest, self._dataset_to_align_with(align_with_other_layers),
                                            voxel_size)  # type: ignore[arg-type]
        chunk, shard = resampled_mag_shapes(self.data_format, self._properties.bounding_box, chunk_shape, shard_shape)
        for prev, mag in zip([start, *ladder[:-1]], ladder):
            if not (prev > mag) or mag in self._mags:
                raise InvalidRequestError(f"cannot upsample {prev.to_layer_name()} into {mag.to_layer_name()}: it "
                                          "must be a new, finer mag")
            source = from_mag_view if prev == start else self._mags[prev]
            factors = tuple(p // m for p, m in zip(prev.to_list(), mag.to_list()))
            target = self._initialize_mag_from_other_mag(mag, source, compress, chunk, shard)
            run_per_shard(upsample_job, source, target, source.bounding_box, executor,
                          functools.partial(_upsample_args, factors=factors),
                          f"upsampling {self.name} to {mag.to_layer_name()}")


def _upsample_args(box: tuple[tuple[int, ...], tuple[int, ...]], source: Array, target: Array,
                   shards: list[tuple[tuple[int, ...], tuple[int, ...]]], factors: tuple[int, ...],
                   ) -> tuple[Array, Array, tuple[tuple[int, ...], tuple[int, ...]], tuple[int, ...]]:
    """The argument of one `upsample_job` (see `wkpy.copy.run_per_shard`)."""
    return source, target, box, factors


class SegmentationLayer(Layer):
    """A layer of segment ids, with a persisted `largest_segment_id`."""

    @property
    def attachments(self) -> Attachments:
        """The layer's attachments (meshes, agglomerates, segment index, ...): list, add,
        rename and delete them; see `wkpy.attachments.Attachments`."""
        from wkpy.attachments import Attachments

        return Attachments(self)

    @property
    def largest_segment_id(self) -> int | None:
        return self._properties.largest_segment_id

    @largest_segment_id.setter
    def largest_segment_id(self, value: int | None) -> None:
        self._ensure_writable()
        if value is not None:
            value = int(value)
        self._dataset._update_layer(self.name, lambda p: setattr(p, "largest_segment_id", value))

    def refresh_largest_segment_id(self, executor: Executor | None = None) -> None:
        """Set `largest_segment_id` to the maximum over the finest mag (None if empty)."""
        from wkpy.executor import map_on_executor

        view = self.get_finest_mag()
        box = BoundingBox.from_ndbbox(view.bounding_box)      # x, y, z (n-d layers: all positions of the other axes)
        # walk the shards on disk (never the box the JSON claims), in pieces of at most 256³
        piece = Vec3Int.full(256) * view.mag.to_vec3_int()
        views = [chunk for shard in view.get_bounding_boxes_on_disk()
                 if not (part := shard.intersected_with(box, dont_assert=True)).is_empty()
                 for chunk in view.get_view(absolute_bounding_box=part, read_only=True).chunk(piece, piece)]
        maxima = map_on_executor(_largest_value, views, executor)
        self.largest_segment_id = None if box.is_empty() else max(maxima, default=0)  # unwritten voxels are 0


def _largest_value(view: View) -> int:
    return int(view.read().max())
