"""Conversion between ``elementClass``/``numChannels`` and numpy dtypes, as webknossos does it."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from wkpy.errors import DataMismatchError

__all__ = ["dtype_and_channels", "element_class_for"]

_PER_CHANNEL_DTYPES = frozenset(
    ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"]
)
_FLOAT_ALIASES = {"float": "float32", "double": "float64"}
_FLOAT_NAMES = {v: k for k, v in _FLOAT_ALIASES.items()}


def _check_channels(num_channels: Any) -> int:
    if isinstance(num_channels, (bool, np.bool_)) or not isinstance(
        num_channels, (int, np.integer)
    ):
        raise DataMismatchError(f"number of channels must be an integer, got {num_channels!r}")
    if num_channels < 1:
        raise DataMismatchError(f"number of channels must be positive, got {num_channels}")
    return int(num_channels)


def dtype_and_channels(element_class: str, num_channels: int | None = None) -> tuple[np.dtype, int]:
    """Split a layer's element class into the per-channel dtype and channel count.

    Parameters
    ----------
    element_class : str
        ``elementClass`` as in the properties, e.g. ``"uint24"``, ``"float"``.
    num_channels : int or None
        ``numChannels``; None derives it (3 for ``uint24``, else 1).

    Returns
    -------
    tuple of numpy.dtype and int

    Raises
    ------
    DataMismatchError
        The element class is unknown or not divisible into `num_channels` supported dtypes.
    """
    if not isinstance(element_class, str):
        raise DataMismatchError(f"element class must be a string, got {element_class!r}")
    if num_channels is None:
        num_channels = 3 if element_class == "uint24" else 1
    channels = _check_channels(num_channels)
    name = _FLOAT_ALIASES.get(element_class, element_class)
    match = re.fullmatch(r"(uint|int|float)([1-9][0-9]{0,5})", name)
    bits = int(match.group(2)) if match else 0
    per_channel = f"{match.group(1)}{bits // channels}" if match else ""
    if not match or bits % channels or per_channel not in _PER_CHANNEL_DTYPES:
        raise DataMismatchError(
            f"unsupported element class {element_class!r} with {channels} channel(s)"
        )
    return np.dtype(per_channel), channels


def element_class_for(dtype_per_channel: Any, num_channels: int = 1) -> str:
    """The ``elementClass`` webknossos writes for `num_channels` channels of a dtype.

    Parameters
    ----------
    dtype_per_channel : dtype-like
        e.g. ``np.uint8``; uint8 x 3 gives ``"uint24"``, float32 ``"float"``, float64
        ``"double"``, int16 ``"int16"``.
    num_channels : int

    Returns
    -------
    str

    Raises
    ------
    DataMismatchError
        The dtype is not one webknossos stores (u)int8..64, float32 or float64.
    """
    if dtype_per_channel is None:
        raise DataMismatchError("a dtype is required")
    try:
        name = np.dtype(dtype_per_channel).name
    except (TypeError, ValueError) as exc:
        raise DataMismatchError(f"not a dtype: {dtype_per_channel!r}") from exc
    if name not in _PER_CHANNEL_DTYPES:
        raise DataMismatchError(f"unsupported dtype {name}")
    channels = _check_channels(num_channels)
    kind, bits = re.fullmatch(r"([a-z]+)(\d+)", name).groups()  # type: ignore[union-attr]
    total = f"{kind}{int(bits) * channels}"
    return _FLOAT_NAMES.get(total, total)
