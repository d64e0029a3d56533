"""Whether images to convert are a segmentation, judged from their path.

webknossos 4.3.3 takes a path naming ``segmentation`` or ``labels`` for a segmentation
when no category is given; it then samples the data, but its switch to the other
category fails and is skipped, so the path decides. wkpy does just that.
"""

from __future__ import annotations

import os

__all__ = ["guess_if_segmentation_path"]


def guess_if_segmentation_path(filepath: str | os.PathLike[str]) -> bool:
    """Whether the path names a segmentation (``segmentation`` or ``labels``, any case)."""
    lowered = os.fspath(filepath).lower()
    return "segmentation" in lowered or "labels" in lowered
