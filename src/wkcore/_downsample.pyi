"""Block reductions for downsampling (median, mode, average, max, min)."""

import numpy as np

MODES: dict[str, int]

def downsample(src: np.ndarray, out: np.ndarray, factors: tuple[int, int, int], mode: str) -> None: ...
