"""Deterministic benchmark volumes: EM-like uint8 and piecewise-constant uint32 labels."""

from __future__ import annotations

import numpy as np


def em_like(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Smooth structure (membrane-like ridges) plus noise, compressing roughly like EM data."""
    rng = np.random.default_rng(seed)
    x, y, z = (np.arange(n, dtype=np.float32) for n in shape)
    field = (np.sin(x / 7.0)[:, None, None] * np.cos(y / 11.0)[None, :, None]
             + np.sin(z / 5.0 + 1.0)[None, None, :] * 0.7)
    cells = np.abs(field) < 0.25                       # thin bright ridges
    out = np.where(cells, 200, 90).astype(np.int16)
    out += rng.integers(-3, 4, size=shape, dtype=np.int16)  # sensor noise: LZ4 ratio ~1.25, zstd-5 ~2
    return np.clip(out, 0, 255).astype(np.uint8)


def labels(shape: tuple[int, int, int], seed: int = 1) -> np.ndarray:
    """Piecewise-constant uint32 segment ids (boxes of 24³ voxels with random ids)."""
    rng = np.random.default_rng(seed)
    cells = [-(-n // 24) for n in shape]
    ids = rng.integers(1, 2**31, size=cells, dtype=np.uint32)
    out = ids.repeat(24, 0).repeat(24, 1).repeat(24, 2)
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])


def texture(shape: tuple[int, int, int], seed: int = 2) -> np.ndarray:
    """A smooth texture under strong noise: nearly incompressible (LZ4 ratio ~1.0, zstd-5 ~1.1)."""
    rng = np.random.default_rng(seed)
    x, y, z = (np.arange(n, dtype=np.float32) for n in shape)
    field = (np.sin(x / 9.0)[:, None, None] + np.cos(y / 13.0)[None, :, None]
             + np.sin(z / 6.0)[None, None, :]) * 30.0 + 128.0
    out = field + rng.integers(-64, 65, size=shape, dtype=np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)
