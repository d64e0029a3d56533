"""`ImsImageSource`: Imaris ``.ims`` files (HDF5), read through the optional package
``h5py`` (``pip install "wkpy[ims]"``).

Layout read: ``DataSet/ResolutionLevel 0/TimePoint T/Channel C/Data`` (z, y, x), padded
beyond the image; the image's extent is the ``X``, ``Y``, ``Z`` attributes of
``DataSetInfo/Image`` (text, as Imaris writes them), else the data's shape. Channels
follow webknossos 4.3.3's rule (see `compute_channel_selection`); several timepoints
make an n-d layer with a t axis, as there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wkpy.dataset._image_conversion.chunked_image_source import ChunkedImageSource
from wkpy.dataset._image_conversion.image_source import ReadOptions, compute_channel_selection
from wkpy.dataset._image_conversion.image_source_registry import register_chunked_image_source
from wkpy.errors import CorruptImageError

__all__ = ["ImsImageSource"]

_LEVEL0 = "DataSet/ResolutionLevel 0"


def _numbered(group: Any, prefix: str) -> list[str]:
    """Names ``PREFIX N`` of `group`'s members, by N."""
    found = [(int(m.group(1)), name) for name in group if (m := re.fullmatch(rf"{prefix} (\d+)", name))]
    return [name for _, name in sorted(found)]


def _text_attribute(attrs: Any, name: str) -> str | None:
    """An Imaris text attribute (an array of single bytes), or None if absent."""
    if name not in attrs:
        return None
    value = attrs[name]
    if isinstance(value, np.ndarray):
        return b"".join(bytes(v) for v in value.ravel()).decode("ascii")
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _read_ims_metadata_quietly(path: str) -> tuple[tuple[int, int, int, int, int], np.dtype]:
    """The image's (timepoints, channels, z, y, x) and voxel type."""
    with h5py.File(path, "r") as f:
        level = f[_LEVEL0]
        timepoints = _numbered(level, "TimePoint")
        channels = _numbered(level[timepoints[0]], "Channel")
        data = level[timepoints[0]][channels[0]]["Data"]
        # every timepoint is read by its number, with the first one's channels, shape and type
        if timepoints != [f"TimePoint {t}" for t in range(len(timepoints))]:
            raise CorruptImageError(f"{path}: {_LEVEL0} holds {timepoints}, not TimePoint 0 to "
                                    f"{len(timepoints) - 1}", path=path)
        for point in timepoints[1:]:
            if _numbered(level[point], "Channel") != channels:
                raise CorruptImageError(f"{path}: {_LEVEL0}/{point} holds other channels than {timepoints[0]} "
                                        f"({channels})", path=path)
            for channel in channels:
                other = level[point][channel]["Data"]
                if other.shape != data.shape or other.dtype != data.dtype:
                    raise CorruptImageError(f"{path}: {_LEVEL0}/{point}/{channel}/Data is {other.shape} "
                                            f"{other.dtype}, not {data.shape} {data.dtype} as in {timepoints[0]}",
                                            path=path)
        z, y, x = data.shape
        if "DataSetInfo/Image" in f:
            attrs = f["DataSetInfo/Image"].attrs
            z, y, x = (int(v) if (v := _text_attribute(attrs, name)) is not None else n
                       for name, n in (("Z", z), ("Y", y), ("X", x)))
        return (len(timepoints), len(channels), z, y, x), np.dtype(data.dtype)


@register_chunked_image_source
class ImsImageSource(ChunkedImageSource):
    """An Imaris volume.

    Raises
    ------
    CorruptImageError
        Not an HDF5 file of the Imaris layout, an empty extent, or timepoints not
        numbered 0 to n-1 or not of the first one's channels, shape and type.
    UnsupportedImageDataError
        Several timepoints.
    """

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        return {"ims"}

    def __init__(self, path: str | Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        try:
            shape, self.dtype = _read_ims_metadata_quietly(str(self.path))
        except (FileNotFoundError, PermissionError, IsADirectoryError, CorruptImageError):
            raise
        except Exception as error:
            raise CorruptImageError(f"Cannot open IMS file {self.path}: it is not an Imaris file h5py can read "
                                    f"({type(error).__name__}), so it is likely damaged.", path=self.path) from error
        self._t, raw_channels, self._z, self._y, self._x = shape
        if 0 in shape:
            raise CorruptImageError(f"Cannot open IMS file {self.path}: it describes an empty image (t, c, z, y, x "
                                    f"= {shape}), so it is likely damaged.", path=self.path)
        self.num_channels, self._channel, self._first_n_channels, possible = compute_channel_selection(
            raw_channels, options.channel)
        self._possible_layers = {"channel": possible} if possible is not None else {}

    def get_layer_split_options(self) -> dict[str, list[int]] | None:
        return dict(self._possible_layers) or None

    def _read_source_box(self, *, timepoint: int, z: slice, y: slice, x: slice) -> np.ndarray:
        if self._channel is not None:
            channels = [self._channel]
        else:
            channels = list(range(self._first_n_channels or self.num_channels))
        with h5py.File(str(self.path), "r") as f:
            point = f[_LEVEL0][f"TimePoint {timepoint}"]
            return np.stack([point[f"Channel {c}"]["Data"][z, y, x] for c in channels])
