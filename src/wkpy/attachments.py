"""Attachments of segmentation layers: meshes, agglomerates, segment index, ... (webknossos 4.3.3 API).

wkpy lists, adds, renames and removes the ``attachments`` entries of a layer and copies
their files; it never reads what is inside them.

A path in the properties file is data, not trust. Reading goes wherever it points (an
attachment may live in another dataset, or at a URL). Writing happens only for
`Attachments.add_attachment_as_copy`, into ``<layer>/<container>/<name>``, with a checked
name and only inside the dataset. Removing an attachment unlists it and never deletes a
file (as webknossos).

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
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from wkpy._paths import ensure_inside
from wkpy._trash import new_folder_for, remove
from wkpy.errors import DuplicateError, InvalidRequestError, UnsupportedError
from wkpy.locking import mag_lock_file, path_lock
from wkpy.properties import AttachmentDataFormat, AttachmentProperties, AttachmentsProperties
from wkpy.properties._attachments import CONTAINERS, SINGLETONS

if TYPE_CHECKING:
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


def _is_url(path: str | os.PathLike[str]) -> bool:
    return "://" in os.fspath(path)


def _resolve(path: str | os.PathLike[str], dataset_path: Path | None) -> Path | str:
    """The absolute, link-free form of `path` (relative ones against `dataset_path`); URLs as they are."""
    if _is_url(path):
        return os.fspath(path)
    p = Path(path)
    if not p.is_absolute():
        p = (dataset_path / p) if dataset_path is not None else p.absolute()
    return Path(os.path.realpath(p))


def _dump(path: Path | str, dataset_path: Path | None) -> str:
    """The ``path`` webknossos writes: ``./...`` inside the dataset, else absolute (or the URL)."""
    if isinstance(path, str):
        return path
    if dataset_path is not None:
        root = Path(os.path.realpath(dataset_path))
        if path.is_relative_to(root):
            return "./" + path.relative_to(root).as_posix()
    return path.as_posix()


class Attachment:
    """One attachment: `name`, `path` (absolute `Path`, or a URL string) and `data_format`."""

    container_name: ClassVar[str]
    type_name: ClassVar[str]
    formats: ClassVar[tuple[AttachmentDataFormat, ...]]

    def __init__(self, properties: AttachmentProperties, path: Path | str) -> None:
        if properties.data_format not in self.formats:
            allowed = ", ".join(f.value for f in self.formats)
            raise InvalidRequestError(f"{properties.data_format.value!r} is not a data format of "
                                      f"{type(self).__name__} (allowed: {allowed})")
        self._properties = properties
        self.name = _check_name(properties.name)
        self.path = path
        self.data_format = properties.data_format

    @classmethod
    def from_path_and_name(cls: type[_A], path: str | os.PathLike[str], name: str, *,
                           data_format: AttachmentDataFormat | str,
                           dataset_path: str | os.PathLike[str] | None = None) -> _A:
        """An attachment at `path` (relative paths: against `dataset_path`, else the
        working directory); its stored path is relative to `dataset_path` when inside it."""
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
    container_name, type_name, formats = "agglomerates", "agglomerate", (_Z, _H)


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
                raise DuplicateError(f"layer {self._layer.name!r} has a {attachment.type_name} "
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
        DuplicateError
            The target exists, or a listed attachment has that name.
        UnsupportedError
            The attachment is at a URL (wkpy copies local files only).
        """
        self._layer._ensure_writable()
        name = _check_name(attachment.name)
        if isinstance(attachment.path, str):
            raise UnsupportedError(f"cannot copy attachment {name!r} from {attachment.path}: only local files")
        source = Path(attachment.path)
        if not source.exists():
            raise InvalidRequestError(f"attachment {name!r}: {source} does not exist")
        folder = self._layer.path / _folder_name(attachment.container_name)
        target = folder / _file_name(name, attachment.data_format)
        root = self._layer.dataset.path
        ensure_inside(root, folder, "create")
        if os.path.lexists(target) or (attachment.container_name not in SINGLETONS and any(
                a.name == name for a in getattr(self, attachment.container_name))):
            raise DuplicateError(f"{target} exists or is listed already; cannot copy attachment {name!r} there")
        folder.mkdir(parents=True, exist_ok=True)
        ensure_inside(root, folder, "create")
        # copied under a hidden name and renamed into place right after the JSON lists it
        # (`Dataset._transact`); its lock keeps `recover` elsewhere off the copy meanwhile
        built = new_folder_for(target)
        with path_lock(mag_lock_file(target)):
            try:
                if source.is_dir():
                    shutil.copytree(source, built)
                else:
                    shutil.copyfile(source, built)
                new = type(attachment).from_path_and_name(target, name, data_format=attachment.data_format,
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
                raise DuplicateError(f"layer {self._layer.name!r} has a {attachment.type_name} "
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


def copy_attachments(source: Layer, target: Layer) -> None:
    """Copy every attachment of `source` into `target` (both segmentation layers), as
    webknossos' ``add_layer_as_copy`` does; attachments at URLs or at paths that do not
    exist stay listed by their (absolute) path."""
    from wkpy.dataset.layer.layer import SegmentationLayer

    if not (isinstance(source, SegmentationLayer) and isinstance(target, SegmentationLayer)):
        return
    for attachment in source.attachments:
        if isinstance(attachment.path, str) or not Path(attachment.path).exists():
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
