"""Views on a mag: `View` (a box of one mag) and `MagView` (a whole mag), as `webknossos.dataset.layer.view`."""

from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.dataset.layer.view.view import View
from wkpy.storage import ArrayInfo
from wkpy.storage.zarr3 import Zarr3Config

__all__ = ["ArrayInfo", "MagView", "View", "Zarr3Config"]
