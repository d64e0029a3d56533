"""The arguments of a new layer, checked as webknossos 4.3.3 checks them.

- `dtype` is the dtype of one channel; `dtype_per_channel` is its older name, and
  `dtype_per_layer` the still older dtype of all channels together (``"uint24"`` for
  three uint8 channels). At most one may be given (`ConflictingArgumentsError`, an
  `AttributeError` as in webknossos). ``"float"`` and ``"double"`` mean float32 and
  float64, as in ``elementClass``. webknossos 4.3.3 warns that `dtype_per_channel` is
  deprecated; wkpy accepts it silently.
- Color layers hold (u)int8-32 or float32, segmentation layers (u)int8-64: other dtypes
  are refused (`DataMismatchError`, a `ValueError`).
- Channel counts WEBKNOSSOS cannot show in one layer (anything but one channel or three
  uint8 channels) are allowed with a `UserWarning`, as in webknossos.
- New layer names use letters, digits and ``_$@-.`` and do not start with a dot.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from wkpy.errors import (
    ConflictingArgumentsError,
    DataMismatchError,
    InvalidCategoryError,
    InvalidDtypeError,
    InvalidRequestError,
)
from wkpy.properties import dtype_and_channels

__all__ = ["resolve_dtype", "check_layer_name", "check_layer_dtype", "check_category"]

_FLOAT_NAMES = {"float": "float32", "double": "float64"}
COLOR_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32")
SEGMENTATION_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
_LAYER_NAME = re.compile(r"[A-Za-z0-9_$@\-][A-Za-z0-9_$@\-.]*")


def _as_dtype(value: Any) -> np.dtype:
    if isinstance(value, str):
        value = _FLOAT_NAMES.get(value, value)
    try:
        return np.dtype(value)
    except TypeError as exc:
        raise InvalidDtypeError(f"not a dtype: {value!r}") from exc


def resolve_dtype(dtype: Any, dtype_per_channel: Any, dtype_per_layer: Any, num_channels: int | None) -> np.dtype | None:
    """The per-channel dtype the caller asked for, or None if they gave none."""
    given = [name for name, value in (("dtype", dtype), ("dtype_per_channel", dtype_per_channel),
                                      ("dtype_per_layer", dtype_per_layer)) if value is not None]
    if len(given) > 1:
        raise ConflictingArgumentsError(f"Cannot add layer. Specifying both {given[0]!r} and {given[1]!r} "
                                        "is not allowed")
    if dtype_per_layer is not None:
        name = dtype_per_layer if isinstance(dtype_per_layer, str) else _as_dtype(dtype_per_layer).name
        return dtype_and_channels(name, 1 if num_channels is None else num_channels)[0]
    value = dtype if dtype is not None else dtype_per_channel
    return None if value is None else _as_dtype(value)


def check_layer_name(name: object) -> str:
    """`name` if webknossos accepts it for a new layer, else `InvalidRequestError` (a `ValueError`)."""
    if not isinstance(name, str) or _LAYER_NAME.fullmatch(name) is None:
        raise InvalidRequestError(f"The layer name {name!r} is invalid. It must only contain letters, numbers, "
                                  "underscores, hyphens and dots, and not start with a dot.")
    return name


def check_category(name: str, category: object) -> str:
    if category not in ("color", "segmentation"):
        raise InvalidCategoryError(f"Failed to add layer ({name}) because of invalid category ({category!r}). "
                                   "The supported categories are 'color' and 'segmentation'")
    return category  # type: ignore[return-value]


def check_layer_dtype(category: object, dtype: np.dtype, num_channels: int) -> None:
    """Refuse dtypes WEBKNOSSOS does not show for `category`; warn about odd channel counts."""
    allowed = COLOR_DTYPES if category == "color" else SEGMENTATION_DTYPES
    if dtype.name not in allowed:
        raise DataMismatchError(f"Cannot add {category} layer with dtype {dtype.name}. "
                                f"Supported dtypes are: {', '.join(allowed)}.")
    if not (num_channels == 1 or (num_channels == 3 and dtype.name == "uint8")):
        warnings.warn(f"Data type {dtype.name} with multiple channels (got {num_channels}) not supported by "
                      "WEBKNOSSOS. Create multiple layers instead.", UserWarning, stacklevel=3)
