"""`MrcImageSource`: MRC files (cryo-EM maps and tomograms: ``.mrc``, ``.rec``, ``.st``,
``.map``, ``.ali``), read through the optional package ``mrcfile`` (``pip install "wkpy[mrcfile]"``).

The data is one contiguous (z, y, x) array (or (y, x) for one section), memory-mapped
anew by every task, so only the box a task writes is read.
"""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np

from wkpy.dataset._image_conversion.chunked_image_source import ChunkedImageSource
from wkpy.dataset._image_conversion.image_source import ReadOptions
from wkpy.dataset._image_conversion.image_source_registry import register_chunked_image_source
from wkpy.errors import CorruptImageError, UnsupportedImageDataError

__all__ = ["MrcImageSource"]


@register_chunked_image_source
class MrcImageSource(ChunkedImageSource):
    """An MRC volume: one channel, no timepoints.

    Raises
    ------
    CorruptImageError
        mrcfile cannot parse the header, or it describes no data.
    UnsupportedImageDataError
        The data is not 2-D or 3-D.
    """

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        return {"mrc", "rec", "st", "map", "ali"}

    def __init__(self, path: str | Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        try:
            mrc = mrcfile.mmap(str(self.path), mode="r", permissive=True)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except Exception as error:
            raise CorruptImageError(f"Cannot open MRC file {self.path}: mrcfile cannot read it "
                                    f"({type(error).__name__}), so it is likely damaged or not an MRC file.",
                                    path=self.path) from error
        with mrc:
            data = mrc.data
            if data is None:
                raise CorruptImageError(f"Cannot open MRC file {self.path}: it holds no data, so it is likely "
                                        "damaged or not an MRC file.", path=self.path)
            self.dtype = np.dtype(data.dtype)
            if data.ndim == 3:
                self._z, self._y, self._x = (int(n) for n in data.shape)
            elif data.ndim == 2:
                self._z, (self._y, self._x) = 1, (int(n) for n in data.shape)
            else:
                raise UnsupportedImageDataError(f"{self.path} holds {data.ndim}-dimensional data; only 2-D and "
                                                "3-D MRC files can be converted.", path=self.path)
        if 0 in (self._x, self._y, self._z):
            raise CorruptImageError(f"Cannot open MRC file {self.path}: it describes an empty image "
                                    f"({self._x}×{self._y}×{self._z}), so it is likely damaged or not an MRC file.",
                                    path=self.path)
        self.num_channels = 1

    def get_layer_split_options(self) -> dict[str, list[int]] | None:
        return None

    def _read_source_box(self, *, timepoint: int, z: slice, y: slice, x: slice) -> np.ndarray:
        with mrcfile.mmap(str(self.path), mode="r", permissive=True) as mrc:
            data = mrc.data
            block = np.array(data[z, y, x] if data.ndim == 3 else data[np.newaxis, y, x][z])
        return block[np.newaxis]
