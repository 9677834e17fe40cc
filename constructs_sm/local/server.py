"""moto's threaded server, with connections that stay open between requests.

werkzeug's development server (which moto's ``ThreadedMotoServer`` runs) answers every
request with ``Connection: close``: it cannot tell where a request's body ends when the
application leaves part of it unread, so it reads whatever follows and closes. Every
SDK call then opened a TCP connection of its own, and the server started a thread for
it; an execution makes about ten calls per step (the job's channels, CreateProcessingJob,
DescribeProcessingJob, the watch).

:class:`KeepAliveHandler` gives the application the request's body only up to its
``Content-Length`` and keeps the connection open when the body was read to its end by
the time the response starts; a request with a body of unknown length (chunked) or one
the application did not read whole still closes its connection, as before. Clients reuse
their connections (botocore keeps a pool per client), so a call costs a request, not a
connection and a thread.
"""

from __future__ import annotations

import io
from typing import Any, Final

from moto.moto_server import threaded_moto_server
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from constructs_sm.local.extra import require_unmoved

_CLOSE: Final = ("connection", "close")


class RequestBody(io.RawIOBase):
    """The first ``length`` bytes of ``stream``: one request's body, never the next
    request's first line."""

    def __init__(self, stream: Any, length: int) -> None:
        super().__init__()
        self._stream = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining  # (werkzeug drains with read(10_000_000))
        if size <= 0:
            return b""
        data: bytes = self._stream.read(size)
        self.remaining -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        if size <= 0:
            return b""
        data: bytes = self._stream.readline(size)
        self.remaining -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.remaining)
        if size <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:size]
        count = self._stream.readinto(view)
        if not count:
            return 0
        self.remaining -= count
        return int(count)


def _content_length(headers: Any) -> int | None:
    if "chunked" in str(headers.get("Transfer-Encoding", "")).lower():
        return None
    value = headers.get("Content-Length")
    if value is None:
        return 0
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping the connection open when the body was read whole
    (see the module)."""

    _body: RequestBody | None = None
    #: A response is written in several sends (status and headers, then the body): on a
    #: connection that stays open, Nagle's algorithm held the last one back until the
    #: client's delayed acknowledgement, 40 ms later.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = _content_length(self.headers)
        if length is None:  # werkzeug's own way: read what follows, then close
            self._body = None
            super().run_wsgi()
            return
        stream = self.rfile
        self._body = RequestBody(stream, length)
        self.rfile = self._body  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream
            self._body = None

    def send_header(self, keyword: str, value: str) -> None:
        read = self._body is not None and self._body.remaining == 0
        if read and (keyword.lower(), value.lower()) == _CLOSE:
            return  # the body was read: the next request can follow on this connection
        super().send_header(keyword, value)


class KeepAliveServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` whose connections use :class:`KeepAliveHandler`."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=KeepAliveHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def check_integration_points() -> None:
    """Fail loudly if what :class:`KeepAliveServer` relies on has moved."""
    problems = []
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    for name in ("_ip_address", "_port", "_server_ready_event", "_server"):
        if not hasattr(server, name):
            problems.append(f"ThreadedMotoServer.{name} is gone")
    if not hasattr(threaded_moto_server.ThreadedMotoServer, "_server_entry"):
        problems.append("ThreadedMotoServer._server_entry is gone")
    if not callable(getattr(MotoRequestHandler, "run_wsgi", None)):
        problems.append("MotoRequestHandler.run_wsgi is gone")
    require_unmoved(problems, "its server changed")
