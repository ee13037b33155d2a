"""Deadlines: ``--timeout`` bounds a whole backend call, not each socket read.

Every client library secretaudit talks through (requests/urllib3 for Vault
and GitHub, botocore for AWS, urllib for the webhook, PyMySQL and pg8000 for
databases) applies its timeout to each socket operation on its own.  A server
that sends its headers and then one byte a second never lets a single read
time out, so such a server held ``audit``, ``get`` and ``status`` forever.

One mechanism fixes it for all of them, at the one layer they all share: the
socket.  ``with deadline(seconds):`` marks the current thread; every blocking
socket operation that thread starts (connect, TLS handshake, send, receive;
whichever library starts it) first looks at the time left.  Past the deadline
it raises :class:`DeadlineExceeded` at once; otherwise it runs with its
socket timeout lowered to the time left, and a timeout that fires at the
deadline becomes :class:`DeadlineExceeded` too.  So slow headers, a slow
body, a stalled server, a connection reused from a pool filled by another
thread and the libraries' own retries are all bounded by the same clock,
with no watchdog thread and no socket closed behind a library's back.

Why the socket methods are wrapped instead of each library configured:
urllib3's ``Timeout(total=...)`` and botocore's ``read_timeout`` are per-read
too, ``stream=True`` reads still block in a buffered ``read(n)`` until ``n``
bytes, and the header phase has no hook at all.  The wrappers are installed
the first time a deadline is entered (never on the ``scan`` hot path), cost
one thread-local lookup per socket operation in threads without a deadline,
and change nothing for those threads.  Name resolution (``getaddrinfo``) is
not a socket operation and is not bounded; the resolver's own timeout is.

:class:`DeadlineExceeded` deliberately is not an ``OSError`` or
``TimeoutError``: libraries catch those to retry (botocore, urllib3's pool)
or to re-wrap them, and a deadline must neither be retried nor lose its
meaning.  It passes through them to the caller that set the deadline, which
turns it into a one-line error naming the backend, the timeout and the fix
(:meth:`DeadlineExceeded.explain`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Callable, Iterator

#: Socket methods that may block, wrapped on :class:`socket.socket` and :class:`ssl.SSLSocket`
#: (the TLS class reads and writes through OpenSSL, not through the plain socket's methods).
_SOCKET_METHODS = ("connect", "recv", "recv_into", "send", "sendall")
_SSL_METHODS = ("do_handshake", "read", "write", "recv", "recv_into", "send", "sendall")

_local = threading.local()
_install_lock = threading.Lock()
_installed = False


class DeadlineExceeded(Exception):
    """A call ran past its deadline; ``seconds`` is the limit it had (the run's ``--timeout``).

    ``earlier``: the call was not even made, because the same server had
    already missed a deadline in this run (see :class:`Breaker`).
    """

    def __init__(self, seconds: float, earlier: bool = False, refused: str | None = None) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds
        self.earlier = earlier
        self.refused = refused

    def explain(self, where: str) -> str:
        """One line for users: what did not finish, within what, and what to do about it.

        When every attempt inside the deadline failed to connect (the client
        retried a refused connection until the time ran out), that is the
        cause worth naming: no server answers there, so waiting longer would
        not help.
        """
        if self.refused is not None:
            return (f"{where}: cannot connect ({self.refused}) on any attempt within {self.seconds:g} s (--timeout); "
                    "check that the server runs and that the configured URL (host and port) is right")
        when = " earlier in this run, so it was not asked again" if self.earlier else ""
        return (f"{where} did not answer completely within {self.seconds:g} s (--timeout){when}; raise --timeout "
                "(or 'timeout' in the config) if the server is just slow, or check the server and the network path")


class Breaker:
    """Remembers that one server missed a deadline, so later calls to it in the run fail at once.

    Without it every check that asks the same server waits out its own full
    timeout: an audit asks a Vault server from three checks, and ``rotate
    --due`` asks it once per due secret, so a server that stalls would cost
    a timeout each instead of one.  (A call that timed out is never retried
    by a rotation either: its error ends the rotation before any rollback.)
    """

    def __init__(self) -> None:
        self.missed: DeadlineExceeded | None = None

    def check(self) -> None:
        if self.missed is not None:
            raise DeadlineExceeded(self.missed.seconds, earlier=True, refused=self.missed.refused)

    def trip(self, exc: DeadlineExceeded) -> None:
        if self.missed is None:
            self.missed = exc


class Deadline:
    """A point in time (monotonic clock) by which one call must be done."""

    __slots__ = ("seconds", "expires", "refused")

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.expires = time.monotonic() + self.seconds
        #: why the last connect failed, while no connect has succeeded since (see DeadlineExceeded.explain)
        self.refused: str | None = None

    def exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(self.seconds, refused=self.refused)

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


def _stack() -> list[Deadline]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _publish(stack: list[Deadline]) -> None:
    """Cache the earliest deadline of this thread where the socket wrappers look (one attribute read)."""
    _local.earliest = min(stack, key=lambda d: d.expires) if stack else None


def current() -> Deadline | None:
    """The earliest deadline in force in this thread, or None."""
    return getattr(_local, "earliest", None)


def enter(seconds: float) -> Deadline:
    """Start a deadline in this thread (nested ones: the earliest wins); pair with :func:`leave`.

    For callers that cannot use a ``with`` block (event hooks that start and
    end a call); everyone else uses :func:`deadline`.
    """
    _install()
    entered = Deadline(seconds)
    stack = _stack()
    stack.append(entered)
    _publish(stack)
    return entered


def leave(entered: Deadline) -> None:
    """End a deadline started by :func:`enter` (a no-op if it already ended)."""
    stack = _stack()
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] is entered:
            del stack[index]
            break
    _publish(stack)


@contextlib.contextmanager
def deadline(seconds: float, breaker: Breaker | None = None) -> Iterator[Deadline]:
    """Bound every socket operation of this thread inside the block by ``seconds`` from now, in total.

    With a ``breaker``: fail at once if its server already missed a deadline,
    and remember it if this block misses one.
    """
    if breaker is not None:
        breaker.check()
    entered = enter(seconds)
    try:
        yield entered
    except DeadlineExceeded as exc:
        if breaker is not None:
            breaker.trip(exc)
        raise
    finally:
        leave(entered)


def check() -> None:
    """Raise :class:`DeadlineExceeded` if this thread's deadline has passed (for waits between requests)."""
    earliest = current()
    if earliest is not None and earliest.expired:
        raise earliest.exceeded()


def sleep(seconds: float) -> None:
    """``time.sleep`` that never sleeps past this thread's deadline (and raises once it has passed)."""
    earliest = current()
    if earliest is not None:
        seconds = min(seconds, max(0.0, earliest.remaining()))
    time.sleep(seconds)
    check()


# -- the socket layer ----------------------------------------------------------------------------


def _guard(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        earliest: Deadline | None = getattr(_local, "earliest", None)
        if earliest is None:
            return original(sock, *args, **kwargs)
        remaining = earliest.expires - time.monotonic()
        if remaining <= 0:
            raise earliest.exceeded()
        previous = sock.gettimeout()
        lowered = previous is None or previous > remaining  # 0.0 (non-blocking) never waits: leave it
        if lowered:
            sock.settimeout(remaining)
        try:
            result = original(sock, *args, **kwargs)
        except TimeoutError:  # socket.timeout: ours (the time left ran out) or the library's own, shorter one
            if lowered or earliest.expired:
                raise earliest.exceeded() from None
            raise
        except ConnectionRefusedError:
            earliest.refused = "connection refused"
            raise
        finally:
            if lowered:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)
        earliest.refused = None  # something answered: a later deadline miss is the server's slowness
        return result

    guarded.__name__ = getattr(original, "__name__", "guarded")
    guarded.__doc__ = getattr(original, "__doc__", None)
    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


def _install() -> None:
    """Wrap the blocking socket methods once per process (idempotent, thread-safe)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        import ssl

        for cls, names in ((socket.socket, _SOCKET_METHODS), (ssl.SSLSocket, _SSL_METHODS)):
            for name in names:
                setattr(cls, name, _guard(getattr(cls, name)))
        _installed = True


# -- botocore ------------------------------------------------------------------------------------


def bind_boto_client(client: Any, seconds: float, breaker: Breaker | None = None) -> Any:
    """Give every API call of a boto3 client one deadline of ``seconds``, retries and backoff included.

    botocore's own timeouts are per socket read and each retry starts them
    again.  The deadline starts when a call starts (``before-call``) and ends
    with it (``after-call`` / ``after-call-error``, which botocore emits on
    both ways out of a request); a retry that would start after it raises
    :class:`DeadlineExceeded` instead of sleeping and trying again.
    """
    events = client.meta.events
    key = "secretaudit_deadline"

    def start(context: dict[str, Any] | None = None, **_: Any) -> None:
        if breaker is not None:
            breaker.check()
        if context is not None:
            previous = context.pop(key, None)
            if previous is not None:  # a call that never reported its end: do not let it linger
                leave(previous)
            context[key] = enter(seconds)

    def finish(context: dict[str, Any] | None = None, exception: BaseException | None = None, **_: Any) -> None:
        entered = context.pop(key, None) if context is not None else None
        if entered is not None:
            leave(entered)
        if breaker is not None and isinstance(exception, DeadlineExceeded):
            breaker.trip(exception)

    def no_retry_past_deadline(**_: Any) -> None:
        check()

    events.register_first("before-call", start)
    events.register_last("after-call", finish)
    events.register_last("after-call-error", finish)
    events.register_first("needs-retry", no_retry_past_deadline)
    return client
