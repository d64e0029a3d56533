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


def array_in_layout(a: np.ndarray, how: str) -> np.ndarray:
    """`a` as a C-ordered ("C"), F-ordered ("F") or non-contiguous ("strided": every other x,
    padded z) array, for the kernels' copies between chunks and arrays of any layout."""
    if how == "strided":
        big = np.zeros((a.shape[0], 2 * a.shape[1], a.shape[2], a.shape[3] + 3), a.dtype)
        view = big[:, ::2, :, 1:-2]
        view[...] = a
        return view
    return np.asarray(a, order=how)


def random_volume(shape: tuple[int, ...], dtype: str | np.dtype, seed: int = 0) -> np.ndarray:
    """Deterministic, compressible (smooth plus noise) test data of any dtype."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    grid = np.indices(shape[-3:]).sum(axis=0) % 97
    data = grid + rng.integers(0, 7, size=shape)
    if dtype.kind == "f":
        return (data * 0.5).astype(dtype)
    return data.astype(dtype)


def tree_state(root: str | os.PathLike[str]) -> dict[str, tuple]:
    """Everything under `root` without following links: each folder's sorted listing,
    each file's SHA-256 and mode, each symlink's target. Equal states mean nothing was
    created, changed or deleted there."""
    import hashlib

    root = Path(root)
    state: dict[str, tuple] = {}
    if not root.exists() and not root.is_symlink():
        return state
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel = os.path.relpath(folder, root)
        state[rel] = ("dir", tuple(sorted(dirs + files)))
        for name in dirs + files:
            path = os.path.join(folder, name)
            key = os.path.normpath(os.path.join(rel, name))
            if os.path.islink(path):
                state[key] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    state[key] = ("file", hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mode)
    return state


_BUILTIN_ERRORS = (AssertionError, KeyError, IndexError, ValueError, TypeError, ZeroDivisionError,
                   AttributeError, RuntimeError)  # fmt: skip


class Raised:
    """What a call raised, by the builtin error classes it is an instance of.

    Two compare equal when one's classes include the other's: a wkpy error may be an
    instance of more builtins than webknossos' (`InvalidRequestError` is a `ValueError`
    and an `AssertionError`), but never of none of them.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, exc: BaseException) -> None:
        self.kinds = frozenset(b for b in _BUILTIN_ERRORS if isinstance(exc, b)) or frozenset({type(exc)})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised) and (self.kinds <= other.kinds or other.kinds <= self.kinds)

    def __repr__(self) -> str:
        return f"Raised({', '.join(sorted(k.__name__ for k in self.kinds))})"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a Zarr3 shard index is parsed (read and checked whole): ``parses[0]``."""
    from wkcore import _shard

    count = [0]
    real = _shard.parse_index

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(_shard, "parse_index", counting)
    return count
