"""The ``attachments`` of a segmentation layer in ``datasource-properties.json``.

Files beside the voxel data that webknossos serves (meshes, agglomerate mappings, a
segment index, segment statistics, a cumsum, connectomes)::

    "attachments": {
        "meshes": [{"name": "meshfile", "path": "./segmentation/meshes/meshfile", "dataFormat": "zarr3"}],
        "segmentIndex": {"name": "main", "path": "/data/si.hdf5", "dataFormat": "hdf5"}
    }

Lists and single entries are left out while empty, and the whole key with them. A path
is data from a file: wkpy reads through it, and writes only where it lies inside the
dataset (see `wkpy.attachments`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ._schema import Invalid, as_list, as_object, as_string, at, required, show

__all__ = ["AttachmentDataFormat", "AttachmentProperties", "AttachmentsProperties",
           "CONTAINERS", "SINGLETONS"]

# python name -> JSON key, in webknossos' order
CONTAINERS = {"meshes": "meshes", "agglomerates": "agglomerates", "segment_index": "segmentIndex",
              "segment_statistics": "segmentStatistics", "cumsum": "cumsum", "connectomes": "connectomes"}
SINGLETONS = ("segment_index", "segment_statistics", "cumsum")


class AttachmentDataFormat(str, Enum):
    """How an attachment is stored (webknossos' names; its values are the JSON strings)."""

    Zarr3 = "zarr3"
    HDF5 = "hdf5"
    JSON = "json"
    NeuroglancerPrecomputed = "neuroglancerPrecomputed"

    def __str__(self) -> str:
        return self.value


@dataclass
class AttachmentProperties:
    """One attachment: its name, where its file lives and how it is stored."""

    name: str
    path: str
    data_format: AttachmentDataFormat

    def __post_init__(self) -> None:
        self.data_format = AttachmentDataFormat(self.data_format)

    @classmethod
    def _from_json(cls, value: Any, where: str) -> AttachmentProperties:
        obj = as_object(value, where)
        name = as_string(required(obj, "name", where), at(where, "name"))
        path = as_string(required(obj, "path", where), at(where, "path"))
        if "\0" in path:
            raise Invalid(at(where, "path"), f"{show(path)} contains a NUL character")
        fmt = required(obj, "dataFormat", where)
        try:
            data_format = AttachmentDataFormat(fmt)
        except ValueError:
            known = ", ".join(f.value for f in AttachmentDataFormat)
            raise Invalid(at(where, "dataFormat"), f"expected one of {known}, got {show(fmt)}") from None
        return cls(name, path, data_format)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "dataFormat": self.data_format.value}


@dataclass
class AttachmentsProperties:
    """All attachments of a layer: lists for meshes, agglomerates and connectomes, one
    entry (or None) for the segment index, segment statistics and cumsum."""

    meshes: list[AttachmentProperties] | None = None
    agglomerates: list[AttachmentProperties] | None = None
    segment_index: AttachmentProperties | None = None
    segment_statistics: AttachmentProperties | None = None
    cumsum: AttachmentProperties | None = None
    connectomes: list[AttachmentProperties] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, kw_only=True)

    def __iter__(self) -> Iterator[AttachmentProperties]:
        for name in CONTAINERS:
            value = getattr(self, name)
            if name in SINGLETONS:
                if value is not None:
                    yield value
            else:
                yield from value or ()

    @classmethod
    def from_json(cls, value: Any, where: str = "attachments") -> AttachmentsProperties:
        """Parse an ``attachments`` object (None: no attachments). Raises `Invalid`."""
        if value is None:
            return cls()
        obj = as_object(value, where)
        parsed: dict[str, Any] = {}
        for name, key in CONTAINERS.items():
            item = obj.get(key)
            if item is None:
                continue
            if name in SINGLETONS:
                parsed[name] = AttachmentProperties._from_json(item, at(where, key))
            else:
                entries = as_list(item, at(where, key))
                parsed[name] = [AttachmentProperties._from_json(e, at(at(where, key), i))
                                for i, e in enumerate(entries)]
        extra = {k: copy.deepcopy(v) for k, v in obj.items() if k not in CONTAINERS.values()}
        return cls(**parsed, extra=extra)

    def to_json(self) -> dict[str, Any] | None:
        """The JSON object webknossos writes; None (key left out) when there is nothing."""
        out: dict[str, Any] = {}
        for name, key in CONTAINERS.items():
            value = getattr(self, name)
            if name in SINGLETONS:
                if value is not None:
                    out[key] = value.to_json()
            elif value:
                out[key] = [a.to_json() for a in value]
        for key, value in self.extra.items():
            out.setdefault(key, copy.deepcopy(value))
        return out or None
