"""Local servers for the remote-storage tests: S3 (moto) and a read-only HTTP server with ranges.

Both listen on 127.0.0.1 only, on a free port, and log nothing. The fixtures in
`conftest.py` beside this file start and stop them.

`RangeHTTPServer` serves one folder the way a static file server (nginx without
``autoindex``, an S3 website, GitHub pages) does, and only as much as fsspec's
`HTTPFileSystem` asks for:

- ``HEAD`` and ``GET`` of a file: ``Content-Length``, an ``ETag`` (from the file's
  modification time and size, as nginx makes it), ``Last-Modified``,
  ``Accept-Ranges: bytes``;
- ``Range: bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (one range): 206 with
  ``Content-Range``; a range starting at or past the end: 416 with ``Content-Range: bytes */size``;
  several ranges in one header are answered with the whole file (200), which HTTP allows;
- ``If-Match`` (412 unless the ETag matches, so a reader can pin a version) and
  ``If-None-Match`` (304 when it matches);
- folders, missing files, ``..`` and links that leave the folder: 404. There is no
  directory listing: wkpy must find every file from the metadata, never by listing
  (fsspec lists HTTP folders by scraping HTML links, which no object store offers);
- ``PUT``, ``POST``, ``DELETE``, ``PATCH``: 405 (read-only).

Every request is recorded in `RangeHTTPServer.requests` (method, path, Range header,
status), so a test can check which ranges a reader asked for.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LOOPBACK = "127.0.0.1"
S3_KEY = "testing"
S3_SECRET = "testing"
S3_REGION = "us-east-1"


@dataclass(frozen=True)
class Request:
    """One request the HTTP server answered."""

    method: str
    path: str
    range: str | None
    status: int


class _RangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as fsspec's aiohttp session expects
    server: RangeHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass  # the requests are in server.requests; nothing on stderr

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _read_only(self) -> None:
        self.close_connection = True  # the request's body is left unread
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD", "Connection": "close"})

    do_PUT = do_POST = do_DELETE = do_PATCH = _read_only

    def _reply(self, status: int, headers: dict[str, str], file: tuple[int, int, int] | None = None,
               send_body: bool = True) -> None:
        """Send status and headers, then the bytes (fd, offset, length) of `file`, if any."""
        length = file[2] if file is not None else 0
        self.server.record(Request(self.command, self.path, self.headers.get("Range"), int(status)))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if send_body and file is not None:
            fd, offset, length = file
            while length > 0:
                block = os.pread(fd, min(length, 1 << 20), offset)
                if not block:
                    break
                self.wfile.write(block)
                offset += len(block)
                length -= len(block)

    def _file(self) -> Path | None:
        """The served file the request path names, or None (missing, a folder, outside)."""
        parts = [p for p in unquote(urlsplit(self.path).path).split("/") if p]
        if any(p in (".", "..") or "\x00" in p for p in parts):
            return None
        root = self.server.root
        path = root.joinpath(*parts)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if real != root and root not in real.parents:
            return None
        return real if real.is_file() else None

    def _serve(self, body: bool) -> None:
        path = self._file()
        if path is None:
            self._reply(HTTPStatus.NOT_FOUND, {}, send_body=body)
            return
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = f'"{st.st_mtime_ns:x}-{size:x}"'
            headers = {"ETag": etag, "Last-Modified": formatdate(st.st_mtime, usegmt=True),
                       "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            if_match = self.headers.get("If-Match")
            if if_match is not None and not _etag_in(etag, if_match):
                self._reply(HTTPStatus.PRECONDITION_FAILED, headers, send_body=body)
                return
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None and _etag_in(etag, if_none_match):
                self._reply(HTTPStatus.NOT_MODIFIED, headers, send_body=False)
                return
            span = _parse_range(self.headers.get("Range"), size)
            if span == "unsatisfiable":
                self._reply(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                            {**headers, "Content-Range": f"bytes */{size}"}, send_body=body)
                return
            if span is None:
                self._reply(HTTPStatus.OK, headers, file=(f.fileno(), 0, size), send_body=body)
                return
            start, stop = span
            self._reply(HTTPStatus.PARTIAL_CONTENT, {**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}"},
                        file=(f.fileno(), start, stop - start), send_body=body)


def _etag_in(etag: str, header: str) -> bool:
    """Whether an ``If-Match`` / ``If-None-Match`` list names `etag` (or is ``*``)."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, stop) of a single ``bytes=`` range, "unsatisfiable", or None (whole file)."""
    if header is None or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[len("bytes="):].strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) \
            or (last and not last.isdigit()):
        return None  # malformed: ignored, as RFC 9110 lets a server do
    if not first:  # suffix: the last `last` bytes
        n = int(last)
        return "unsatisfiable" if n == 0 or size == 0 else (max(0, size - n), size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid (last before first): ignored
    if start >= size:
        return "unsatisfiable"
    return start, size if not last else min(size, int(last) + 1)


class RangeHTTPServer(ThreadingHTTPServer):
    """A read-only threaded HTTP server of one folder, with byte ranges (see the module docstring).

    Parameters
    ----------
    root
        The folder served at ``/``; files appear at their relative path.
    """

    daemon_threads = True  # keep-alive connections must not hold up the shutdown

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((LOOPBACK, 0), _RangeHandler)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def url_of(self, relative: str | os.PathLike[str]) -> str:
        """The URL of a path under `root`, given relative to it."""
        return f"{self.url}/{posixpath.normpath(Path(relative).as_posix())}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up: not news
            super().handle_error(request, client_address)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> RangeHTTPServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"http-range-server-{self.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class _OneWriteAtATime:
    """moto checks ``If-Match`` / ``If-None-Match`` and then stores the object, two steps
    that two concurrent PUTs can interleave (both pass their check, one update is lost);
    S3 itself applies a conditional write atomically. So requests that change objects
    (PUT, POST, DELETE) are handled one at a time, as S3 would order them; reads stay
    concurrent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class S3Server:
    """moto's S3 server in a thread of this process, on 127.0.0.1 and a free port.

    Clients pass the dummy credentials (`S3_KEY`, `S3_SECRET`) and `endpoint_url`
    themselves (`storage_options`); nothing is set in the environment or in ``~/.aws``.
    """

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO (and adds its own stderr handler) unless its
        # logger already has a level
        self._logger = logging.getLogger("werkzeug")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._server.start()
        wsgi = self._server._server          # werkzeug's server: requests look up `app` each time
        wsgi.app = _OneWriteAtATime(wsgi.app)
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # tensorstore takes credentials from the environment or from profile files only:
        # a profile of its own, in files of its own
        self._aws_dir = Path(tempfile.mkdtemp(prefix="wkpy-test-aws-"))
        (self._aws_dir / "credentials").write_text(
            f"[default]\naws_access_key_id = {S3_KEY}\naws_secret_access_key = {S3_SECRET}\n")
        (self._aws_dir / "config").write_text(f"[default]\nregion = {S3_REGION}\n")

    @property
    def storage_options(self) -> dict:
        """Options for s3fs / `upath.UPath` / webknossos to reach this server.

        The listings cache is off: the tests write with several clients (wkpy, webknossos,
        tensorstore) and must see each other's objects at once.
        """
        return {"endpoint_url": self.endpoint_url, "key": S3_KEY, "secret": S3_SECRET,
                "client_kwargs": {"region_name": S3_REGION}, "use_listings_cache": False}

    def tensorstore_kvstore(self, bucket: str, path: str = "") -> dict:
        """A tensorstore ``s3`` kvstore spec of `path` (a folder: ends with ``/``) in `bucket`."""
        return {"driver": "s3", "bucket": bucket, "path": path, "endpoint": self.endpoint_url,
                "aws_region": S3_REGION,
                "aws_credentials": {"type": "profile", "profile": "default",
                                    "credentials_file": str(self._aws_dir / "credentials"),
                                    "config_file": str(self._aws_dir / "config")}}

    def filesystem(self):
        """An s3fs filesystem on this server: fsspec's cached instance for `storage_options`,
        the one a `UPath` with these options uses too (a new client costs ~0.5 s)."""
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def stop(self) -> None:
        self._server.stop()
        self._logger.setLevel(self._level)
        shutil.rmtree(self._aws_dir, ignore_errors=True)
