"""URLs: where a dataset lies (``s3://``, ``https://``, ``memory://``, ...) and what it refers to.

Users hand them over as strings or as ``upath.UPath`` objects (what webknossos takes).
A remote path object is recognised by its ``protocol`` and ``storage_options``
attributes (`is_remote`); `as_location` turns what users give into a local `pathlib.Path`
or a remote ``upath.UPath`` (importing ``upath``, the optional ``wkpy[s3]``/``wkpy[http]``
extra, only for URLs). `url_of` gives the string webknossos 4.3.3 records in
``datasource-properties.json``: for S3 it carries the endpoint's host,
``s3://<endpoint host>/<bucket>/<key>``, which is how WEBKNOSSOS finds the endpoint;
`resolve_url` turns such a string back into a path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from wkpy.errors import InvalidRequestError, UnsupportedError

__all__ = ["READ_ONLY_PROTOCOLS", "UrlPath", "as_location", "is_remote", "join_url", "local_path", "resolve_url",
           "url_of"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LOCAL = ("", "file", "local")


def url_of(path: Any) -> str | None:
    """The URL `path` names, as webknossos records it, or None for a local path.

    Parameters
    ----------
    path
        A `str` (a URL if it starts with a scheme such as ``s3://``), an `os.PathLike`
        (local, also a local ``UPath``), or a remote ``upath.UPath``.

    Raises
    ------
    InvalidRequestError
        An S3 path without ``endpoint_url`` (webknossos fails there too, with `KeyError`),
        or an object that is neither a path nor a URL.
    """
    if isinstance(path, UrlPath):
        return str(path)
    protocol = getattr(path, "protocol", None)
    if isinstance(protocol, str) and protocol not in _LOCAL and not isinstance(path, (str, os.PathLike)):
        options = getattr(path, "storage_options", None) or {}
        if protocol in ("s3", "s3a"):
            endpoint = options.get("endpoint_url") if isinstance(options, Mapping) else None
            if not endpoint:
                raise InvalidRequestError(f"{path}: an S3 path needs endpoint_url= to be recorded "
                                          "(webknossos writes s3://<endpoint host>/<bucket>/<key>)")
            return f"s3://{urlparse(str(endpoint)).netloc}/{str(path.path).lstrip('/')}"
        return str(path.as_posix())
    if isinstance(path, (str, os.PathLike)):
        text = os.fspath(path)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        return text if _SCHEME.match(text) else None
    raise InvalidRequestError(f"{path!r} is not a path or URL")


class UrlPath(str):
    """Where an attachment (or other reference) lies when that is a URL: the string
    webknossos records. Equal to the same string and to a ``upath.UPath`` naming the same
    place (for S3, the same bucket and key at the same endpoint host)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str.__eq__(self, other)
        try:
            url = url_of(other)
        except InvalidRequestError:
            return False
        return url is not None and str.__eq__(self, url)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"UrlPath({str.__repr__(self)})"


def is_remote(path: Any) -> bool:
    """Whether `path` names a place on object storage or a web server (a URL string other
    than ``file://``, or a remote ``upath.UPath``), not a local file."""
    protocol = getattr(path, "protocol", None)
    if isinstance(protocol, str) and not isinstance(path, (str, os.PathLike)):
        return protocol not in _LOCAL
    if isinstance(path, (str, os.PathLike)):
        text = os.fspath(path)
        text = os.fsdecode(text) if isinstance(text, bytes) else text
        return bool(_SCHEME.match(text)) and not text.startswith("file://")
    return False


def as_location(path: Any, **storage_options: Any) -> Any:
    """Where `path` points: a local `pathlib.Path`, or a ``upath.UPath`` for a URL.

    Parameters
    ----------
    path
        A local `str` or `os.PathLike` (also a local ``UPath``, ``file://`` URLs), a URL
        string (``s3://bucket/key``, ``https://host/path``, ``memory://name``, ``gs://...``)
        or a remote ``upath.UPath`` carrying its storage options (as webknossos 4.3.3 takes
        them).
    storage_options
        For a URL string: the client's options (``endpoint_url``, ``key``, ``secret``, ...);
        without them fsspec's configuration and the environment apply.

    Raises
    ------
    UnsupportedError
        A URL while universal-pathlib (``pip install "wkpy[s3]"``) is not installed.
    InvalidRequestError
        Neither a path nor a URL.
    """
    if isinstance(path, Path):
        return path
    if not is_remote(path):
        if isinstance(path, (str, os.PathLike)):
            text = os.fsdecode(os.fspath(path))
            return Path(urlparse(text).path) if text.startswith("file://") else Path(text)
        if getattr(path, "protocol", None) in _LOCAL:
            return Path(str(getattr(path, "path", path)))
        raise InvalidRequestError(f"{path!r} is not a path or URL")
    if not isinstance(path, (str, os.PathLike)) and not storage_options:
        return path                                     # a UPath already
    try:
        from upath import UPath
    except ImportError:
        raise UnsupportedError(f"{path}: paths on remote storage need universal-pathlib and fsspec; install "
                               "them with pip install \"wkpy[s3]\" (or wkpy[http], wkpy[gcs])") from None
    try:
        if isinstance(path, (str, os.PathLike)):
            return UPath(os.fsdecode(os.fspath(path)), **storage_options)
        return UPath(str(path), **{**dict(path.storage_options), **storage_options})
    except (ValueError, ImportError) as e:     # an unknown protocol, or its client missing
        raise UnsupportedError(f"{path}: cannot open this URL ({e}); S3 needs pip install \"wkpy[s3]\", "
                               "HTTP wkpy[http], GCS wkpy[gcs]") from None


def local_path(path: str | os.PathLike[str], what: str = "dataset") -> Path:
    """`path` as a local `Path`: a local string, `os.PathLike` or local ``UPath``.

    Parameters
    ----------
    path
        Where `what` lies.
    what
        What lies there, named in the error ("dataset", "WKW dataset", ...).

    Raises
    ------
    UnsupportedError
        A URL (``s3://``, ``https://``, ``memory://``, ...) as a string or ``UPath``:
        wkpy reads and writes local paths only (webknossos 4.3.3 takes both).
    """
    protocol = getattr(path, "protocol", None)
    if isinstance(protocol, str) and protocol not in _LOCAL and not isinstance(path, (str, os.PathLike)):
        where = str(path)
    elif isinstance(path, (str, os.PathLike)) and _SCHEME.match(text := os.fsdecode(os.fspath(path))):
        if text.startswith("file://"):
            return Path(urlparse(text).path)
        where = text
    else:
        return Path(path)
    raise UnsupportedError(f"{where}: a {what} on remote storage is not supported; wkpy reads and writes "
                           "local paths only")


READ_ONLY_PROTOCOLS = ("http", "https")
"""Protocols wkpy only reads (plain HTTP servers)."""


def _upath(url: str, **storage_options: Any) -> Any:
    try:
        from upath import UPath
    except ImportError:
        raise UnsupportedError(f"{url}: remote paths need the optional package universal-pathlib "
                               "(pip install 'wkpy[s3]' or 'wkpy[http]')") from None
    return UPath(url, **storage_options)


def resolve_url(text: str, base: Any = None) -> Any:
    """The path of the URL `text` as a dataset records it (a mag's or attachment's
    ``path``), with the storage options of `base` (the dataset's remote path) when it
    names the same service: an S3 URL ``s3://<endpoint host>/<bucket>/<key>`` whose
    host is the endpoint of `base`, or any URL of `base`'s protocol. Otherwise an S3 URL
    gets the endpoint ``https://<host>`` (as in webknossos 4.3.3) and other URLs the
    storage options of fsspec's configuration and the environment."""
    parsed = urlparse(text)
    protocol = parsed.scheme
    same = is_remote(base) and base.protocol == protocol
    if protocol in ("s3", "s3a"):
        options = dict(base.storage_options) if same else {}
        endpoint = options.get("endpoint_url")
        if endpoint and urlparse(str(endpoint)).netloc == parsed.netloc:
            return _upath(f"s3://{parsed.path.lstrip('/')}", **options)
        if endpoint is None and same:          # base without an endpoint: bucket/key as written
            return _upath(text, **options)
        bucket_key = parsed.path.lstrip("/")
        keys = _credentials_for((parsed.netloc, *bucket_key.split("/")))
        return _upath(f"s3://{bucket_key}", endpoint_url=f"https://{parsed.netloc}",
                      **({"key": keys[0], "secret": keys[1]} if keys else {}))
    return _upath(text, **(dict(base.storage_options) if same else {}))


def _credentials_for(parts: Sequence[str]) -> tuple[str, str] | None:
    """S3 keys for a place, from ``AWS_ACCESS_KEY_ID__<PART>__<PART>...`` and
    ``AWS_SECRET_ACCESS_KEY__...`` (endpoint host, bucket, key parts; upper case, ``.``,
    ``:`` and ``-`` as ``_``), the most specific first: the environment variables
    webknossos 4.3.3 reads for the S3 URLs a dataset records."""
    parts = [p for p in parts if p]
    while parts:
        suffix = "__".join(parts).replace(".", "_").replace(":", "_").replace("-", "_").upper()
        key = os.environ.get(f"AWS_ACCESS_KEY_ID__{suffix}")
        secret = os.environ.get(f"AWS_SECRET_ACCESS_KEY__{suffix}")
        if key and secret:
            return key, secret
        parts.pop()
    return None


def join_url(base: Any, relative: str) -> Any:
    """The remote path `relative` (``./color/1``, ``../other/color/1``) names from the
    remote path `base`, with ``.`` and ``..`` resolved lexically (no request is made),
    keeping `base`'s storage options."""
    if base.protocol in READ_ONLY_PROTOCOLS:
        from urllib.parse import urljoin

        return _upath(urljoin(str(base).rstrip("/") + "/", relative), **dict(base.storage_options))
    return base.joinpath(relative).resolve()
