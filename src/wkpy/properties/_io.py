"""Reading and atomically writing ``datasource-properties.json``.

The file is read and written through the dataset's `Store` (`wkpy.storage.store`): a local
folder's (a path works as before) or an object store's. `load_versioned` also returns the
version read, which a conditional `save_properties` (``mode=version``) needs on stores
without locks (see `wkpy.storage.store.retry_on_conflict`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wkpy._paths import read_small_file, write_file_atomic
from wkpy.errors import CorruptFileError, DatasetNotFoundError, PropertiesError

from ._model import DatasetProperties
from ._schema import PROPERTIES_FILE_NAME, Invalid, check_depth

if TYPE_CHECKING:
    from wkpy.storage.store import Mode, Store, Version

__all__ = ["load_properties", "load_versioned", "save_properties"]

METADATA_LIMIT = 64 << 20
"""Bytes a properties file may have (a larger one is refused before it is read)."""


def _file_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / PROPERTIES_FILE_NAME if p.is_dir() else p


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(data: bytes, file: str) -> DatasetProperties:
    try:
        obj = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PropertiesError(f"{file}: not valid JSON: {exc}") from None
    return DatasetProperties.from_json(obj, source=file)


def load_properties(path: str | os.PathLike[str] | Store) -> DatasetProperties:
    """Read and validate a properties file (or the one in dataset folder `path`, or the one
    in the store `path`).

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    PropertiesError
        The file is not JSON or is malformed; the message names the file and field.
    CorruptFileError
        It is not a regular file, or larger than 64 MiB.
    """
    if not isinstance(path, (str, os.PathLike)):
        return load_versioned(path)[0]
    file = _file_path(path)
    try:
        data = read_small_file(file, METADATA_LIMIT)
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{file}: properties file not found") from None
    return _parse(data, str(file))


def load_versioned(store: Store) -> tuple[DatasetProperties, Version]:
    """The properties in `store` and the version of the file read (read again if a writer
    replaces the file while it is read).

    Raises
    ------
    DatasetNotFoundError, PropertiesError, CorruptFileError
        As `load_properties`, naming the file (or URL).
    """
    from wkpy.storage.store import retry_on_conflict

    return retry_on_conflict(store, lambda: _load_once(store))   # replaced while read: read again


def _load_once(store: Store) -> tuple[DatasetProperties, Version]:
    reader = store.open(PROPERTIES_FILE_NAME)
    if reader is None:
        raise DatasetNotFoundError(f"{store.name(PROPERTIES_FILE_NAME)}: properties file not found")
    with reader:
        if reader.size > METADATA_LIMIT:
            raise CorruptFileError(f"{reader.name}: {reader.size:,} bytes, more than the {METADATA_LIMIT:,} "
                                   "a metadata file may have")
        data = bytes(reader.read(0, reader.size))
        return _parse(data, reader.name), reader.version


def save_properties(path: str | os.PathLike[str] | Store, props: DatasetProperties, *,
                    mode: Mode = "overwrite") -> Version | None:
    """Write `props` atomically to `path` (a file, a dataset folder, or a dataset's store).

    Readers see the old or the new file, never a partial one: a local file is written to
    a temporary file in the same folder that then replaces the target (on failure the
    temporary file is removed and the old file is untouched); an object is uploaded whole.

    Parameters
    ----------
    mode
        For a store: ``"overwrite"``, ``"create"`` (only if there is no file) or the version
        the change read (only if the file is still that version), see `Store.put`.

    Returns
    -------
    The version written (None for a path).

    Raises
    ------
    PropertiesError
        `props` cannot be written (a malformed value); nothing is written.
    ConflictError
        `mode` is not met (a concurrent writer); nothing is written.
    """
    store = None if isinstance(path, (str, os.PathLike)) else path
    file = store.name(PROPERTIES_FILE_NAME) if store is not None else _file_path(path)  # type: ignore[arg-type]
    try:
        obj = props.to_json()
        check_depth(obj)  # so that json.dump below cannot hit the recursion limit
    except Invalid as exc:
        raise PropertiesError(f"{file}: not written: {exc.where}: {exc.message}") from None
    except RecursionError:
        raise PropertiesError(f"{file}: not written: a value is nested too deeply") from None
    data = json.dumps(obj, indent=4, allow_nan=False).encode("utf-8")
    if store is None or (mode == "overwrite" and store.has_locks):   # a local file: keeps its permissions
        write_file_atomic(file, data, sync=True, mode=0o666, keep_mode=True)
        return None
    return store.put(PROPERTIES_FILE_NAME, data, mode=mode, sync=True)
