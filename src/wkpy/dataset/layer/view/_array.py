"""The array-layout names of webknossos 4.3.3's ``webknossos.dataset.layer.view._array``:
`ArrayInfo` (what ``MagView.info`` returns), `Zarr3ArrayInfo` (that of a Zarr3 mag) and
`Zarr3Config` (codecs and chunk-key encoding for ``add_mag(compress=...)``). The arrays
themselves are wkpy's own (`wkpy.storage`)."""

from wkpy.storage.array import ArrayInfo
from wkpy.storage.zarr3 import Zarr3ArrayInfo, Zarr3Config

__all__ = ["ArrayInfo", "Zarr3ArrayInfo", "Zarr3Config"]
