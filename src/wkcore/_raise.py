"""The one translator from kernel status codes to Python exceptions."""

from __future__ import annotations

import os
from typing import NoReturn

from wkcore.errors import CorruptFileError, UnsupportedError

# Must match the enum in _util.pxd.
_EIO, _ECORRUPT, _ENOMEM, _EUNSUPPORTED, _EMISMATCH, _EARG = 1, 2, 3, 4, 5, 6


def raise_for(code: int, errnum: int, message: str, path: object) -> NoReturn:
    """Raise the exception for a failed kernel call on `path`."""
    where = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    if code == _EIO:
        raise OSError(errnum, f"{message}: {os.strerror(errnum)}", where)
    if code == _ENOMEM:
        raise MemoryError(f"{where}: {message}")
    if code == _EARG:
        raise ValueError(f"{where}: {message}")
    if code == _EUNSUPPORTED:
        raise UnsupportedError(f"{where}: {message}")
    raise CorruptFileError(f"{where}: {message}")
