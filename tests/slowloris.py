"""Hostile HTTP servers for deadline tests: a slow-loris, a silent one, a 503 one.

A slow-loris answers a request with valid headers (``200``, a JSON content
type and a large ``Content-Length``) and then trickles the body one byte per
``interval`` seconds, forever: every socket read returns in about a second,
so a per-read socket timeout never fires and only a deadline on the whole
call ends it.  Other modes:

* ``headers``: trickles the status line and headers the same way;
* ``drip``: sends ``preamble`` (e.g. a database packet header announcing a
  long packet) as soon as the connection is accepted, without waiting for a
  request (a database client waits for the server's greeting), then
  trickles spaces;
* ``silent``: reads the request and never answers;
* ``garbled``: answers ``200`` at once with an HTML page (a proxy or captive
  portal, not the service);
* ``status=503`` (any mode but drip): answers every request at once with
  that status and a JSON error (a provider outage).

``hostile_server(...)`` serves on a free loopback port in daemon threads and
yields a :class:`HostileServer`; leaving the block closes the listening
socket and every open connection.  It speaks just enough HTTP/1.1 for
requests, botocore and urllib; it is not a general server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

#: The body the slow-loris promises (and never finishes sending).
PROMISED_LENGTH = 1 << 20


@dataclass
class HostileServer:
    url: str
    mode: str
    interval: float
    status: int
    preamble: bytes = b""
    connections: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_sockets: list[socket.socket] = field(default_factory=list)


def _read_request(conn: socket.socket) -> bool:
    """Read up to the end of the request headers (bodies are small and ignored); False if the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


def _trickle(conn: socket.socket, state: HostileServer, data: bytes) -> None:
    for index in range(len(data)):
        if state.stopped.wait(state.interval if index else 0):
            return
        conn.sendall(data[index:index + 1])


def _serve(conn: socket.socket, state: HostileServer) -> None:
    try:
        conn.settimeout(None)
        if state.mode == "drip":
            conn.sendall(state.preamble)
            _trickle(conn, state, b" " * PROMISED_LENGTH)
            return
        while not state.stopped.is_set():
            if not _read_request(conn):
                return
            if state.mode == "silent":
                state.stopped.wait()
                return
            if state.mode == "garbled":
                body = b"<html><body>Please log in to the guest network</body></html>"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
                continue
            if state.status != 200:
                body = b'{"errors": ["service unavailable"], "message": "Service Unavailable"}'
                conn.sendall(b"HTTP/1.1 %d Unavailable\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (state.status, len(body), body))
                continue
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % PROMISED_LENGTH)
            if state.mode == "headers":
                _trickle(conn, state, head)
            else:
                conn.sendall(head)
            _trickle(conn, state, b"{" + b" " * (PROMISED_LENGTH - 1))
            return
    except OSError:
        return  # the client gave up: what a deadline is for
    finally:
        conn.close()


@contextlib.contextmanager
def hostile_server(mode: str = "body", interval: float = 1.0, status: int = 200,
                   preamble: bytes = b"") -> Iterator[HostileServer]:
    """Serve ``mode`` (``body``, ``headers``, ``drip``, ``silent``, ``garbled``) or an instant ``status``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    state = HostileServer(url=f"http://127.0.0.1:{listener.getsockname()[1]}", mode=mode, interval=interval,
                          status=status, preamble=preamble)

    def accept() -> None:
        while not state.stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with state.lock:
                state.connections += 1
                state.open_sockets.append(conn)
            threading.Thread(target=_serve, args=(conn, state), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield state
    finally:
        state.stopped.set()
        listener.close()
        with state.lock:
            for conn in state.open_sockets:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        time.sleep(0)  # let the connection threads notice
