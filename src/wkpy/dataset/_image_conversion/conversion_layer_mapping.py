"""`ConversionLayerMapping`: how `Dataset.from_images` groups image files into layers.

Light to import (the readers load when a strategy inspects a file), so that
`Dataset.ConversionLayerMapping` exists without importing tifffile or Pillow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum, unique
from pathlib import Path

__all__ = ["ConversionLayerMapping"]


def _has_z(path: Path) -> bool:
    """Whether the image file holds more than one z-slice."""
    from wkpy.dataset._image_conversion.image_source import ReadOptions
    from wkpy.dataset._image_conversion.image_source_registry import open_image_source

    return open_image_source(path, ReadOptions()).expected_bbox.size_xyz.z > 1


def _parent_name(root: Path, relative: Path) -> str:
    return root.name if relative.parent == Path() else relative.parent.as_posix().replace("/", "_")


@unique
class ConversionLayerMapping(Enum):
    """How `Dataset.from_images` groups image files into layers (as in webknossos 4.3.3).

    A function taking a file's path (relative to the input folder) and returning a layer
    name may be given instead.
    """

    INSPECT_SINGLE_FILE = "inspect_single_file"
    """The default: if the first file holds a 3-D image, one layer per file, else one
    layer per folder."""
    INSPECT_EVERY_FILE = "inspect_every_file"
    """Decide per file: a 3-D file is its own layer, 2-D files make one layer per folder."""
    ENFORCE_LAYER_PER_FILE = "enforce_layer_per_file"
    """One layer per file."""
    ENFORCE_SINGLE_LAYER = "enforce_single_layer"
    """One layer of all files (2-D slices stacked in z)."""
    ENFORCE_LAYER_PER_FOLDER = "enforce_layer_per_folder"
    """One layer per folder holding files."""
    ENFORCE_LAYER_PER_TOPLEVEL_FOLDER = "enforce_layer_per_toplevel_folder"
    """One layer per top-level folder (its sub-folders' files stacked together)."""

    def _to_callable(self, input_path: Path, input_files: Sequence[Path]) -> Callable[[Path], str]:
        if self is ConversionLayerMapping.ENFORCE_LAYER_PER_FILE:
            return lambda p: p.as_posix().replace("/", "_")
        if self is ConversionLayerMapping.ENFORCE_SINGLE_LAYER:
            return lambda p: input_path.name
        if self is ConversionLayerMapping.ENFORCE_LAYER_PER_FOLDER:
            return lambda p: _parent_name(input_path, p)
        if self is ConversionLayerMapping.ENFORCE_LAYER_PER_TOPLEVEL_FOLDER:
            return lambda p: input_path.name if p.parent == Path() else p.parts[0]
        if self is ConversionLayerMapping.INSPECT_EVERY_FILE:
            return lambda p: str(p) if _has_z(input_path / p) else _parent_name(input_path, p)
        if _has_z(input_path / input_files[0]):
            return str
        return lambda p: input_path.name if p.parent == Path() else p.parts[-2]
