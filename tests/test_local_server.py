"""moto's server with connections kept open: a request's body is its own, never the next
request's first line; a body read whole keeps the connection, any other closes it."""

from __future__ import annotations

import http.client
import io
from collections.abc import Iterator

import pytest

from constructs_sm.local.server import KeepAliveServer, RequestBody
from tests.local_deployment import Deployed

NEXT = b"GET /next HTTP/1.1\r\n"


def test_a_request_body_ends_at_its_content_length() -> None:
    body = RequestBody(io.BufferedReader(io.BytesIO(b"line one\nline two" + NEXT)), 17)
    assert body.readline() == b"line one\n"
    assert body.remaining == 8
    assert body.read(10_000_000) == b"line two"  # werkzeug's drain asks for 10 MB
    assert body.remaining == 0
    assert body.read() == b"" and body.readline() == b""


def test_a_request_body_reads_into_a_buffer_up_to_its_end() -> None:
    stream = io.BufferedReader(io.BytesIO(b"abcdef" + NEXT))
    body = RequestBody(stream, 6)
    buffer = bytearray(4)
    assert body.readinto(buffer) == 4 and bytes(buffer) == b"abcd"
    assert body.readall() == b"ef"
    assert body.readinto(buffer) == 0
    assert stream.read() == NEXT


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A server of its own (moto's state is the process's; requests here are unsigned, so
    an emulator enforcing IAM answers them 403, which is still an answer)."""
    server = KeepAliveServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield int(server.get_host_and_port()[1])
    server.stop()


def _send(
    connection: http.client.HTTPConnection, method: str, path: str, **kwargs: object
) -> tuple[str | None, bool]:
    """The response's ``Connection`` header, and whether the socket stayed open."""
    connection.request(method, path, **kwargs)  # type: ignore[arg-type]
    sock = connection.sock
    response = connection.getresponse()
    response.read()
    return response.getheader("Connection"), connection.sock is sock


def test_requests_follow_each_other_on_one_connection(port: int) -> None:
    connection = http.client.HTTPConnection("localhost", port, timeout=30)
    try:
        assert _send(connection, "GET", "/") == (None, True)
        # moto reads an S3 PutObject's body: the connection stays.
        body = b"x" * 5000
        assert _send(connection, "PUT", "/csm-server-test/key", body=body) == (None, True)
        assert _send(connection, "GET", "/") == (None, True)
    finally:
        connection.close()


def test_a_chunked_body_or_a_body_left_unread_closes_the_connection(port: int) -> None:
    connection = http.client.HTTPConnection("localhost", port, timeout=30)
    try:
        chunks = iter([b"abc", b"def"])
        assert _send(
            connection, "PUT", "/csm-server-test/chunked", body=chunks, encode_chunked=True
        ) == ("close", False)
        # moto's own API ignores the body of this GET.
        assert _send(connection, "GET", "/moto-api/data.json", body=b"unread") == (
            "close",
            False,
        )
        assert _send(connection, "GET", "/") == (None, True)  # a new connection, kept
    finally:
        connection.close()


def test_the_emulator_serves_with_connections_kept_open(deployed: Deployed) -> None:
    connection = http.client.HTTPConnection("localhost", deployed.emulator.port, timeout=30)
    try:
        for _ in range(2):
            assert _send(connection, "GET", "/") == (None, True)
    finally:
        connection.close()
