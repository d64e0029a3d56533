"""Reading and atomically writing ``datasource-properties.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wkpy._paths import read_small_file, write_file_atomic
from wkpy.errors import DatasetNotFoundError, PropertiesError

from ._model import DatasetProperties
from ._schema import PROPERTIES_FILE_NAME, Invalid, check_depth

__all__ = ["load_properties", "save_properties"]


def _file_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / PROPERTIES_FILE_NAME if p.is_dir() else p


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_properties(path: str | os.PathLike[str]) -> DatasetProperties:
    """Read and validate a properties file (or the one in dataset folder `path`).

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    PropertiesError
        The file is not JSON or is malformed; the message names the file and field.
    """
    file = _file_path(path)
    try:
        data = read_small_file(file)
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{file}: properties file not found") from None
    try:
        obj = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PropertiesError(f"{file}: not valid JSON: {exc}") from None
    return DatasetProperties.from_json(obj, source=str(file))


def save_properties(path: str | os.PathLike[str], props: DatasetProperties) -> None:
    """Write `props` atomically to `path` (a file, or a dataset folder).

    The JSON goes to a temporary file in the same folder that then replaces the target,
    so readers see the old or the new file, never a partial one. On failure the
    temporary file is removed and the old file is untouched.
    """
    file = _file_path(path)
    try:
        obj = props.to_json()
        check_depth(obj)  # so that json.dump below cannot hit the recursion limit
    except Invalid as exc:
        raise PropertiesError(f"{file}: not written: {exc.where}: {exc.message}") from None
    except RecursionError:
        raise PropertiesError(f"{file}: not written: a value is nested too deeply") from None
    text = json.dumps(obj, indent=4, allow_nan=False)
    write_file_atomic(file, text.encode("utf-8"), sync=True, mode=0o666, keep_mode=True)
