"""`DataFormat` and the default format of new layers.

webknossos 4.3.3 makes new layers Zarr3 by default; wkpy keeps WKW (its seed's format)
unless ``WKPY_DEFAULT_DATA_FORMAT`` names another one. The variable is read at every
call, so a process can switch it; `wkpy.DEFAULT_DATA_FORMAT` shows its value at import.
"""

from __future__ import annotations

import os
from enum import Enum

from wkpy.errors import InvalidRequestError, UnsupportedError

__all__ = ["DataFormat", "default_data_format", "writable_data_format",
           "DEFAULT_DATA_FORMAT", "DEFAULT_DATA_FORMAT_ENV"]

DEFAULT_DATA_FORMAT_ENV = "WKPY_DEFAULT_DATA_FORMAT"


class DataFormat(str, Enum):
    """Storage format of a layer, as named in ``dataFormat``.

    A `str` enum: ``DataFormat.WKW == "wkw"``, and either spelling is accepted wherever
    wkpy takes a format. wkpy reads and writes ``wkw``, ``zarr`` (Zarr v2) and ``zarr3``.
    """

    WKW = "wkw"
    Zarr = "zarr"
    Zarr3 = "zarr3"
    NeuroglancerPrecomputed = "neuroglancerPrecomputed"
    N5 = "n5"

    __hash__ = str.__hash__  # members find the plain strings' dict entries and vice versa

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


def _parse(value: object) -> DataFormat:
    try:
        return DataFormat(value)
    except ValueError:
        raise InvalidRequestError(f"{value!r} is not a valid DataFormat; use one of "
                                  f"{[f.value for f in DataFormat]}") from None


def writable_data_format(value: object) -> DataFormat:
    """`value` (a `DataFormat` or its string) as a format wkpy can create layers in.

    Raises
    ------
    InvalidRequestError
        Not a data format at all (a `ValueError`, as in webknossos).
    UnsupportedError
        A format webknossos knows that wkpy does not write (n5, neuroglancerPrecomputed).
    """
    fmt = _parse(value)
    if fmt not in (DataFormat.WKW, DataFormat.Zarr, DataFormat.Zarr3):
        raise UnsupportedError(f"wkpy writes the data formats 'wkw', 'zarr' and 'zarr3', not {fmt.value!r}")
    return fmt


def default_data_format() -> DataFormat:
    """The format of new layers: ``$WKPY_DEFAULT_DATA_FORMAT`` if set, else WKW."""
    value = os.environ.get(DEFAULT_DATA_FORMAT_ENV)
    if not value:
        return DataFormat.WKW
    try:
        return writable_data_format(value)
    except (InvalidRequestError, UnsupportedError) as exc:
        raise type(exc)(f"${DEFAULT_DATA_FORMAT_ENV}: {exc}") from None


def _default_at_import() -> DataFormat:
    try:
        return default_data_format()
    except (InvalidRequestError, UnsupportedError):
        return DataFormat.WKW  # a bad value fails at the first call that uses it, not at import


DEFAULT_DATA_FORMAT: DataFormat = _default_at_import()
