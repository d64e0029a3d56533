"""Helpers for tests that make the same calls on wkpy and on webknossos 4.3.3 and compare."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUILTINS = (ValueError, RuntimeError, IndexError, KeyError, AssertionError, AttributeError, TypeError,
            FileExistsError, FileNotFoundError, PermissionError, NotImplementedError)


def raised(call: Callable[[], Any]) -> set[type]:
    """The builtin classes of what `call` raises (empty if it does not raise); compare
    with `<=`: a wkpy error may be an instance of more builtins than webknossos' one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the class is the result
            return {b for b in BUILTINS if isinstance(exc, b)} or {type(exc)}
    return set()


def warned(call: Callable[[], Any]) -> tuple[Any, set[str]]:
    """(what `call` returns, the kinds of warnings it emitted: "deprecation", "user")."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = call()
    kinds = {"deprecation" if issubclass(w.category, DeprecationWarning) else
             "user" if issubclass(w.category, UserWarning) else w.category.__name__ for w in seen}
    return result, kinds


def quiet(call: Callable[[], Any]) -> Any:
    """What `call` returns, its warnings silenced (for set-up steps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


def layers_json(path: str | Path, *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The ``dataLayers`` of a dataset's properties, without the ``axisOrder`` of layer
    boxes (webknossos writes it only for some layers) and the keys in `drop`."""
    layers = json.loads((Path(path) / "datasource-properties.json").read_text())["dataLayers"]
    for layer in layers:
        layer["boundingBox"].pop("axisOrder", None)
        for key in drop:
            layer.pop(key, None)
    return layers
