"""Attachments of segmentation layers: meshes, agglomerates, segment index, ... (webknossos 4.3.3 API).

wkpy lists, adds, renames and removes the ``attachments`` entries of a layer and copies
their files; of their contents it reads and writes only agglomerate files
(`AgglomerateAttachment.create`, `AgglomerateAttachment.to_graph`, see
`wkpy.agglomerate_graph`).

A path in the properties file is data, not trust. Reading goes wherever it points (an
attachment may live in another dataset). URLs (strings, or ``upath.UPath`` objects) are
recorded as webknossos records them and never opened. Writing into a dataset happens only
at ``<layer>/<container>/<name>`` (`Attachments.add_attachment_as_copy`,
`AgglomerateAttachment.create_and_add_to`, `Attachments.add_symlink_attachments`), with a
checked name and only inside the dataset, built under a hidden name and renamed into place
in the same locked transaction that lists it. Removing an attachment unlists it and never
deletes a file (as webknossos).

Examples
--------
>>> mesh = wk.MeshAttachment.from_path_and_name("/data/meshes/m.hdf5", "m", data_format="hdf5")
>>> layer.attachments.add_attachment_as_ref(mesh)          # doctest: +SKIP
>>> layer.attachments.meshes[0].path                       # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from wkpy._paths import ensure_inside, open_regular_file
from wkpy._trash import new_folder_for, remove
from wkpy._urls import UrlPath, url_of
from wkpy.errors import AttachmentExistsError, InvalidRequestError, UnsupportedError
from wkpy.locking import mag_lock_file, path_lock
from wkpy.properties import AttachmentDataFormat, AttachmentProperties, AttachmentsProperties
from wkpy.properties._attachments import CONTAINERS, SINGLETONS

if TYPE_CHECKING:
    from wkpy.agglomerate_graph import AgglomerateGraph
    from wkpy.dataset.layer.layer import Layer, SegmentationLayer

__all__ = ["AgglomerateAttachment", "Attachment", "AttachmentDataFormat", "Attachments", "ConnectomeAttachment",
           "CumsumAttachment", "MeshAttachment", "SegmentIndexAttachment", "SegmentStatisticsAttachment"]

# webknossos' rule for layer and attachment names: no "/" and no leading "."
_NAME = re.compile(r"^[A-Za-z0-9_$@\-]+[A-Za-z0-9_$@\-.]*$")
_A = TypeVar("_A", bound="Attachment")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequestError(f"attachment name {name!r} is not allowed: use letters, digits and _$@-. "
                                  "(not starting with '.')")
    return name


def _resolve(path: Any, dataset_path: Path | None) -> Path | UrlPath:
    """The absolute, link-free form of `path` (relative ones against `dataset_path`); a URL
    (string or remote ``UPath``) as the string webknossos records."""
    url = url_of(path)
    if url is not None:
        return UrlPath(url)
    p = Path(path)
    if not p.is_absolute():
        p = (dataset_path / p) if dataset_path is not None else p.absolute()
    return Path(os.path.realpath(p))


def _dump(path: Path | str, dataset_path: Path | None) -> str:
    """The ``path`` webknossos writes: ``./...`` inside the dataset, else absolute (or the URL)."""
    if isinstance(path, str):
        return str(path)
    if dataset_path is not None:
        root = Path(os.path.realpath(dataset_path))
        if path.is_relative_to(root):
            return "./" + path.relative_to(root).as_posix()
    return path.as_posix()


class Attachment:
    """One attachment: `name`, `path` (absolute `Path`, or a `UrlPath`) and `data_format`."""

    container_name: ClassVar[str]
    type_name: ClassVar[str]
    formats: ClassVar[tuple[AttachmentDataFormat, ...]]

    def __init__(self, properties: AttachmentProperties, path: Path | UrlPath) -> None:
        if properties.data_format not in self.formats:
            allowed = ", ".join(f.value for f in self.formats)
            raise InvalidRequestError(f"{properties.data_format.value!r} is not a data format of "
                                      f"{type(self).__name__} (allowed: {allowed})")
        self._properties = properties
        self.name = _check_name(properties.name)
        self.path = path
        self.data_format = properties.data_format

    @classmethod
    def from_path_and_name(cls: type[_A], path: str | os.PathLike[str] | Any, name: str, *,
                           data_format: AttachmentDataFormat | str,
                           dataset_path: str | os.PathLike[str] | None = None) -> _A:
        """An attachment at `path`, as in webknossos 4.3.3.

        Parameters
        ----------
        path
            A local path (relative ones: against `dataset_path`, else the working
            directory), or a URL: a string such as ``"https://host/mesh.zarr"`` or a remote
            ``upath.UPath`` (``UPath("s3://bucket/key", endpoint_url=...)`` is recorded as
            ``s3://<endpoint host>/bucket/key``). Nothing is opened.
        name
            The attachment's name (letters, digits, ``_$@-.``, not starting with ``.``).
        data_format
            One of the formats this kind of attachment allows.
        dataset_path
            Makes the recorded path ``./...`` when `path` lies inside it.

        Raises
        ------
        InvalidRequestError
            A bad name, an unknown or disallowed data format, or an S3 path without
            ``endpoint_url``.
        """
        root = None if dataset_path is None else Path(dataset_path)
        try:
            fmt = AttachmentDataFormat(data_format)
        except ValueError:
            raise InvalidRequestError(f"unknown attachment data format {data_format!r}") from None
        resolved = _resolve(path, root)
        return cls(AttachmentProperties(_check_name(name), _dump(resolved, root), fmt), resolved)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attachment):
            return NotImplemented
        return (self.name, os.fspath(self.path), self.data_format) == (
            other.name, os.fspath(other.path), other.data_format)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name}, data_format={self.data_format})"


_Z, _H, _J, _N = (AttachmentDataFormat.Zarr3, AttachmentDataFormat.HDF5, AttachmentDataFormat.JSON,
                  AttachmentDataFormat.NeuroglancerPrecomputed)


class MeshAttachment(Attachment):
    container_name, type_name, formats = "meshes", "mesh", (_Z, _H, _N)


class AgglomerateAttachment(Attachment):
    """An agglomerate mapping: which segments belong together, as a graph
    (`create`, `create_and_add_to`, `to_graph`; see `wkpy.agglomerate_graph`)."""

    container_name, type_name, formats = "agglomerates", "agglomerate", (_Z, _H)

    @classmethod
    def create(cls, path: str | os.PathLike[str], graph: AgglomerateGraph, *,
               segmentation_dtype: npt.DTypeLike = "uint32") -> AgglomerateAttachment:
        """Write `graph` as a Zarr v3 agglomerate file at `path` (a new folder, named like
        the attachment) and return the attachment, as in webknossos 4.3.3.

        The folder is built under a hidden name beside `path` and renamed into place when
        complete, so `path` never holds half a file. Missing parent folders are created.

        Parameters
        ----------
        path
            Where the file goes: absent, or an empty folder.
        graph
            Nodes: segment ids 1..n, each with a ``position`` (x, y, z); edges with an
            ``affinity``. Connected components become the agglomerates.
        segmentation_dtype
            uint32 or uint64, the type of the segmentation layer it is for.

        Raises
        ------
        InvalidGraphError
            The graph does not have that form, or `segmentation_dtype` is neither type.
        AttachmentExistsError
            Something (other than an empty folder) exists at `path`.
        UnsupportedError
            `path` is a URL (wkpy writes local files only).
        """
        from wkpy.agglomerate_graph import graph_to_arrays
        from wkpy.storage.agglomerate_file import write_agglomerate_file

        if url_of(path) is not None:
            raise UnsupportedError(f"cannot write an agglomerate file to {url_of(path)}: only local paths")
        target = Path(os.path.abspath(path))
        arrays = graph_to_arrays(graph, segmentation_dtype)
        _check_name(target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with path_lock(mag_lock_file(target)):
            _refuse_existing(target)
            built = new_folder_for(target)
            try:
                write_agglomerate_file(built, arrays)
                _publish(built, target)
            except BaseException:
                _remove_copy(built)
                raise
        return cls.from_path_and_name(target, target.name, data_format=_Z)

    @classmethod
    def create_and_add_to(cls, layer: SegmentationLayer, name: str, graph: AgglomerateGraph,
                          ) -> AgglomerateAttachment:
        """Write `graph` as the agglomerate file ``<layer>/agglomerates/<name>`` and list it,
        as in webknossos 4.3.3 (see `create`). The file is renamed into place in the same
        locked transaction that lists it.

        Raises
        ------
        InvalidRequestError
            The layer's dtype is not uint32 or uint64 (also an `AssertionError`, as in
            webknossos), or `name` is not allowed.
        AttachmentExistsError
            The folder exists, or an agglomerate of that name is listed.
        ForeignPathError
            The folder would lie outside the dataset (e.g. a linked layer).
        InvalidGraphError
            See `create`.
        """
        from wkpy.agglomerate_graph import graph_to_arrays
        from wkpy.storage.agglomerate_file import write_agglomerate_file

        dtype = np.dtype(layer.dtype)
        if dtype not in (np.uint32, np.uint64):
            raise InvalidRequestError(f"Cannot create agglomerate attachment for segmentation layer with dtype "
                                      f"{dtype}. Please use a segmentation layer with dtype uint32 or uint64.")
        arrays = graph_to_arrays(graph, dtype)
        return layer.attachments._add_built(  # type: ignore[return-value]
            cls, name, _Z, lambda built: write_agglomerate_file(built, arrays))

    def to_graph(self) -> AgglomerateGraph:
        """Read the agglomerate file back as an `AgglomerateGraph` (nodes in file order,
        ``position`` as `Vec3Int`, ``affinity`` as float), as in webknossos 4.3.3.

        Raises
        ------
        UnsupportedError
            The attachment is not Zarr3 (also a `NotImplementedError`, as in webknossos),
            or lies at a URL.
        CorruptFileError
            The file is missing, damaged, or its arrays contradict each other; the file is
            checked before anything is allocated for it (see
            `wkpy.storage.agglomerate_file`).
        """
        from wkpy.agglomerate_graph import arrays_to_graph
        from wkpy.storage.agglomerate_file import read_agglomerate_file

        if self.data_format != _Z:
            raise UnsupportedError(f"to_graph() only supports Zarr3 format, got {self.data_format}")
        if isinstance(self.path, UrlPath):
            raise UnsupportedError(f"cannot read agglomerate file {self.path}: only local files")
        return arrays_to_graph(read_agglomerate_file(Path(self.path)), str(self.path))


class SegmentIndexAttachment(Attachment):
    container_name, type_name, formats = "segment_index", "segmentIndex", (_Z, _H)


class SegmentStatisticsAttachment(Attachment):
    container_name, type_name, formats = "segment_statistics", "segmentStatistics", (_Z,)


class CumsumAttachment(Attachment):
    container_name, type_name, formats = "cumsum", "cumsum", (_Z, _J)


class ConnectomeAttachment(Attachment):
    container_name, type_name, formats = "connectomes", "connectome", (_Z, _H)


_KINDS: dict[str, type[Attachment]] = {k.container_name: k for k in (
    MeshAttachment, AgglomerateAttachment, SegmentIndexAttachment, SegmentStatisticsAttachment,
    CumsumAttachment, ConnectomeAttachment)}


def _remove_copy(path: Path) -> None:
    """Remove a file or folder this module just created (never anything it did not)."""
    if os.path.isdir(path) and not os.path.islink(path):
        remove(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _refuse_existing(target: Path) -> None:
    """Raise unless `target` is absent or an empty folder (which a rename replaces)."""
    if not os.path.lexists(target):
        return
    if os.path.isdir(target) and not os.path.islink(target):
        with os.scandir(target) as entries:
            if next(entries, None) is None:
                return
    raise AttachmentExistsError(f"{target} exists already")


def _publish(built: Path, target: Path) -> None:
    """Rename the complete `built` to `target` (absent, or an empty folder)."""
    try:
        os.rename(built, target)
    except OSError as exc:
        if os.path.lexists(target):
            raise AttachmentExistsError(f"{target} exists already") from exc
        raise


def _folder_name(container: str) -> str:
    return CONTAINERS[container]          # the camelCase JSON key is also the folder name


def _file_name(name: str, data_format: AttachmentDataFormat) -> str:
    return name if data_format in (_Z, _N) else f"{name}.{data_format.value.lower()}"


class Attachments:
    """The attachments of a `SegmentationLayer` (``layer.attachments``).

    `meshes`, `agglomerates` and `connectomes` are tuples; `segment_index`,
    `segment_statistics` and `cumsum` one attachment or None. Iterating yields all.
    """

    def __init__(self, layer: SegmentationLayer) -> None:
        self._layer = layer

    # ---- reading --------------------------------------------------------------------
    @property
    def _properties(self) -> AttachmentsProperties:
        return self._layer._properties.attachments  # type: ignore[attr-defined,no-any-return]

    def _dataset_path(self) -> Path:
        return self._layer.dataset.resolved_path

    def _wrap(self, container: str, props: AttachmentProperties) -> Attachment:
        return _KINDS[container](props, _resolve(props.path, self._dataset_path()))

    def _list(self, container: str) -> tuple[Any, ...]:
        return tuple(self._wrap(container, p) for p in getattr(self._properties, container) or ())

    def _single(self, container: str) -> Any:
        found = getattr(self._properties, container)
        return None if found is None else self._wrap(container, found)

    @property
    def meshes(self) -> tuple[MeshAttachment, ...]:
        return self._list("meshes")

    @property
    def agglomerates(self) -> tuple[AgglomerateAttachment, ...]:
        return self._list("agglomerates")

    @property
    def connectomes(self) -> tuple[ConnectomeAttachment, ...]:
        return self._list("connectomes")

    @property
    def segment_index(self) -> SegmentIndexAttachment | None:
        return self._single("segment_index")  # type: ignore[no-any-return]

    @property
    def segment_statistics(self) -> SegmentStatisticsAttachment | None:
        return self._single("segment_statistics")  # type: ignore[no-any-return]

    @property
    def cumsum(self) -> CumsumAttachment | None:
        return self._single("cumsum")  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Attachment]:
        props = self._properties
        for container in CONTAINERS:
            if container in SINGLETONS:
                if getattr(props, container) is not None:
                    yield self._wrap(container, getattr(props, container))
            else:
                yield from (self._wrap(container, p) for p in getattr(props, container) or ())

    @property
    def is_empty(self) -> bool:
        return next(iter(self), None) is None

    def __repr__(self) -> str:
        return f"Attachments({list(self)})"

    # ---- changing -------------------------------------------------------------------
    def _change(self, change: Any, publish: tuple[Path, Path] | None = None) -> None:
        def apply(layer_props: Any) -> None:
            found = layer_props.attachments
            change(found)
            layer_props.attachments = found

        self._layer._ensure_writable()
        self._layer.dataset._update_layer(self._layer.name, apply, publish)

    def _add(self, attachment: Attachment, publish: tuple[Path, Path] | None = None) -> None:
        container, props = attachment.container_name, attachment._properties

        def add(found: AttachmentsProperties) -> None:
            if container in SINGLETONS:
                setattr(found, container, props)
                return
            entries = getattr(found, container) or []
            if any(a.name == props.name for a in entries):
                raise AttachmentExistsError(f"layer {self._layer.name!r} has a {attachment.type_name} "
                                            f"attachment {props.name!r} already")
            setattr(found, container, [*entries, props])

        self._change(add, publish)

    def _find(self, attachment: Attachment) -> None:
        if not any(attachment == mine and type(attachment) is type(mine) for mine in self):
            raise InvalidRequestError(f"{attachment!r} is not an attachment of layer {self._layer.name!r}")

    def add_attachment_as_ref(self, attachment: Attachment, *, new_name: str | None = None) -> Attachment:
        """List `attachment` by its path (no files are copied); return it as listed here."""
        new = type(attachment).from_path_and_name(
            attachment.path, new_name if new_name is not None else attachment.name,
            data_format=attachment.data_format, dataset_path=self._dataset_path())
        self._add(new)
        return new

    def add_attachment_as_copy(self, attachment: Attachment) -> Attachment:
        """Copy the file (or folder) of `attachment` to ``<layer>/<container>/<name>`` and
        list the copy.

        Raises
        ------
        ForeignPathError
            The target would lie outside the dataset (e.g. the layer is linked).
        AttachmentExistsError
            The target exists, or a listed attachment has that name.
        UnsupportedError
            The attachment is at a URL (wkpy copies local files only).
        """
        if isinstance(attachment.path, UrlPath):
            raise UnsupportedError(f"cannot copy attachment {attachment.name!r} from {attachment.path}: "
                                   "only local files")
        source = Path(attachment.path)
        if not source.exists():
            raise InvalidRequestError(f"attachment {attachment.name!r}: {source} does not exist")

        return self._add_built(type(attachment), attachment.name, attachment.data_format,
                               lambda built: _copy_regular_tree(source, built, frozenset()))

    def add_symlink_attachments(self, *other: Attachment, make_relative: bool = False) -> list[Attachment]:
        """Deprecated (as in webknossos 4.3.3): put a symlink to each attachment at
        ``<layer>/<container>/<name>`` and list the attachment by its (resolved) path.
        Attachments at URLs are listed by reference.

        Raises
        ------
        ForeignPathError, AttachmentExistsError
            As `add_attachment_as_copy`.
        """
        warnings.warn("Using symlinks is deprecated and will be removed in a future version. "
                      "Use `add_attachment_as_ref` instead, which adds an attachment as a reference to the layer.",
                      DeprecationWarning, stacklevel=2)
        added = []
        for attachment in other:
            if isinstance(attachment.path, UrlPath):
                added.append(self.add_attachment_as_ref(attachment))
                continue
            source = Path(os.path.realpath(attachment.path))

            def link(built: Path, source: Path = source) -> None:
                os.symlink(os.path.relpath(source, built.parent) if make_relative else source, built)

            added.append(self._add_built(type(attachment), attachment.name, attachment.data_format, link,
                                         listed=source))
        return added

    def _add_built(self, kind: type[Attachment], name: str, data_format: AttachmentDataFormat,
                   build: Callable[[Path], None], listed: Path | None = None) -> Attachment:
        """Make the file of a new attachment with `build(path)` under a hidden name in
        ``<layer>/<container>/``, then list it (at `listed`, default its place) and rename
        it to ``<name>`` in one locked transaction; on failure remove what was built."""
        self._layer._ensure_writable()
        _check_name(name)
        folder = Path(os.path.abspath(self._layer.path)) / _folder_name(kind.container_name)
        target = folder / _file_name(name, data_format)
        root = self._layer.dataset.path
        ensure_inside(root, folder, "create")
        if os.path.lexists(target) or (kind.container_name not in SINGLETONS and any(
                a.name == name for a in getattr(self, kind.container_name))):
            raise AttachmentExistsError(f"{target} exists or is listed already; cannot add attachment {name!r} there")
        folder.mkdir(parents=True, exist_ok=True)
        ensure_inside(root, folder, "create")
        # built under a hidden name and renamed into place right after the JSON lists it
        # (`Dataset._transact`); its lock keeps `recover` elsewhere off it meanwhile
        built = new_folder_for(target)
        with path_lock(mag_lock_file(target)):
            try:
                build(built)
                new = kind.from_path_and_name(listed or target, name, data_format=data_format,
                                              dataset_path=self._dataset_path())
                self._add(new, publish=(built, target))
            except BaseException:
                _remove_copy(built)
                raise
        return new

    def rename_attachment(self, attachment: Attachment, *, new_name: str) -> Attachment:
        """Rename the listed entry (files stay where they are, as in webknossos)."""
        _check_name(new_name)
        self._find(attachment)
        container, old = attachment.container_name, attachment._properties

        def rename(found: AttachmentsProperties) -> None:
            if container in SINGLETONS:
                setattr(found, container, AttachmentProperties(new_name, old.path, old.data_format))
                return
            entries = getattr(found, container) or []
            if any(a.name == new_name for a in entries):
                raise AttachmentExistsError(f"layer {self._layer.name!r} has a {attachment.type_name} "
                                            f"attachment {new_name!r} already")
            setattr(found, container, [AttachmentProperties(new_name, a.path, a.data_format)
                                       if a.name == old.name else a for a in entries])

        self._change(rename)
        return next(a for a in self if type(a) is type(attachment) and a.name == new_name)

    def delete_attachment(self, attachment: Attachment) -> None:
        """Unlist `attachment`; its files are kept (as in webknossos)."""
        self._find(attachment)
        container = attachment.container_name

        def drop(found: AttachmentsProperties) -> None:
            if container in SINGLETONS:
                setattr(found, container, None)
            else:
                kept = [a for a in getattr(found, container) or [] if a.name != attachment.name]
                setattr(found, container, kept or None)

        self._change(drop)

    # ---- webknossos' older spellings ----------------------------------------------------
    def _deprecated_add(self, kind: type[_A], method: str, path: Any, name: str, data_format: Any) -> _A:
        warnings.warn(f"[DEPRECATION] `{method}` is deprecated, please use `{kind.__name__}.from_path_and_name` "
                      "and `Attachments.add_attachment_as_copy` or `Attachments.add_attachment_as_ref` instead",
                      DeprecationWarning, stacklevel=3)
        new = kind.from_path_and_name(path, name, data_format=data_format, dataset_path=self._dataset_path())
        self._add(new)
        return new

    def add_mesh(self, path: Any, *, name: str, data_format: Any) -> MeshAttachment:
        return self._deprecated_add(MeshAttachment, "add_mesh", path, name, data_format)

    def add_agglomerate(self, path: Any, *, name: str, data_format: Any) -> AgglomerateAttachment:
        return self._deprecated_add(AgglomerateAttachment, "add_agglomerate", path, name, data_format)

    def add_connectome(self, path: Any, *, name: str, data_format: Any) -> ConnectomeAttachment:
        return self._deprecated_add(ConnectomeAttachment, "add_connectome", path, name, data_format)

    def set_segment_index(self, path: Any, *, name: str, data_format: Any) -> SegmentIndexAttachment:
        return self._deprecated_add(SegmentIndexAttachment, "set_segment_index", path, name, data_format)

    def set_cumsum(self, path: Any, *, name: str, data_format: Any) -> CumsumAttachment:
        return self._deprecated_add(CumsumAttachment, "set_cumsum", path, name, data_format)

    def add_attachments(self, *other: Attachment) -> list[Attachment]:
        warnings.warn("[DEPRECATION] `add_attachments` is deprecated, use `add_attachment_as_ref`",
                      DeprecationWarning, stacklevel=2)
        return [self.add_attachment_as_ref(a) for a in other]

    def add_copy_attachments(self, *other: Attachment) -> list[Attachment]:
        warnings.warn("[DEPRECATION] `add_copy_attachments` is deprecated, use `add_attachment_as_copy`",
                      DeprecationWarning, stacklevel=2)
        return [self.add_attachment_as_copy(a) for a in other]

    def detect_legacy_attachments(self) -> None:
        """List the files older webknossos versions kept in the layer folder without
        listing them: ``meshes/*.hdf5``, ``agglomerates/*.hdf5``, ``connectomes/*.hdf5``,
        ``segmentIndex/*.hdf5`` and ``agglomerates/cumsum.json``."""
        base = self._layer.dataset.resolved_path / self._layer.name
        for kind in (MeshAttachment, AgglomerateAttachment, ConnectomeAttachment, SegmentIndexAttachment):
            for file in sorted((base / _folder_name(kind.container_name)).glob("*.hdf5")):
                self._add(kind.from_path_and_name(file, file.stem, data_format=_H,
                                                  dataset_path=self._dataset_path()))
        cumsum = base / "agglomerates" / "cumsum.json"
        if cumsum.exists():
            self._add(CumsumAttachment.from_path_and_name(cumsum, "cumsum", data_format=_J,
                                                          dataset_path=self._dataset_path()))


def _copy_regular_tree(source: Path, built: Path, above: frozenset[tuple[int, int]]) -> None:
    """Copy the attachment file or folder `source` (links followed) to `built`.

    Only folders and regular files are copied: a FIFO or device (planted in a foreign
    attachment, or named by its path) would hang the copy or fill the disk.

    Raises
    ------
    CorruptFileError
        `source` holds something that is not a regular file or folder, or a link to a
        folder it lies in (a cycle); the message names it.
    """
    from wkpy.errors import CorruptFileError

    st = os.stat(source)
    if not stat.S_ISDIR(st.st_mode):
        with os.fdopen(open_regular_file(source), "rb") as src, open(built, "xb") as dst:
            shutil.copyfileobj(src, dst)
        return
    here = (st.st_dev, st.st_ino)
    if here in above:
        raise CorruptFileError(f"{source}: a link to a folder it lies in; cannot copy the attachment")
    os.mkdir(built)
    for entry in sorted(os.listdir(source)):
        _copy_regular_tree(source / entry, built / entry, above | {here})


def copy_attachments(source: Layer, target: Layer) -> None:
    """Copy every attachment of `source` into `target` (both segmentation layers), as
    webknossos' ``add_layer_as_copy`` does; attachments at URLs or at paths that do not
    exist stay listed by their (absolute) path."""
    from wkpy.dataset.layer.layer import SegmentationLayer

    if not (isinstance(source, SegmentationLayer) and isinstance(target, SegmentationLayer)):
        return
    for attachment in source.attachments:
        if isinstance(attachment.path, UrlPath) or not Path(attachment.path).exists():
            target.attachments.add_attachment_as_ref(attachment)
        else:
            target.attachments.add_attachment_as_copy(attachment)


def relink_attachment_paths(props: Any, source_dataset: Path, target_dataset: Path,
                            make_relative: bool = False) -> None:
    """Rewrite the attachment paths of a layer's properties `props`, taken from the dataset
    at `source_dataset`, for listing them in `target_dataset` (``add_symlink_layer``):
    absolute, or relative to `target_dataset` with `make_relative` (as webknossos)."""
    found = getattr(props, "attachments", None)
    if found is None:
        return
    for entry in found:
        resolved = _resolve(entry.path, Path(os.path.realpath(source_dataset)))
        if isinstance(resolved, Path) and make_relative:
            entry.path = Path(os.path.relpath(resolved, os.path.realpath(target_dataset))).as_posix()
        else:
            entry.path = _dump(resolved, None)
    props.attachments = found
