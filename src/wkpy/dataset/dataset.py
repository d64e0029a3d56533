"""`Dataset`: a folder with `datasource-properties.json` and one sub-folder per layer."""

from __future__ import annotations

import contextlib
import copy
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from wkpy._layer_args import check_category, check_layer_dtype, check_layer_name, resolve_dtype
from wkpy._paths import check_name, ensure_inside, is_inside
from wkpy._trash import move_aside, new_folder_for, recover, remove, rename_marker
from wkpy._urls import READ_ONLY_PROTOCOLS, as_location
from wkpy.dataset._image_conversion.conversion_layer_mapping import ConversionLayerMapping
from wkpy.data_format import DEFAULT_DATA_FORMAT, DataFormat, default_data_format, writable_data_format
from wkpy.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    DuplicateError,
    InvalidRequestError,
    MissingLayerError,
    ReadOnlyError,
    UnsupportedError,
    UnsupportedVersionError,
)
from wkpy.geometry import BoundingBox, Mag, MagLike, NDBoundingBox, Vec3Int, Vec3IntLike, VecIntLike
from wkpy.dataset.layer.layer import Layer, SegmentationLayer
from wkpy.locking import lock_file_for, mag_lock_file, new_mag_generation, path_lock
from wkpy.properties import (
    PROPERTIES_FILE_NAME,
    DatasetProperties,
    LayerProperties,
    element_class_for,
    load_properties,
    load_versioned,
    save_properties,
)
from wkpy.properties._view_configuration import (
    DatasetViewConfiguration,
    dataset_view_from_json,
    view_json_for_setting,
)
from wkpy.storage import METADATA_FILES
from wkpy.storage._zarr_groups import group_files, write_zarr_groups
from wkpy.storage.store import CONFLICT_TRIES, Store, as_store, retry_on_conflict
from wkpy.utils import warn_deprecated
from wkpy.voxel_size import Vec3FloatLike, VoxelSize

__all__ = ["Dataset", "COLOR_CATEGORY", "SEGMENTATION_CATEGORY", "LayerCategoryType", "DataFormat",
           "DEFAULT_DATA_FORMAT", "Layer", "SegmentationLayer"]

# add_layer keywords webknossos accepts and ignores (the layout is chosen per mag)
_LAYOUT_KEYWORDS = frozenset({"chunk_shape", "shard_shape", "chunks_per_shard", "compress"})

COLOR_CATEGORY: Literal["color"] = "color"
SEGMENTATION_CATEGORY: Literal["segmentation"] = "segmentation"
LayerCategoryType = Literal["color", "segmentation"]


SUPPORTED_VERSIONS = (1,)


def _check_version(props: DatasetProperties, path: Path) -> DatasetProperties:
    if props.version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(f"{path / PROPERTIES_FILE_NAME}: version {props.version} is not supported; "
                                      f"wkpy reads version {', '.join(map(str, SUPPORTED_VERSIONS))}")
    return props


def _layer_class(category: str) -> type[Layer]:
    return SegmentationLayer if category == SEGMENTATION_CATEGORY else Layer


class Dataset:
    """A dataset: a folder (or a prefix of an object store) holding
    ``datasource-properties.json`` and one sub-folder per layer.

    ``Dataset(path, voxel_size=...)`` creates one (or, with ``exist_ok=True``, opens an
    existing one with the same voxel size); ``Dataset.open(path)`` opens one. `path` is a
    local path, a URL string (``s3://bucket/ds``, ``https://host/ds``, ``memory://ds``;
    storage options from fsspec's configuration and the environment) or a ``upath.UPath``
    with its storage options, as in webknossos 4.3.3; `Dataset.path` is a `pathlib.Path`
    for a local dataset and a ``upath.UPath`` for a remote one.

    Remote datasets (object stores) have no folders and no locks: the properties are
    changed by conditional writes, retried when another writer came first (see
    `_transact`); operations that need a local file system (symbolic links, renaming
    folders) raise `UnsupportedError` there. Datasets on plain HTTP(S) servers are
    read-only.
    """

    ConversionLayerMapping = ConversionLayerMapping

    def __init__(
        self,
        dataset_path: str | os.PathLike[str],
        voxel_size: Vec3FloatLike | None = None,
        name: str | None = None,
        exist_ok: bool = False,
        *,
        voxel_size_with_unit: VoxelSize | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = as_location(dataset_path)
        if voxel_size is not None and voxel_size_with_unit is not None:
            raise InvalidRequestError("give voxel_size or voxel_size_with_unit, not both")
        if voxel_size is not None:
            voxel_size_with_unit = VoxelSize(tuple(voxel_size))  # type: ignore[arg-type]
        self._read_only = read_only or self._read_only_protocol()
        if not exist_ok:        # creating one: refused on HTTP(S) before any request
            self._refuse_read_only_protocol("create a dataset")
        try:
            props: DatasetProperties | None = load_properties(self._props_location)
        except DatasetNotFoundError:
            if self._read_only:
                self._refuse_read_only_protocol("create a dataset")
                raise DatasetNotFoundError(f"{self.path}: no dataset to open read-only") from None
            props = None
        if props is not None:
            if not exist_ok:
                raise DatasetExistsError(f"{self.path}: a dataset exists already (use Dataset.open or exist_ok=True)")
            self._init_from(props)
            if voxel_size_with_unit is None:
                raise InvalidRequestError("give voxel_size when using Dataset(...) on an existing dataset, "
                                          "or use Dataset.open(path)")
            if self.voxel_size_with_unit != voxel_size_with_unit:
                raise DatasetExistsError(f"{self.path}: exists with voxel size {self.voxel_size_with_unit}, "
                                         f"not {voxel_size_with_unit}")
            if name is not None and name != self.name:
                raise DatasetExistsError(f"{self.path}: exists with name {self.name!r}, not {name!r}")
            if not self._read_only:
                self._recover()
            return
        if self._remote:
            if next(iter(self._store.list()), None) is not None:
                raise DatasetExistsError(f"{self.path}: exists and is not an empty folder (it holds objects)")
        elif self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise DatasetExistsError(f"{self.path}: exists and is not an empty folder")
        if voxel_size_with_unit is None:
            raise InvalidRequestError("a new dataset needs voxel_size (or voxel_size_with_unit)")
        if not self._remote:
            self.path.mkdir(parents=True, exist_ok=True)
        props = DatasetProperties(
            id={"name": name or (self.path.name if self._remote else self.path.resolve().name), "team": ""},
            voxel_size=voxel_size_with_unit.factor,
            unit=voxel_size_with_unit.unit.value,
        )
        self._init_from(props)
        if self._remote:
            self._create_remote()
        else:
            self._save()

    # ---- where it lies --------------------------------------------------------------
    @property
    def _remote(self) -> bool:
        """Whether the dataset lies on remote storage (`path` is a remote ``UPath``)."""
        return not isinstance(self.path, Path)

    @property
    def _store(self) -> Store:
        """The store of the dataset's folder (or prefix), made on first use."""
        store = self.__dict__.get("_dataset_store")
        if store is None:
            store = self.__dict__["_dataset_store"] = as_store(self.path)
        return store

    @property
    def _props_location(self) -> Any:
        """What `load_properties`/`save_properties` take: the local file, or the store."""
        return self._store if self._remote else self.path / PROPERTIES_FILE_NAME

    def _read_only_protocol(self) -> bool:
        return self._remote and self.path.protocol in READ_ONLY_PROTOCOLS

    def _refuse_read_only_protocol(self, action: str) -> None:
        if self._read_only_protocol():
            raise ReadOnlyError(f"cannot {action} at {self.path}: datasets on HTTP(S) servers are read-only")

    def _refuse_remote(self, action: str) -> None:
        """Raise `LocalOnlyError` (an `UnsupportedError` and an `AssertionError`, as
        webknossos asserts) for `action`, which needs a local file system, on a remote
        dataset."""
        if self._remote:
            from wkpy.errors import LocalOnlyError

            raise LocalOnlyError(f"{action} is not supported for the remote dataset {self.path}: "
                                   "it needs a local file system (as in webknossos 4.3.3)")

    def _create_remote(self) -> None:
        """Upload the new dataset's properties, only if no other writer created them meanwhile."""
        from wkpy.errors import ConflictError

        try:
            version = save_properties(self._store, self._properties, mode="create")
        except ConflictError:
            raise DatasetExistsError(f"{self.path}: a dataset exists already (created meanwhile by another "
                                     "writer; use Dataset.open or exist_ok=True)") from None
        self._write_zarr_groups(version)

    def _init_from(self, props: DatasetProperties) -> None:
        self._properties = _check_version(props, self.path)
        self._layers: dict[str, Layer] = {}
        for layer_props in props.data_layers:
            self._layers[layer_props.name] = _layer_class(layer_props.category)(self, layer_props)

    def __getstate__(self) -> dict[str, Any]:
        """Datasets (and the layers and mag views holding them) travel to worker processes."""
        state = dict(self.__dict__)
        state.pop("_thread_lock", None)
        return state

    @property
    def _lock(self) -> threading.RLock:
        """Orders this object's properties updates among threads (new in a forked child,
        where a parent thread may have held the old one)."""
        owner = self.__dict__.get("_thread_lock")
        if owner is None or owner[0] != os.getpid():
            owner = self.__dict__["_thread_lock"] = (os.getpid(), threading.RLock())
        return owner[1]

    def _recover(self) -> None:
        """Finish or undo removals and replacements of layer and mag folders that a crash
        interrupted (see `wkpy._trash`); runs when a dataset is opened for writing.
        Remote datasets have no such folders (see `delete_layer`)."""
        if self._remote:
            return
        with self._lock, path_lock(lock_file_for(self.path, PROPERTIES_FILE_NAME)):
            props = load_properties(self.path / PROPERTIES_FILE_NAME)
            layers = [self.path / p.name for p in props.data_layers]
            listed = {os.path.realpath(p) for p in layers}
            folders = {self.path, *(p for p in layers if not p.is_symlink())}
            for layer_props in props.data_layers:   # what the file lists now, not what we saw before
                paths = [Layer(self, layer_props)._resolve_mag_path(m) for m in layer_props.mags]
                paths += [self.path / a.path for a in getattr(layer_props, "attachments", None) or ()
                          if "://" not in a.path]   # attachments copied in (absolute paths stay absolute)
                listed.update(os.path.realpath(p) for p in paths)
                folders.update(p.parent for p in paths)
            own = sorted(f for f in folders if is_inside(self.path, f))
            recover(own, lambda path: os.path.realpath(path) in listed)

    @classmethod
    def open(cls, dataset_path: str | os.PathLike[str], read_only: bool = False) -> Dataset:
        """Open an existing dataset (FileNotFoundError if there is none)."""
        self = cls.__new__(cls)
        self.path = as_location(dataset_path)
        self._read_only = read_only or self._read_only_protocol()
        if not self._remote and not self.path.exists():
            raise DatasetNotFoundError(f"{self.path}: no such dataset folder")
        self._init_from(load_properties(self._props_location))
        if not self._read_only:
            self._recover()
        return self

    # ---- properties -----------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._properties.id.get("name", self.path.name))

    @name.setter
    def name(self, value: str) -> None:
        self._ensure_writable()
        self._transact(lambda p: p.id.__setitem__("name", value))

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """Voxel size in nanometres."""
        return self.voxel_size_with_unit.to_nanometer()

    @property
    def voxel_size_with_unit(self) -> VoxelSize:
        return VoxelSize(self._properties.voxel_size, self._properties.unit)  # type: ignore[arg-type]

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def resolved_path(self) -> Any:
        """The dataset's folder with links resolved (a remote dataset's path as it is)."""
        return self.path if self._remote else self.path.resolve()

    @property
    def default_view_configuration(self) -> DatasetViewConfiguration | None:
        """How webknossos shows the dataset at first (``defaultViewConfiguration``), or None.

        A copy: assign a changed one back to save it. The setter also takes the JSON
        object (camelCase keys); keys webknossos does not know are kept.
        """
        found = self._properties.default_view_configuration
        return None if found is None else dataset_view_from_json(found)

    @default_view_configuration.setter
    def default_view_configuration(self, value: DatasetViewConfiguration | dict[str, Any] | None) -> None:
        self._ensure_writable()
        obj = view_json_for_setting(value, DatasetViewConfiguration, "Dataset.default_view_configuration")
        self._transact(lambda p: setattr(p, "default_view_configuration", obj))

    @property
    def layers(self) -> dict[str, Layer]:
        return dict(self._layers)

    def __repr__(self) -> str:
        return f"Dataset({str(self.path) if self._remote else os.fspath(self.path)!r})"

    def _ensure_writable(self) -> None:
        if self._read_only:
            if self._read_only_protocol():
                raise ReadOnlyError(f"dataset {self.path} is read-only: datasets on HTTP(S) servers are read-only")
            raise ReadOnlyError(f"dataset {self.path} is read-only")

    def _save(self) -> None:
        save_properties(self._props_location, self._properties)
        self._write_zarr_groups()

    def _write_zarr_groups(self, version: Any = None) -> None:
        """The Zarr group files webknossos keeps beside the properties of Zarr (v2 and v3) datasets.

        Remote datasets: the files are derived from the properties of `version` (the
        version this object last saved or read, if known), then the properties are
        looked at again; if another writer changed them meanwhile, the files are written
        anew from what it saved. The last writer to look therefore leaves the files of
        the newest properties, whatever order the uploads took.
        """
        if self._remote:
            self._put_zarr_groups(version)
            return
        write_zarr_groups(self.path, self.voxel_size, [
            (self.path / p.name, p.data_format, [(m.mag.to_layer_name(), tuple(m.mag.to_list())) for m in
                                                 sorted(p.mags, key=lambda m: m.mag)], p.array_axes)
            for p in self._properties.data_layers])

    @staticmethod
    def _remote_group_files(props: DatasetProperties) -> list[tuple[str, str]]:
        """The group files of a remote dataset with `props` (see `group_files`): a layer's
        group is written if the layer lists a mag in its own prefix (locally: if its
        folder exists)."""
        prefixes = {m.path.removeprefix("./").rsplit("/", 1)[0] for p in props.data_layers for m in p.mags
                    if m.path is not None and m.path.startswith("./")}
        layers = [(p.name, p.data_format, [(m.mag.to_layer_name(), tuple(m.mag.to_list()))
                                           for m in sorted(p.mags, key=lambda m: m.mag)], p.array_axes,
                   p.name in prefixes) for p in props.data_layers]
        return group_files(VoxelSize(props.voxel_size, props.unit).to_nanometer(), layers)  # type: ignore[arg-type]

    def _put_zarr_groups(self, version: Any) -> None:
        """`_write_zarr_groups` of a remote dataset."""
        store, props = self._store, self._properties
        for _ in range(CONFLICT_TRIES):
            files = self._remote_group_files(props)
            for key, text in files:
                store.put(key, text.encode("utf-8"))
            if not files or version is None or store.version(PROPERTIES_FILE_NAME) == version:
                return
            props, version = load_versioned(store)

    def _transact(self, change: Callable[[DatasetProperties], None],
                  publish: tuple[Path, Path] | None = None, renamed: tuple[str, str] | None = None) -> None:
        """Apply `change` to the properties on disk and save them, under the dataset's lock.

        The file is re-read first, so changes made meanwhile by other processes (or other
        `Dataset` objects) are kept and merged, not overwritten; then this object adopts
        the result. A change that raises leaves file and memory untouched.

        `publish` = (built, final): a folder (or link) built under a hidden
        ``.wkpy-new-`` name that the change lists at `final`; it is renamed into place
        right after the save, under the lock. A crash in between leaves it listed and
        still hidden, and `_recover` finishes the rename (see `wkpy._trash`).
        `renamed` = (old, new): the change renames that layer (this object's layer keeps
        its identity).

        A remote dataset (a store without locks) has no lock to hold: the change reads the
        file with its version, applies `change` and uploads the result only if the file
        is still that version; if another writer came first, it starts again from what
        that writer saved (a few times, after random pauses: see
        `wkpy.storage.store.retry_on_conflict`). So concurrent changes are merged there too, or, after
        too many collisions, this one raises `ConflictError` naming the file and nothing
        of it is saved. `change` may therefore run more than once (on fresh properties
        each time). `publish` is not available there.

        Raises
        ------
        ConflictError
            A remote dataset, and concurrent writers won every attempt.
        """
        if not self._store.has_locks:
            if publish is not None:
                raise UnsupportedError(f"{self.path}: folders cannot be renamed into place on remote storage")

            def attempt() -> tuple[DatasetProperties, Any, bool]:
                fresh, version = load_versioned(self._store)
                groups = self._remote_group_files(fresh)
                change(fresh)
                version = save_properties(self._store, fresh, mode=version)
                return fresh, version, self._remote_group_files(fresh) != groups

            with self._lock:
                fresh, version, regroup = retry_on_conflict(self._store, attempt)
                self._adopt(fresh, renamed)
                if regroup:        # (most changes, such as a growing box, leave the group files as they are)
                    self._write_zarr_groups(version)
            return
        with self._lock, path_lock(lock_file_for(self.path, PROPERTIES_FILE_NAME)):
            fresh = load_properties(self.path / PROPERTIES_FILE_NAME)
            change(fresh)
            save_properties(self.path / PROPERTIES_FILE_NAME, fresh)
            if publish is not None:
                os.rename(*publish)
            self._adopt(fresh, renamed)
            self._write_zarr_groups()

    def _save_dataset_properties(self, *, check_existing_properties: bool = True) -> None:
        """Save this object's properties as they are (webknossos' private name), e.g.
        after changing a mag's ``_properties.path``, under the dataset's lock.

        Unlike every other change (`_transact`), this overwrites what other processes
        saved meanwhile, as webknossos does; `check_existing_properties` is accepted for
        compatibility.

        Raises
        ------
        ReadOnlyError
            The dataset is read-only.
        """
        self._ensure_writable()
        if not self._store.has_locks:
            with self._lock:
                version = save_properties(self._store, self._properties)
                self._adopt(load_properties(self._store))
                self._write_zarr_groups(version)
            return
        with self._lock, path_lock(lock_file_for(self.path, PROPERTIES_FILE_NAME)):
            save_properties(self.path / PROPERTIES_FILE_NAME, self._properties)
            self._adopt(load_properties(self.path / PROPERTIES_FILE_NAME))
            self._write_zarr_groups()

    def _adopt(self, fresh: DatasetProperties, renamed: tuple[str, str] | None = None) -> None:
        """Take over `fresh`, keeping the identity of layer property objects we hold."""
        mine = {layer.name: layer for layer in self._properties.data_layers}
        if renamed is not None and renamed[0] in mine:
            mine[renamed[1]] = mine.pop(renamed[0])
            if renamed[0] in self._layers:
                self._layers[renamed[1]] = self._layers.pop(renamed[0])
        merged = []
        for layer_props in fresh.data_layers:
            if layer_props.name in mine:
                mine[layer_props.name].__dict__.update(layer_props.__dict__)
                merged.append(mine[layer_props.name])
            else:
                merged.append(layer_props)
        self._properties.__dict__.update(fresh.__dict__)
        self._properties.data_layers = merged
        for gone in set(self._layers) - {p.name for p in merged}:
            del self._layers[gone]
        for layer_props in merged:
            if layer_props.name not in self._layers:
                self._layers[layer_props.name] = _layer_class(layer_props.category)(self, layer_props)
        for layer in self._layers.values():
            layer._sync_mags()

    def _update_layer(self, name: str, change: Callable[[LayerProperties], None],
                      publish: tuple[Path, Path] | None = None) -> None:
        """Apply `change` to one layer's properties on disk (see `_transact`)."""
        def apply(props: DatasetProperties) -> None:
            layer_props = props.get_layer(name)
            if layer_props is None:
                raise MissingLayerError(f"dataset {self.path} has no layer {name!r}")
            change(layer_props)

        self._transact(apply, publish)

    def _rename_layer(self, layer: Layer, new_name: str) -> None:
        """Rename `layer` to `new_name` (see `Layer.name`): list the new name and rewrite
        the paths inside its folder, then rename the folder, under the dataset's lock and
        with writers of its mags held off. A hidden marker (`wkpy._trash.rename_marker`)
        lets `_recover` finish the folder rename after a crash."""
        self._refuse_remote("renaming a layer")
        old_name = layer.name
        old = self.path / check_name(old_name)
        new = ensure_inside(self.path, self.path / check_name(new_name), "create")
        if os.path.lexists(new):
            raise DuplicateError(f"{new} exists already (not a layer of {self.path}); move it away first")
        has_folder = os.path.lexists(old)
        markers: list[Path] = []
        old_prefix = os.path.realpath(old) + os.sep

        def moved(path: str | None) -> str | None:
            if path is None or "://" in path:
                return path
            full = path if os.path.isabs(path) else os.path.join(self.path, path)
            lexical = Path(os.path.normpath(full))
            if ".." not in Path(path).parts and lexical.is_relative_to(old):
                # an entry of the old folder, maybe a link out of it: it moves with the folder
                return f"./{new_name}/{lexical.relative_to(old).as_posix()}"
            real = os.path.realpath(full)
            if not real.startswith(old_prefix) or not is_inside(self.path, full):
                return path             # foreign data stays where it is
            return f"./{new_name}/{Path(os.path.relpath(real, old_prefix)).as_posix()}"

        def change(props: DatasetProperties) -> None:
            found = props.get_layer(old_name)
            if found is None:
                raise MissingLayerError(f"dataset {self.path} has no layer {old_name!r}")
            if props.get_layer(new_name) is not None:
                raise DuplicateError(f"dataset {self.path} has a layer {new_name!r} already")
            for entry in found.mags:
                if entry.path is not None:
                    entry.path = moved(entry.path)
            attachments = getattr(found, "attachments", None)
            if attachments is not None:   # a view of the JSON: changed, then set back
                for attachment in attachments:
                    attachment.path = moved(attachment.path)
                found.attachments = attachments
            found.name = new_name
            if has_folder:
                markers.append(rename_marker(old, new))

        own = [] if layer.is_linked else sorted(v.path for v in layer.mags.values() if not v._is_foreign)
        with contextlib.ExitStack() as held:
            for mag_path in own:       # no writer of its mags may write under the old name meanwhile
                held.enter_context(path_lock(mag_lock_file(mag_path)))
            self._transact(change, publish=(old, new) if has_folder else None, renamed=(old_name, new_name))
        for marker in markers:
            remove(marker)

    # ---- layers ---------------------------------------------------------------------
    def get_layer(self, layer_name: str) -> Layer:
        try:
            return self._layers[layer_name]
        except KeyError:
            raise MissingLayerError(f"dataset {self.path} has no layer {layer_name!r}; "
                                    f"it has {sorted(self._layers)}") from None

    def get_color_layers(self) -> list[Layer]:
        return [layer for layer in self._layers.values() if layer.category == COLOR_CATEGORY]

    def get_segmentation_layers(self) -> list[SegmentationLayer]:
        return [layer for layer in self._layers.values() if isinstance(layer, SegmentationLayer)]

    def add_layer(
        self,
        layer_name: str,
        category: LayerCategoryType,
        *,
        dtype: Any = None,
        dtype_per_channel: Any = None,
        dtype_per_layer: Any = None,
        num_channels: int | None = None,
        data_format: str | DataFormat | None = None,
        bounding_box: NDBoundingBox | None = None,
        largest_segment_id: int | None = None,
        **kwargs: Any,
    ) -> Layer:
        """Add an empty layer (no mags yet; see `Layer.add_mag`).

        Parameters
        ----------
        layer_name : str
            Letters, digits and ``_$@-.``, not starting with a dot.
        category : {"color", "segmentation"}
        dtype : dtype-like, optional
            The dtype of one channel (default uint8). `dtype_per_channel` is its older
            name (deprecated, with a `DeprecationWarning` as in webknossos 4.3.3);
            `dtype_per_layer` the dtype of all channels together (``"uint24"``).
        num_channels : int, optional
            Default 1.
        data_format : DataFormat or str, optional
            ``"wkw"``, ``"zarr"`` (Zarr v2) or ``"zarr3"``; default ``$WKPY_DEFAULT_DATA_FORMAT``,
            else WKW.
        bounding_box : BoundingBox or NDBoundingBox, optional
            An `NDBoundingBox` with axes besides c, x, y, z makes an n-d layer (Zarr3
            only), whose arrays have the box's axes in its index order, as in webknossos
            4.3.3 (``c`` among them if the box has it).
        largest_segment_id : int, optional
            Segmentation layers only.
        mappings : list of str, optional
            Segmentation layers only: the ``mappings`` entry.
        chunk_shape, shard_shape, chunks_per_shard, compress
            Accepted and ignored, as webknossos does, with a `UserWarning`: the layout
            belongs to `Layer.add_mag`.

        Raises
        ------
        TypeError
            Another keyword argument.
        InvalidRequestError
            An invalid name or data format (a `ValueError`), a box without x, y or z.
        UnsupportedError
            An n-d box for a WKW layer.
        ConflictingArgumentsError
            More than one of the dtype arguments (an `AttributeError`).
        DataMismatchError
            A dtype WEBKNOSSOS does not show for the category (a `ValueError`).
        DuplicateError
            A layer of that name exists (an `IndexError`).
        InvalidCategoryError
            Neither color nor segmentation (a `RuntimeError`).
        """
        self._ensure_writable()
        ignored = sorted(k for k in kwargs if k in _LAYOUT_KEYWORDS)
        if ignored:   # webknossos takes and ignores them; the layout is chosen per mag
            warnings.warn(f"add_layer ignores {', '.join(ignored)}: chunk and shard shapes belong to each mag; "
                          "give them to add_mag", UserWarning, stacklevel=2)
        mappings = kwargs.pop("mappings", None)
        unknown = sorted(k for k in kwargs if k not in _LAYOUT_KEYWORDS)
        if unknown:
            raise TypeError(f"add_layer() got unexpected keyword arguments {unknown}")
        check_name(check_layer_name(layer_name))
        num_channels = 1 if num_channels is None else num_channels
        dtype = resolve_dtype(dtype, dtype_per_channel, dtype_per_layer, num_channels)
        if dtype_per_channel is not None:
            warn_deprecated("dtype_per_channel", "dtype")
        if dtype is None:
            dtype = np.dtype("uint8")
        check_layer_dtype(category, dtype, num_channels)
        if layer_name in self._layers:
            raise DuplicateError(f"dataset {self.path} has a layer {layer_name!r} already")
        data_format = (default_data_format() if data_format is None else writable_data_format(data_format)).value
        if data_format == "wkw" and self._remote:
            warnings.warn("Creating WKW layers in remote datasets is not recommended because of poor performance "
                          "(as webknossos 4.3.3 warns); use data_format='zarr3'", UserWarning, stacklevel=2)
        check_category(layer_name, category)
        box, axis_order, additional = LayerProperties.nd_layout(
            bounding_box if bounding_box is not None else BoundingBox((0, 0, 0), (0, 0, 0)), layer_name)
        props = LayerProperties(
            name=layer_name,
            category=category,
            bounding_box=box,
            element_class=element_class_for(dtype, num_channels),
            data_format=data_format,
            num_channels=num_channels,
            largest_segment_id=largest_segment_id if category == SEGMENTATION_CATEGORY else None,
            additional_axes=additional,
            axis_order=axis_order,
        )
        if mappings is not None and category == SEGMENTATION_CATEGORY:
            props.extra["mappings"] = list(mappings)
        if additional:
            from wkpy.copy import check_format_holds_axes

            check_format_holds_axes(props, data_format)
        ensure_inside(self.path, self.path / layer_name, "create")   # its folder comes with its first mag
        return self._register_layer(props)

    def _register_layer(self, props: LayerProperties, publish: tuple[Path, Path] | None = None) -> Layer:
        def add(fresh: DatasetProperties) -> None:
            if fresh.get_layer(props.name) is not None:
                raise DuplicateError(f"dataset {self.path} has a layer {props.name!r} already")
            fresh.data_layers.append(copy.deepcopy(props))

        self._transact(add, publish)
        return self._layers[props.name]

    def get_or_add_layer(
        self,
        layer_name: str,
        category: LayerCategoryType,
        *,
        dtype: Any = None,
        dtype_per_channel: Any = None,
        num_channels: int | None = None,
        data_format: str | DataFormat | None = None,
        **kwargs: Any,
    ) -> Layer:
        """The layer `layer_name`, added (see `add_layer`) if there is none.

        Raises
        ------
        InvalidRequestError
            The layer exists with another category, channel count or dtype than given
            (an `AssertionError`, as in webknossos).
        """
        if dtype_per_channel is not None and dtype is None:   # with both, add_layer refuses them
            warn_deprecated("dtype_per_channel", "dtype")
            dtype, dtype_per_channel = dtype_per_channel, None
        if layer_name not in self._layers:
            return self.add_layer(layer_name, category, dtype=dtype, dtype_per_channel=dtype_per_channel,
                                  num_channels=num_channels, data_format=data_format, **kwargs)
        layer = self._layers[layer_name]
        wanted = resolve_dtype(dtype, dtype_per_channel, kwargs.get("dtype_per_layer"),
                               layer.num_channels if num_channels is None else num_channels)
        for what, mine, asked in (("number of channels", layer.num_channels, num_channels),
                                  ("category", layer.category, category), ("dtype", layer.dtype, wanted)):
            if asked is not None and mine != asked:
                raise InvalidRequestError(f"Cannot get_or_add_layer: the layer {layer_name!r} exists already, but "
                                          f"its {what} is {mine}, not {asked}")
        return layer

    def delete_layer(self, layer_name: str) -> None:
        """Remove a layer: its properties entry and its folder (only the link, for a
        linked layer; linked and referenced data is never touched).

        The folder is first renamed to a hidden name, then the properties are saved, then
        the renamed folder is deleted, while writers of its mags are held off: a crash at
        any instant leaves the layer listed and whole, or unlisted (see `wkpy._trash`).
        On object storage (no renames, no locks) the layer is unlisted first, then the
        objects under its prefix are deleted: a crash in between leaves unlisted objects,
        never a listed layer with missing data.

        Raises
        ------
        ReadOnlyError
            The dataset is read-only.
        OperationError
            The layer is unlisted, but some of its files could not be deleted (named).
        """
        self._ensure_writable()
        layer = self.get_layer(layer_name)
        if self._remote:
            self._delete_remote_layer(layer)
            return
        path = self.path / check_name(layer_name)   # a link here is renamed and removed, never followed
        aside: list[Path] = []

        def drop(props: DatasetProperties) -> None:
            if os.path.lexists(path):
                aside.append(move_aside(path))
            props.data_layers = [x for x in props.data_layers if x.name != layer_name]

        mags = [] if layer.is_linked else sorted(v.path for v in layer.mags.values() if not v._is_foreign)
        locks = [mag_lock_file(mag_path) for mag_path in mags]
        with contextlib.ExitStack() as held:
            for lock in locks:
                held.enter_context(path_lock(lock))
            self._transact(drop)
            for lock in locks:
                new_mag_generation(lock)      # views opened elsewhere refuse to write now
            for view in layer.mags.values():
                view._array, view._deleted = None, True
            for folder in aside:
                remove(folder)

    def _delete_remote_layer(self, layer: Layer) -> None:
        """`delete_layer` on a remote dataset: unlist the layer first, then delete the
        objects under its prefix. A crash in between leaves unlisted objects (which
        `add_mag` of a new layer of that name refuses to build on, naming them), never a
        listed layer with missing data."""
        name = check_name(layer.name)
        self._transact(lambda p: setattr(p, "data_layers", [x for x in p.data_layers if x.name != name]))
        for view in layer.mags.values():
            view._array, view._deleted = None, True
        self._delete_objects(name)

    def _delete_objects(self, prefix: str) -> None:
        """Delete every object of the (remote) dataset under the folder key `prefix`
        (``<layer>`` or ``<layer>/<mag>``).

        Raises
        ------
        RemoteStorageError
            The deletion failed (naming the URL); some objects may be left, unlisted.
        """
        check_name(prefix.split("/")[0])           # never the dataset's own prefix
        self._store.delete_prefix(prefix)  # type: ignore[attr-defined]

    def add_layer_like(self, other_layer: Layer, layer_name: str) -> Layer:
        """A new empty layer with the dtype, channels, category, box, view configuration,
        coordinate transformations and mappings of `other_layer`; no mags and no
        attachments (as webknossos)."""
        from wkpy.copy import carry_over_metadata, check_format_holds_axes

        check_format_holds_axes(other_layer._properties, other_layer.data_format)
        new = self.add_layer(
            layer_name, other_layer.category, dtype=other_layer.dtype,
            num_channels=other_layer.num_channels, data_format=other_layer.data_format,
            bounding_box=other_layer._properties.bounding_box,
            largest_segment_id=getattr(other_layer, "largest_segment_id", None),
        )
        self._update_layer(new.name, carry_over_metadata(other_layer._properties))
        return new

    def add_symlink_layer(
        self, foreign_layer: Layer | str | os.PathLike[str], new_layer_name: str | None = None,
        *, make_relative: bool = False,
    ) -> Layer:
        """Deprecated (as in webknossos 4.3.3; use `add_layer_as_ref`): link another
        dataset's layer into this one (a filesystem symlink plus properties). The linked
        layer is read-only here."""
        from wkpy.attachments import relink_attachment_paths
        from wkpy.copy import foreign_layer_of

        self._ensure_writable()
        warnings.warn("Using symlinks is deprecated and will be removed in a future version. Use `add_layer_as_ref` "
                      "instead, which adds the mags and attachments of the layer as references to this dataset.",
                      DeprecationWarning, stacklevel=2)
        self._refuse_remote("add_symlink_layer")
        foreign = foreign_layer_of(foreign_layer)
        name = check_name(new_layer_name or foreign.name)
        if name in self._layers:
            raise DuplicateError(f"dataset {self.path} has a layer {name!r} already")
        target = foreign.path.resolve()
        link = ensure_inside(self.path, self.path / name, "create")
        if link.is_dir() and not link.is_symlink() and not any(link.iterdir()):
            link.rmdir()                   # an empty folder, e.g. left by an interrupted add_layer
        if os.path.lexists(link):
            raise DuplicateError(f"{link} exists already; move it away first")
        new = new_folder_for(link)       # renamed into place once listed (see `_transact`)
        new.symlink_to(os.path.relpath(target, self.path.resolve()) if make_relative else target,
                       target_is_directory=True)
        props = copy.deepcopy(foreign._properties)
        props.name = name
        for mag_props in props.mags:
            mag_path = foreign.get_mag(mag_props.mag).path.resolve()
            mag_props.path = (os.path.relpath(mag_path, self.path.resolve()) if make_relative else mag_path).__str__()
        relink_attachment_paths(props, foreign.dataset.path, self.path, make_relative)
        try:
            return self._register_layer(props, publish=(new, link))
        except BaseException:
            if os.path.lexists(new):
                new.unlink()
            raise

    def add_layer_as_ref(self, foreign_layer: Layer | str | os.PathLike[str],
                         new_layer_name: str | None = None) -> Layer:
        """Reference another dataset's layer: a layer like it whose mags are listed by
        their paths (`Layer.add_mag_as_ref`), read-only here; attachments are referenced.

        Raises
        ------
        DuplicateError
            A layer of that name exists (also an `IndexError`).
        InvalidRequestError
            `foreign_layer` belongs to this dataset (also an `AssertionError`).
        """
        from wkpy.copy import foreign_layer_of

        self._ensure_writable()
        foreign = foreign_layer_of(foreign_layer)
        name = check_name(new_layer_name or foreign.name)
        if name in self._layers:
            raise DuplicateError(f"cannot add {foreign.name!r}: dataset {self.path} has a layer {name!r} already")
        if foreign.dataset.resolved_path == self.resolved_path:
            raise InvalidRequestError("cannot reference a layer of the same dataset")
        layer = self.add_layer_like(foreign, name)
        for view in foreign.mags.values():
            layer.add_mag_as_ref(view, extend_layer_bounding_box=False)
        if hasattr(foreign, "attachments") and hasattr(layer, "attachments"):
            for attachment in foreign.attachments:
                layer.attachments.add_attachment_as_ref(attachment)
        return layer

    def add_remote_layer(self, foreign_layer: Layer | str | os.PathLike[str],
                         new_layer_name: str | None = None) -> Layer:
        """Deprecated (as in webknossos 4.3.3): use `add_layer_as_ref`."""
        warn_deprecated("add_remote_layer", "add_layer_as_ref")
        return self.add_layer_as_ref(foreign_layer, new_layer_name)

    def get_segmentation_layer(self, layer_name: str) -> SegmentationLayer:
        """The layer `layer_name`, which must be a segmentation layer (`LayerTypeError`)."""
        return self.get_layer(layer_name).as_segmentation_layer()

    def calculate_bounding_box(self) -> BoundingBox:
        """The smallest box (mag 1) holding every layer's box; empty without layers."""
        boxes = [layer._properties.bounding_box for layer in self._layers.values()]
        if not boxes:
            return BoundingBox.empty()
        box = boxes[0]
        for other in boxes[1:]:
            box = box.extended_by(other)
        return box

    # ---- image conversion -------------------------------------------------------------
    @classmethod
    def from_images(
        cls,
        input_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str],
        voxel_size: Vec3FloatLike | None = None,
        name: str | None = None,
        *,
        map_filepath_to_layer_name: ConversionLayerMapping | Callable[[Path], str] =
        ConversionLayerMapping.INSPECT_SINGLE_FILE,
        z_slices_sort_key: Callable[[Path], Any] | None = None,
        voxel_size_with_unit: VoxelSize | None = None,
        layer_name: str | None = None,
        layer_category: LayerCategoryType | None = None,
        data_format: str | DataFormat | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool = True,
        swap_xy: bool = False,
        flip_x: bool = False,
        flip_y: bool = False,
        flip_z: bool = False,
        max_layers: int = 20,
        batch_size: int | None = None,
        executor: Executor | None = None,
    ) -> Dataset:
        """Create a dataset from the image files in a folder (or one file), as in webknossos 4.3.3.

        Every file with a convertible extension below `input_path` is assigned a layer
        name by `map_filepath_to_layer_name`; each layer's files (2-D slices stacked in
        z, sorted by `z_slices_sort_key`, natural order by default) are converted with
        `add_layer_from_images` with ``allow_multiple_layers=True``. Without
        `layer_category`, a path naming "segmentation" or "labels" makes a
        segmentation layer, any other a color layer.

        Parameters
        ----------
        input_path : path
            A folder of images (searched recursively) or one image file.
        output_path : path
            The new dataset's folder (must not hold a dataset).
        voxel_size : (float, float, float), optional
            In nanometers; or give `voxel_size_with_unit`.
        name : str, optional
            The dataset's name (default: the folder's name).
        map_filepath_to_layer_name : ConversionLayerMapping or callable, optional
            A strategy, or a function from a file's path (relative to `input_path`)
            to its layer's name.
        layer_name : str, optional
            The name of the one layer, or the prefix of several.
        layer_category, data_format, chunk_shape, shard_shape, chunks_per_shard, compress,
        swap_xy, flip_x, flip_y, flip_z, batch_size, executor
            As for `add_layer_from_images`.
        max_layers : int, optional
            At most this many layers in all.

        Returns
        -------
        Dataset

        Raises
        ------
        UnsupportedImageFormatError
            No file below `input_path` can be converted (its ``found_file_extensions``
            and ``missing_extras`` say what was found and what to install).
        CorruptImageError, UnsupportedImageDataError, ImagesNotFoundError
            See `add_layer_from_images`.
        InvalidRequestError
            Neither or both of `voxel_size` and `voxel_size_with_unit`.
        """
        arguments = {k: v for k, v in locals().items() if k != "cls"}   # every parameter, as given
        from wkpy.dataset._image_conversion import image_conversion

        return image_conversion.from_images(cls, **arguments)

    def add_layer_from_images(
        self,
        images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        layer_name: str,
        category: LayerCategoryType | None = "color",
        *,
        data_format: str | DataFormat | None = None,
        mag: MagLike = Mag(1),
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool = True,
        topleft: Vec3IntLike = Vec3Int(0, 0, 0),
        swap_xy: bool = False,
        flip_x: bool = False,
        flip_y: bool = False,
        flip_z: bool = False,
        dtype: Any = None,
        channel: int | None = None,
        czi_channel: int | None = None,
        scale: int | None = None,
        batch_size: int | None = None,
        allow_multiple_layers: bool = False,
        max_layers: int = 20,
        truncate_rgba_to_rgb: bool = True,
        executor: Executor | None = None,
    ) -> Layer:
        """Add a layer (or one per channel) holding images, as in webknossos 4.3.3.

        `images` is one file (PNG, JPEG, GIF, BMP, ICO, a TIFF picture or stack; MRC, IMS
        and CZI with their optional packages), a folder of 2-D pictures (natural name
        order), a glob pattern, or a list of files (in its order). Each 2-D picture is
        one z-slice: its rows are y, its columns x. A TIFF with further axes (e.g. t, z,
        y, x), or an IMS or CZI volume with several timepoints, becomes an n-d layer
        (zarr3 or Zarr v2) as in webknossos 4.3.3: its box has the axes (further axes, t,
        c, x, y, z) and the properties list them in ``additionalAxes``. The work runs in
        parts on `executor` (batches of z-slices at one position of the further axes, or
        shard boxes of MRC/IMS/CZI volumes); a batch holds its slices in memory, nothing
        more. A layer whose conversion fails is removed.

        Parameters
        ----------
        images : path, glob pattern or list of paths
        layer_name : str
            Name of the layer; split layers get ``__channel0``, ``__czi_channel1``, ...
        category : {"color", "segmentation"} or None, optional
            None: segmentation if the path names "segmentation" or "labels", else
            color (what webknossos 4.3.3 ends up with: its later check of the data
            never changes the category).
        data_format : DataFormat or str, optional
            Default ``$WKPY_DEFAULT_DATA_FORMAT``, else WKW (webknossos: zarr3).
        mag : Mag, optional
            The mag the images are written to (the layer's box is in mag 1).
        chunk_shape, shard_shape, chunks_per_shard : optional
            Storage layout; zarr3 layers default to shards one chunk deep
            (``chunk_shape * (128, 128, 1)``), and one-voxel-deep chunks for a single slice.
        compress : bool, optional
        topleft : (int, int, int) or one int per axis of an n-d layer's box, optional
            Where the images start, in mag-1 voxels (x, y, z; or e.g. t, c, x, y, z).
        swap_xy, flip_x, flip_y, flip_z : bool, optional
            Swap x and y; mirror an axis over the whole image (as in webknossos,
            `flip_x` reverses the image's rows and `flip_y` its columns).
        dtype : dtype-like, optional
            Convert the voxels to it (``numpy.ndarray.astype``).
        channel : int, optional
            Convert only this channel.
        czi_channel : int, optional
            The CZI acquisition channel to convert.
        scale : int, optional
            Accepted for webknossos compatibility (multiscale sources are not read).
        batch_size : int, optional
            z-slices per task (default: a shard's depth, fewer whole chunks if the
            tasks running at once would hold more than 1 GiB). Any positive number.
        allow_multiple_layers : bool, optional
            Split channels that cannot share a layer (all but one channel or three
            uint8 channels) into one layer each, colored red, green, blue, ...
        max_layers : int, optional
            At most this many layers from one split.
        truncate_rgba_to_rgb : bool, optional
            Drop the alpha channel of RGBA pictures.
        executor : concurrent.futures.Executor, optional
            Runs the parts (default: a thread pool).

        Returns
        -------
        Layer
            The (first) layer added.

        Raises
        ------
        UnsupportedImageFormatError
            No reader for the format, or its optional package is not installed
            (``missing_extras`` names the wkpy extra).
        CorruptImageError
            A file of a supported format cannot be decoded.
        UnsupportedImageDataError
            The data cannot be stored as asked: a dtype the category does not allow,
            channels that need ``allow_multiple_layers=True``, axes beyond c, x, y, z
            for a WKW layer.
        ImagesNotFoundError
            `images` does not exist (a `FileNotFoundError` and a `ValueError`).
        UnsupportedError
            `images` is a URL (``s3://...``, a remote ``UPath``): images are read locally.
        InvalidRequestError
            Bad arguments (layer name, batch size, shapes, channel index).
        DuplicateError
            A layer of that name exists.
        """
        arguments = {k: v for k, v in locals().items() if k != "self"}   # every parameter, as given
        from wkpy.dataset._image_conversion import image_conversion

        return image_conversion.add_layer_from_images(self, **arguments)

    def add_layer_for_existing_files(
        self, layer_name: str, category: LayerCategoryType, *, data_format: str | DataFormat | None = None,
        **kwargs: Any
    ) -> Layer:
        """Register a layer folder that already holds mags (found on disk, box from files)."""
        from wkpy.copy import register_existing_layer

        self._ensure_writable()
        if data_format is None:   # as webknossos: the format of the files found
            data_format = next((f for f, meta in METADATA_FILES.items()
                                if any((self.path / check_name(layer_name)).glob(f"*/{meta}"))), None)
        data_format = (default_data_format() if data_format is None else writable_data_format(data_format)).value
        return register_existing_layer(self, layer_name, category, data_format, **kwargs)

    def add_layer_as_copy(
        self,
        foreign_layer: Layer | str | os.PathLike[str],
        new_layer_name: str | None = None,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        data_format: str | DataFormat | None = None,
        compress: bool | str | Any = None,
        exists_ok: bool = False,
        executor: Executor | None = None,
        with_attachments: bool = True,
    ) -> Layer:
        """Copy a layer of another dataset (a `Layer` or the path of a layer folder) into
        this one, with its metadata and (segmentation layers) attachments, as in
        webknossos 4.3.3: every mag through `Layer.add_mag_as_copy` (the layout kept
        unless shapes, format or compression are given), shard by shard on `executor`.

        With `exists_ok`, an existing layer of that name (same category, dtype and
        channels) is copied into.

        Raises
        ------
        DuplicateError
            A layer of that name exists (without `exists_ok`; an `IndexError`).
        InvalidRequestError
            An invalid name or data format (a `ValueError`).
        """
        from wkpy.copy import copy_layer, foreign_layer_of

        self._ensure_writable()
        if data_format is not None:
            data_format = writable_data_format(data_format).value
        return copy_layer(foreign_layer_of(foreign_layer), self, new_layer_name, chunk_shape=chunk_shape,
                          shard_shape=shard_shape, chunks_per_shard=chunks_per_shard, compress=compress,
                          data_format=data_format, exists_ok=exists_ok, executor=executor,
                          with_attachments=with_attachments)

    def add_copy_layer(
        self, foreign_layer: Layer | str | os.PathLike[str], new_layer_name: str | None = None, *,
        chunk_shape: Vec3IntLike | int | None = None, shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None, data_format: str | DataFormat | None = None,
        compress: bool | None = None, exists_ok: bool = False, executor: Executor | None = None,
        with_attachments: bool = True,
    ) -> Layer:
        """Deprecated (as in webknossos 4.3.3): use `add_layer_as_copy`."""
        warn_deprecated("add_copy_layer", "add_layer_as_copy")
        return self.add_layer_as_copy(foreign_layer, new_layer_name, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                      chunks_per_shard=chunks_per_shard, data_format=data_format,
                                      compress=compress, exists_ok=exists_ok, executor=executor,
                                      with_attachments=with_attachments)

    def add_fs_copy_layer(self, foreign_layer: Layer | str | os.PathLike[str],
                          new_layer_name: str | None = None) -> Layer:
        """Deprecated (as in webknossos 4.3.3): `add_layer_as_copy` keeps the layout of
        each mag by itself (see `Layer._add_fs_copy_mag` for how wkpy copies)."""
        warn_deprecated("add_fs_copy_layer", "add_layer_as_copy")
        return self.add_layer_as_copy(foreign_layer, new_layer_name)

    def copy_dataset(
        self,
        new_dataset_path: str | os.PathLike[str],
        *,
        voxel_size: Vec3FloatLike | None = None,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        data_format: str | DataFormat | None = None,
        compress: bool | None = None,
        exists_ok: bool = False,
        layers_to_ignore: Iterable[str] | None = None,
        executor: Executor | None = None,
        voxel_size_with_unit: VoxelSize | None = None,
    ) -> Dataset:
        """Copy every layer into a new dataset (named after its folder, as in webknossos),
        each with `add_layer_as_copy`: re-chunking, re-sharding, (de)compressing and
        converting the format as asked, shard by shard on `executor`."""
        if data_format is not None:
            data_format = writable_data_format(data_format).value
        if voxel_size is None and voxel_size_with_unit is None:
            voxel_size_with_unit = self.voxel_size_with_unit
        new = Dataset(new_dataset_path, voxel_size=voxel_size, voxel_size_with_unit=voxel_size_with_unit,
                      exist_ok=exists_ok)
        new.default_view_configuration = self.default_view_configuration
        for layer in self._layers.values():
            if layers_to_ignore is not None and layer.name in layers_to_ignore:
                continue
            new.add_layer_as_copy(layer, chunk_shape=chunk_shape, shard_shape=shard_shape,
                                  chunks_per_shard=chunks_per_shard, data_format=data_format, compress=compress,
                                  exists_ok=exists_ok, executor=executor)
        return new

    def fs_copy_dataset(self, new_dataset_path: str | os.PathLike[str], *, exists_ok: bool = False,
                        layers_to_ignore: Iterable[str] | None = None) -> Dataset:
        """Deprecated (as in webknossos 4.3.3): `copy_dataset` keeps each mag's layout by itself."""
        warn_deprecated("fs_copy_dataset", "copy_dataset")
        return self.copy_dataset(new_dataset_path, exists_ok=exists_ok, layers_to_ignore=layers_to_ignore)

    def shallow_copy_dataset(
        self,
        new_dataset_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        layers_to_ignore: Iterable[str] | None = None,
        make_relative: bool | None = None,
    ) -> Dataset:
        """A new dataset that references every layer of this one (`add_layer_as_ref`: mags
        and attachments listed by path, no data copied, read-only there), with the voxel
        size, name (unless `name`) and view configuration of this one, as in webknossos.

        Raises
        ------
        DatasetExistsError
            Something is at `new_dataset_path` already.
        """
        if make_relative is not None:
            warnings.warn("make_relative is deprecated and has no effect: shallow_copy_dataset references the "
                          "layers and uses no links", DeprecationWarning, stacklevel=2)
        new = Dataset(new_dataset_path, voxel_size_with_unit=self.voxel_size_with_unit, name=name or self.name)
        new.default_view_configuration = self.default_view_configuration
        for layer_name, layer in self._layers.items():
            if layers_to_ignore is not None and layer_name in layers_to_ignore:
                continue
            new.add_layer_as_ref(layer, layer_name)
        return new

    def write_layer(
        self,
        layer_name: str,
        category: LayerCategoryType,
        data: np.ndarray,
        *,
        data_format: str | DataFormat | None = None,
        downsample: bool = True,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        axes: Iterable[str] | None = None,
        absolute_offset: Vec3IntLike | VecIntLike | None = None,
        mag: MagLike = 1,
    ) -> Layer:
        """A new layer holding `data` at mag `mag`, compressed, then downsampled (as in
        webknossos 4.3.3).

        Parameters
        ----------
        data : numpy array
            Without `axes`: (x, y, z) (fewer dimensions are padded with size-1 axes) or
            (c, x, y, z); with `axes`, along those axes (e.g. ``("c", "t", "x", "y", "z")``
            for a layer with an additional axis t). Of a dtype the category allows; its
            shape is in voxels of `mag`.
        data_format : default as `add_layer` (WKW, or ``$WKPY_DEFAULT_DATA_FORMAT``);
            layers with additional axes need ``"zarr3"`` or ``"zarr"``.
        axes : the axis names of `data`, one per dimension.
        absolute_offset : mag-1 position of the data's first voxel (default 0 everywhere):
            along x, y, z, or with `axes` one value per axis, as webknossos takes it.

        Raises
        ------
        InvalidRequestError
            A scalar, more than four dimensions without `axes`, or `axes` (or an offset)
            of another length than the data's dimensions.
        UnsupportedError
            Additional axes for a WKW layer.
        """
        from wkpy.geometry.nd_bounding_box import derive_nd_bounding_box_from_shape

        data = np.asarray(data)
        box, num_channels = derive_nd_bounding_box_from_shape(data.shape, axes=axes, absolute_offset=absolute_offset)
        if axes is None and data.ndim < 3:
            data = data.reshape(tuple(box.size))
        mag = Mag(mag)
        box = box.with_size_xyz(box.size_xyz * mag.to_vec3_int())
        layer = self.add_layer(layer_name, category, dtype=data.dtype, num_channels=num_channels,
                               data_format=data_format, bounding_box=box)
        view = layer.add_mag(mag, chunk_shape=chunk_shape, shard_shape=shard_shape,
                             chunks_per_shard=chunks_per_shard, compress=True)
        view.write(data, absolute_bounding_box=layer.bounding_box)
        if downsample:
            layer.downsample()
        return layer

    def compress(self, executor: Executor | None = None) -> None:
        """Compress every mag of every layer in place."""
        self._ensure_writable()
        for layer in self._layers.values():
            layer.compress(executor=executor)

    def downsample(self, sampling_mode: str = "anisotropic", coarsest_mag: Any = None,
                   executor: Executor | None = None) -> None:
        """Downsample every layer from its finest mag."""
        for layer in self._layers.values():
            layer.downsample(coarsest_mag=coarsest_mag, sampling_mode=sampling_mode, executor=executor)
