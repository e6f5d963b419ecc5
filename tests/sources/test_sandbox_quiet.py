"""A client that hangs up on a vendor fake (a timed-out collector, a stopped demo) leaves no traceback on
the console: the demo's banner and logs stay readable."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest

from sandbox.server import Fake


def test_a_reset_connection_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    fake = Fake()
    fake.start()
    handled = threading.Event()
    server = fake._server
    assert server is not None
    original = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        try:
            original(request, client_address)
        finally:
            handled.set()

    server.handle_error = handle_error  # type: ignore[method-assign]
    try:
        host, port = fake.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as client:
            client.sendall(b"GET /v2/devices HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        assert handled.wait(10), "the server never saw the reset"
    finally:
        fake.stop()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception occurred" not in captured.err, captured.err
