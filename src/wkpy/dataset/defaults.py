"""Default shapes, dtype, data format and file names of new datasets, as in webknossos 4.3.3.

Shapes are in voxels of the mag they describe, in (x, y, z) order. webknossos' environment
variables (``WK_DEFAULT_CHUNKS_PER_SHARD``, ``WK_DEFAULT_DATA_FORMAT``) are not read; the
default format follows ``WKPY_DEFAULT_DATA_FORMAT`` (see `wkpy.data_format`).
"""

from typing import Final

import numpy as np

from wkpy.data_format import DEFAULT_DATA_FORMAT
from wkpy.geometry import Vec3Int
from wkpy.properties import PROPERTIES_FILE_NAME

__all__ = ["DEFAULT_CHUNK_SHAPE", "DEFAULT_CHUNKS_PER_SHARD", "DEFAULT_SHARD_SHAPE",
           "DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES", "DEFAULT_SHARD_SHAPE_FROM_IMAGES",
           "DEFAULT_CHUNKS_PER_SHARD_ZARR", "DEFAULT_SHARD_SHAPE_ZARR", "DEFAULT_DATA_FORMAT",
           "DEFAULT_DTYPE", "DEFAULT_BIT_DEPTH", "PROPERTIES_FILE_NAME"]

DEFAULT_CHUNK_SHAPE: Final = Vec3Int(32, 32, 32)
DEFAULT_CHUNKS_PER_SHARD: Final = Vec3Int(32, 32, 32)
DEFAULT_SHARD_SHAPE: Final = DEFAULT_CHUNK_SHAPE * DEFAULT_CHUNKS_PER_SHARD
# image imports write thin shards: one chunk deep, so slices land in few files
DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES: Final = Vec3Int(128, 128, 1)
DEFAULT_SHARD_SHAPE_FROM_IMAGES: Final = DEFAULT_CHUNK_SHAPE * DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES
# Zarr (v2) has no shards: a shard is one chunk
DEFAULT_CHUNKS_PER_SHARD_ZARR: Final = Vec3Int(1, 1, 1)
DEFAULT_SHARD_SHAPE_ZARR: Final = DEFAULT_CHUNK_SHAPE
DEFAULT_DTYPE: Final = np.dtype("uint8")
DEFAULT_BIT_DEPTH: Final = 8
