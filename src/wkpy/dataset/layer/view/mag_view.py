"""`MagView`: one magnification of a layer, whose box is the layer's bounding box."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy._paths import is_inside
from wkpy.data_format import DataFormat
from wkpy.errors import ForeignPathError, InvalidRequestError, MissingLayerError, UnsupportedError
from wkpy.geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from wkpy.storage import METADATA_FILES, Array, open_array
from wkpy.dataset.layer.view.view import View
from wkpy.utils import warn_deprecated

if TYPE_CHECKING:
    from wkpy.dataset.layer.layer import Layer
    from wkpy.properties import MagProperties
    from wkpy.storage.zarr3 import Zarr3Config

__all__ = ["MagView"]


def _mag_path(path: Path | Any) -> Path | Any:
    """A local mag's folder as a `Path`; a remote one's ``upath.UPath`` as it is."""
    return Path(path) if isinstance(path, (str, os.PathLike)) else path


class MagView(View):
    """A whole mag of a layer. Writes beyond the layer's box grow it (see `write`)."""

    _opened: Array | None

    def __init__(self, layer: Layer, mag: Mag, path: Path | Any, array: Array | None = None,
                 read_only: bool = False) -> None:
        self._layer = layer
        self._path = _mag_path(path)
        self._foreign: bool | None = None
        self._deleted = False
        super().__init__(array, None, mag, read_only)  # type: ignore[arg-type]
        self._nd = bool(layer._properties.additional_axes)

    @property  # type: ignore[override]
    def _array(self) -> Array:
        """The storage, opened on first use (so datasets with missing mags still open).

        Raises
        ------
        OperationError
            The mag was deleted through this dataset object (`delete_mag`, `delete_layer`).
        """
        if self._deleted:
            from wkpy.errors import OperationError

            raise OperationError(f"mag {self.name} of layer {self._layer.name!r} was deleted ({self._path})")
        if self._opened is None:
            import numpy as np

            from wkpy.errors import PropertiesError

            array = open_array(self._path, self._layer.data_format, self._layer._properties.array_axes)
            # The array's own metadata must agree with the layer's properties: a header,
            # zarr.json or .zarray claiming other channels or another voxel type is refused here, before
            # any read allocates what it claims.
            layer = self._layer
            meta = self._path / METADATA_FILES[layer.data_format]
            checks = (("number of channels", "numChannels", array.info.num_channels, layer.num_channels),
                      ("voxel type", "elementClass", np.dtype(array.info.dtype), np.dtype(layer.dtype)))
            for what, field, found, wanted in checks:
                if found != wanted:
                    raise PropertiesError(f"{meta}: {what} {found} contradicts the layer {layer.name!r}, "
                                          f"whose {field} in datasource-properties.json gives {wanted}")
            extra = tuple(a.name for a in layer._properties.additional_axes)
            if sorted(array.info.extra_axes) != sorted(extra):
                # e.g. additionalAxes naming more axes than the array has dimensions
                raise PropertiesError(f"{meta}: additional axes {array.info.extra_axes} contradict the layer "
                                      f"{layer.name!r}, whose additionalAxes in datasource-properties.json give "
                                      f"{extra}")
            seen = self.__dict__.pop("_life_seen", None)
            if seen is not None and hasattr(array, "_generation"):
                # opened again after pickling: a mag deleted or re-created since keeps refusing writes
                array._generation = seen[0]
            self._opened = array
        return self._opened

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the opened storage (reopened on first use, as webknossos does),
        but with the life of the mag it was opened on (see `wkpy.locking.mag_generation`)."""
        state = dict(self.__dict__)
        opened = state.get("_opened")
        state["_opened"] = None
        if opened is not None and hasattr(opened, "_generation"):
            state["_life_seen"] = (opened._generation,)
        return state

    @_array.setter
    def _array(self, array: Array | None) -> None:
        self._opened = array

    def _relocate(self, path: Path) -> None:
        """Follow the mag's files to `path` (after its layer was renamed or its entry
        changed): the storage is opened there on next use."""
        self._path = _mag_path(path)
        self._opened = None
        self._foreign = None

    @property
    def layer(self) -> Layer:
        return self._layer

    @property
    def path(self) -> Path | Any:
        """The mag's folder (a ``upath.UPath`` for a remote one)."""
        return self._path

    @property
    def name(self) -> str:
        """Folder-style name of the mag, e.g. ``"2-2-1"``."""
        return self._mag.to_layer_name()

    @property
    def bounding_box(self) -> BoundingBox:
        """The layer's bounding box, rounded outward to this mag (mag-1 coordinates); an
        `NDBoundingBox` over the layer's axes for n-d layers (see `Layer.bounding_box`)."""
        return self._layer.bounding_box.align_with_mag(self._mag, ceil=True)

    @property
    def data_format(self) -> DataFormat:
        """The storage format of the mag (its layer's)."""
        return self._layer.data_format

    @property
    def _properties(self) -> MagProperties:
        """This mag's entry in the layer's properties (webknossos' private name).

        Changes to it stay in memory until `Dataset._save_dataset_properties` saves them.
        """
        for entry in self._layer._properties.mags:
            if entry.mag == self._mag:
                return entry
        raise MissingLayerError(f"layer {self._layer.name!r} lists no mag {self._mag} (any more)")

    @property
    def _cached_array(self) -> Array | None:
        """The opened storage, or None before the first use (webknossos' private name)."""
        return self._opened

    @property
    def _is_foreign(self) -> bool:
        """Whether the mag's files lie outside the dataset (a linked or referenced mag):
        such a mag is read, never written or deleted, through this dataset."""
        if self._foreign is None:
            self._foreign = not is_inside(self._layer.dataset.path, self._path)
        return self._foreign

    @property
    def is_foreign(self) -> bool:
        """Deprecated (as in webknossos 4.3.3): use `Layer.is_mag_view_foreign`."""
        warn_deprecated("MagView.is_foreign", "Layer.is_mag_view_foreign()")
        return self._is_foreign

    @property
    def read_only(self) -> bool:
        return self._read_only or self._layer.read_only or self._is_foreign

    def _ensure_writable(self) -> None:
        """Raises `ReadOnlyError` (`ForeignPathError` for linked and referenced mags)."""
        self._layer._ensure_writable()
        if self._is_foreign:
            raise ForeignPathError(f"mag {self.name} of layer {self._layer.name!r} lies outside the dataset "
                                   f"{self._layer.dataset.path} ({self._path}): linked and referenced data is read-only")
        super()._ensure_writable()

    def _accept_write_box(self, box: BoundingBox, json_update_allowed: bool) -> BoundingBox:
        """Grow the layer's box to cover `box` (saved unless `json_update_allowed` is False)."""
        layer_box = self.bounding_box
        if layer_box.contains_bbox(box):
            return layer_box
        current = getattr(self._array, "ensure_current", None)
        if current is not None:
            current()          # a stale view must not grow the box of a re-created layer
        if json_update_allowed:
            self._layer._grow_bounding_box(box)
            return self._layer.bounding_box
        return self._layer.bounding_box.extended_by(box)

    def get_bounding_boxes_on_disk(self) -> list[BoundingBox]:
        """Mag-1 boxes of the shards that exist on disk."""
        found = dict.fromkeys((off[:3], shape[:3]) for off, shape in self._array.list_shards())  # x, y, z of n-d shards
        return [BoundingBox(off, shape).from_mag_to_mag1(self._mag) for off, shape in found]

    def get_views_on_disk(self, read_only: bool | None = None) -> Iterator[View]:
        """A view for each shard on disk (mag-1 boxes of whole shards), e.g. to work on
        the data that exists in parallel; writable views must lie in the layer's box."""
        for box in self.get_bounding_boxes_on_disk():
            yield self.get_view(absolute_bounding_box=box, read_only=read_only)

    def get_zarr_array(self) -> Any:
        """The mag as a zarr-python array (``zarr.open_array``), for Zarr mags.

        Writes through it bypass wkpy's locks and bounding-box updates; the array opens
        read-only (``mode="r"``) when the mag is read-only here.

        Raises
        ------
        UnsupportedError
            A WKW mag, or the optional package ``zarr`` is not installed (also a `ValueError`).
        """
        if self.data_format == "wkw":
            raise UnsupportedError(f"mag {self.name} of layer {self._layer.name!r} is WKW: there is no Zarr "
                                   "array to open (as in webknossos)")
        try:
            import zarr
        except ImportError:
            raise UnsupportedError("get_zarr_array needs the optional package zarr (pip install zarr)") from None
        mode = "r" if self.read_only else "r+"
        if not isinstance(self._path, Path):      # a remote mag: through zarr's fsspec store
            from zarr.storage import FsspecStore

            store = FsspecStore.from_url(str(self._path), storage_options=dict(self._path.storage_options),
                                         read_only=self.read_only)   # its own client, on zarr's event loop
            return zarr.open_array(store=store, mode=mode)
        return zarr.open_array(os.fspath(self._path), mode=mode)

    def compress(self, *, target_path: str | os.PathLike[str] | None = None,
                 executor: Executor | None = None) -> None:
        """Rewrite this mag compressed (same chunk and shard shapes), in place or, with
        `target_path`, into the same layer and mag of the dataset there (see `rechunk`).
        A compressed mag is left as it is (as in webknossos), also with `target_path`."""
        if self.info.compression:
            return
        if target_path is None:
            self._layer._rechunk_mag(self, None, None, True, executor, keep_layout=True)
        else:
            self.rechunk(chunk_shape=self.info.chunk_shape, shard_shape=self.info.shard_shape, compress=True,
                         target_path=target_path, executor=executor)

    def rechunk(
        self,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        compress: bool | Zarr3Config | None = None,
        target_path: str | os.PathLike[str] | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Rewrite this mag with new chunk and shard shapes and compression (defaults, as
        in webknossos: 32³ chunks, 1024³ shards, compressed).

        In place, the new mag is built beside the old one and swapped in in one atomic
        step (writers of the mag wait meanwhile; see `wkpy._trash`). With `target_path`
        the data goes into the layer of that name in the dataset at `target_path`
        (created if needed) and this mag stays as it is.

        Raises
        ------
        ReadOnlyError
            In place on a read-only, linked or referenced mag.
        """
        if target_path is None:
            self._layer._rechunk_mag(self, chunk_shape, shard_shape, True if compress is None else compress,
                                     executor)
            return
        from wkpy.copy import copy_mag_data
        from wkpy.dataset.dataset import Dataset
        from wkpy.dataset.layer.layer import chunk_and_shard_shape

        layer = self._layer
        target_ds = Dataset(target_path, voxel_size_with_unit=layer.dataset.voxel_size_with_unit, exist_ok=True)
        target_layer = target_ds.get_or_add_layer(
            layer.name, layer.category, dtype=layer.dtype, num_channels=layer.num_channels,
            data_format=layer.data_format, largest_segment_id=getattr(layer, "largest_segment_id", None))
        target_layer.bounding_box = layer.bounding_box
        compress = True if compress is None else compress
        desc = f"rechunking {layer.name}/{self.name}"
        if self._mag in target_layer.mags:
            target = target_layer.get_or_add_mag(self._mag, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                                 compress=compress)
            target._ensure_writable()
            copy_mag_data(self, target._array, executor, desc)
        else:                                  # built hidden, listed once complete
            chunk, shard = chunk_and_shard_shape(chunk_shape, shard_shape, None, target_layer.data_format,
                                                 target_layer.bounding_box if target_layer.mags else None)
            target_layer._create_mag(self._mag, target_layer._new_mag_info(chunk, shard, compress),
                                     lambda array: copy_mag_data(self, array, executor, desc))

    def merge_with_view(self, other: MagView, executor: Executor | None = None) -> None:
        """Write the data of `other` (a volume annotation: one chunk per file, same dtype
        and mag) over this mag, shard by shard: what `other` holds on disk replaces the
        voxels here, everything else stays. The layer's box grows to the touched shards,
        as in webknossos.

        Raises
        ------
        InvalidRequestError
            `other` has several chunks per file, another dtype or another mag (also an
            `AssertionError`, as in webknossos).
        """
        from wkpy.executor import map_on_executor

        self._ensure_writable()
        if tuple(other.info.chunks_per_shard) != (1, 1, 1):
            raise InvalidRequestError(f"{other} has {tuple(other.info.chunks_per_shard)} chunks per file; "
                                      "a volume annotation to merge has one")
        if other.get_dtype() != self.get_dtype():
            raise InvalidRequestError(f"cannot merge {other.get_dtype()} data into a {self.get_dtype()} mag")
        if other.mag != self._mag:
            raise InvalidRequestError(f"cannot merge mag {other.mag} into mag {self._mag}")
        shard = self._get_file_dimensions_mag1()
        groups: dict[Vec3Int, list[BoundingBox]] = {}
        for box in other.get_bounding_boxes_on_disk():
            for cell in box.chunk(shard, shard):
                key = cell.topleft - cell.topleft % shard
                groups.setdefault(key, []).append(cell)
        if not groups:
            return
        box = self._layer.bounding_box
        for key in groups:
            box = box.extended_by(BoundingBox(key, shard))
        self._layer.bounding_box = box
        map_on_executor(self.merge_chunk, [(other, BoundingBox(key, shard), boxes) for key, boxes in groups.items()],
                        executor, "merging with the fallback layer")

    def merge_chunk(self, args: tuple[MagView, BoundingBox, list[BoundingBox]]) -> None:
        """One task of `merge_with_view`: (other, a shard box of this mag, the boxes of
        `other` inside it), all in mag 1."""
        other, shard, boxes = args
        data = self.read(absolute_bounding_box=shard)
        for box in boxes:
            part = box.offset(-shard.topleft).in_mag(self._mag)
            data[(slice(None), *part.to_slices())] = other.read(absolute_bounding_box=box)
        self.write(data, absolute_bounding_box=shard, json_update_allowed=False)
