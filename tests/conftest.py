"""Shared test helpers: where `../shared/fixtures` is, and small data makers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# No test may depend on the machine's speed: hypothesis' per-example deadline and its
# "too slow" health check are clocks, so both are off (a loaded CI runner must not fail).
settings.register_profile("wkpy", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("wkpy")

SHARED = Path(os.environ.get("WKPY_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FIXTURES = SHARED / "fixtures"


def fixtures_or_skip() -> Path:
    """The reference datasets folder; tests that need it skip only when it is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} is missing (a plain clone without ../shared)")
    return FIXTURES


def manifest() -> dict:
    return json.loads((fixtures_or_skip() / "manifest.json").read_text())


def fixture_mags(data_format: str | None = None) -> list[tuple[str, str, str]]:
    """(dataset, layer, mag) of every fixture mag, optionally of one data format."""
    path = FIXTURES / "manifest.json"
    if not path.is_file():
        return []
    out = []
    for ds, info in json.loads(path.read_text())["datasets"].items():
        if data_format and info["data_format"] != data_format:
            continue
        for layer, linfo in info["layers"].items():
            for mag in linfo["mags"]:
                out.append((ds, layer, mag))
    return out


def random_volume(shape: tuple[int, ...], dtype: str | np.dtype, seed: int = 0) -> np.ndarray:
    """Deterministic, compressible (smooth plus noise) test data of any dtype."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    grid = np.indices(shape[-3:]).sum(axis=0) % 97
    data = grid + rng.integers(0, 7, size=shape)
    if dtype.kind == "f":
        return (data * 0.5).astype(dtype)
    return data.astype(dtype)
