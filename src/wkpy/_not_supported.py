"""Names of webknossos 4.3.3 that wkpy does not implement: the WEBKNOSSOS server API
(server datasets, folders, administration, the client context) and annotations and
skeletons.

They exist so that code which merely imports them (``from webknossos import
RemoteDataset, Annotation``) runs with ``import wkpy as wk`` for its local work. Any use
— calling, constructing, or looking up a public attribute such as
``RemoteDataset.open`` — raises `wkpy.errors.UnsupportedError` saying what is not
supported. ``isinstance(x, RemoteDataset)`` is False for everything wkpy makes.
"""

from __future__ import annotations

from typing import Any, NoReturn

from wkpy.errors import UnsupportedError

__all__ = ["SERVER_NAMES", "ANNOTATION_NAMES"]

_SERVER = "WEBKNOSSOS server access (remote datasets, folders, users, tasks, the client context)"
_ANNOTATIONS = "annotations and skeletons"


def _message(what: str, family: str) -> str:
    return (f"{what}: wkpy does not support {family}; it works on local datasets only "
            "(README, 'Not supported'). Use webknossos for this part.")


class _NotSupportedType(type):
    """Metaclass of the placeholders: constructing or using one raises."""

    _family: str

    def __call__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnsupportedError(_message(cls.__name__, cls._family))

    def __getattr__(cls, name: str) -> NoReturn:
        if name.startswith("_"):  # introspection (copy, pickle, typing, attrs) sees a plain class
            raise AttributeError(name)
        raise UnsupportedError(_message(f"{cls.__name__}.{name}", cls._family))


def _placeholder(name: str, module: str, family: str) -> type:
    return _NotSupportedType(name, (), {
        "__module__": module, "__qualname__": name, "_family": family,
        "__doc__": f"Not supported by wkpy ({family}): any use raises `UnsupportedError`.",
    })


_HERE = __name__

# the WEBKNOSSOS server API; the first four are also `webknossos.dataset` names
RemoteDataset = _placeholder("RemoteDataset", _HERE, _SERVER)
RemoteFolder = _placeholder("RemoteFolder", _HERE, _SERVER)
RemoteLayer = _placeholder("RemoteLayer", _HERE, _SERVER)
RemoteSegmentationLayer = _placeholder("RemoteSegmentationLayer", _HERE, _SERVER)
RemoteMagView = _placeholder("RemoteMagView", _HERE, _SERVER)
Datastore = _placeholder("Datastore", _HERE, _SERVER)
User = _placeholder("User", _HERE, _SERVER)
Team = _placeholder("Team", _HERE, _SERVER)
Project = _placeholder("Project", _HERE, _SERVER)
Task = _placeholder("Task", _HERE, _SERVER)
TaskType = _placeholder("TaskType", _HERE, _SERVER)
RemoteAiModel = _placeholder("RemoteAiModel", _HERE, _SERVER)
webknossos_context = _placeholder("webknossos_context", _HERE, _SERVER)


def login(*args: Any, **kwargs: Any) -> NoReturn:
    """Not supported by wkpy (WEBKNOSSOS server access): raises `UnsupportedError`."""
    raise UnsupportedError(_message("login", _SERVER))


# annotations and skeletons
Annotation = _placeholder("Annotation", _HERE, _ANNOTATIONS)
RemoteAnnotation = _placeholder("RemoteAnnotation", _HERE, _ANNOTATIONS)
Skeleton = _placeholder("Skeleton", _HERE, _ANNOTATIONS)
Tree = _placeholder("Tree", _HERE, _ANNOTATIONS)
Node = _placeholder("Node", _HERE, _ANNOTATIONS)
Group = _placeholder("Group", _HERE, _ANNOTATIONS)

SERVER_NAMES = ("RemoteDataset", "RemoteFolder", "RemoteLayer", "RemoteSegmentationLayer", "RemoteMagView",
                "Datastore", "User", "Team", "Project", "Task", "TaskType", "RemoteAiModel", "webknossos_context",
                "login")
"""The server-API names wkpy provides as placeholders (the top-level `wkpy` names)."""
ANNOTATION_NAMES = ("Annotation", "RemoteAnnotation", "Skeleton", "Tree", "Node", "Group")
"""The annotation and skeleton names wkpy provides as placeholders (top-level `wkpy` names)."""
