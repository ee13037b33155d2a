"""Spreading a scan over worker processes.

Workers are forked, so each inherits the run's configuration and plugin
manager as they are (no re-import, no global settings to re-seed), and the
work function is inherited too instead of being pickled.  Items go out in
batches, over one pipe per worker; results come back in submission order,
so output is the same whatever the number of workers.  Small scans (a
pre-commit hook) never pay for a pool.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from secretaudit.file_checks import FileResult, scan_batch
from secretaudit.model import FileRef

if TYPE_CHECKING:
    from secretaudit.config import Config

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items a pool costs more than it saves.
MIN_ITEMS_FOR_POOL = 64
BATCH_SIZE = 32

#: The batch function of the pool being run, and what a worker does when it is done; set just before the fork.
_worker_work: Callable[[list], list] | None = None
_worker_finish: Callable[[], None] | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, as ``taskset`` or a container sets it)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def worker_count(config: "Config", n_items: int, warnings: list[str] | None = None) -> int:
    """How many processes to use for ``n_items`` items: never more than the usable CPUs.

    A worker per CPU already keeps every core busy; more only multiplies
    memory and fork time (``--workers 100000`` forked some 900 processes).
    When the cap cuts a pool the user asked for, one line says so in
    ``warnings`` (only then: a team's ``workers: 16`` need not nag a
    pre-commit hook on a laptop, which never starts a pool).
    """
    if n_items < MIN_ITEMS_FOR_POOL:
        return 1
    cpus = usable_cpus()
    asked = config.settings["workers"]
    wanted = min(asked or cpus, cpus)
    count = max(1, min(wanted, n_items // BATCH_SIZE or 1))
    if asked > cpus and count == cpus and warnings is not None:
        message = (f"workers {asked} is more than the {cpus} CPUs this process can use; using {cpus} "
                   "(set workers to 'auto' or at most the CPU count)")
        if message not in warnings:
            warnings.append(message)
    return count


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def map_batches(items: Sequence[T], work: Callable[[list[T]], list[R]], on_result: Callable[[R], None],
                workers: int, finish: Callable[[], None] | None = None) -> None:
    """Run ``work`` over batches of ``items``, in ``workers`` processes, results in order.

    ``finish`` runs in each worker after its last batch, to end what ``work``
    started there (git history's blob readers); in this process the caller
    ends its own.
    """
    if workers <= 1:
        for batch in batches(items):
            for result in work(batch):
                on_result(result)
        return
    global _worker_work, _worker_finish
    _worker_work, _worker_finish = work, finish
    try:
        _run_pool(list(batches(items)), on_result, workers)
    finally:
        _worker_work = _worker_finish = None


#: Batches handed to each worker ahead of its results, so it never waits for the parent.
IN_FLIGHT = 2


def _run_pool(todo: list[list[T]], on_result: Callable[[R], None], workers: int) -> None:
    """Forked workers fed over one pipe each, from this thread alone.

    ``multiprocessing.Pool`` keeps three helper threads in the parent, and
    the one that maintains the workers wakes up each time a result is
    waiting to be read: on a cold scan of 18,000 files the parent burnt
    0.45 s of CPU in those threads, on a machine whose every core is busy
    with workers.  Here the parent sleeps in ``wait`` until a worker
    answers, hands it its next batch, and passes results on in batch order.
    A worker's exception is raised here; a worker that dies is an error.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    from secretaudit import termination

    context = multiprocessing.get_context("fork")
    pipes: list[Any] = []
    processes = []
    finished = False
    try:
        with termination.held():  # a signal now would reach a child before it can ignore it
            for _ in range(min(workers, len(todo))):
                parent_end, child_end = context.Pipe()
                process = context.Process(target=_serve, args=(child_end, [*pipes, parent_end]), daemon=True)
                process.start()
                child_end.close()
                pipes.append(parent_end)
                processes.append(process)
        sent = 0
        outstanding = {pipe: 0 for pipe in pipes}
        for _ in range(IN_FLIGHT):
            for pipe in pipes:
                if sent < len(todo):
                    _send(pipe, (sent, todo[sent]))
                    outstanding[pipe] += 1
                    sent += 1
        done: dict[int, list[R]] = {}
        emitted = 0
        while emitted < len(todo):
            for pipe in wait([p for p in pipes if outstanding[p]]):
                try:
                    index, results, error = pipe.recv()
                except (EOFError, OSError):
                    raise _WorkerDied() from None
                if error is not None:
                    raise error
                outstanding[pipe] -= 1
                done[index] = results
                if sent < len(todo):
                    _send(pipe, (sent, todo[sent]))
                    outstanding[pipe] += 1
                    sent += 1
            while emitted in done:
                for result in done.pop(emitted):
                    on_result(result)
                emitted += 1
        finished = True
    finally:
        if not finished:  # interrupted or failed: the batches being scanned are of no use now
            for process in processes:
                process.kill()
        for pipe in pipes:
            try:
                pipe.send(None)
            except OSError:
                pass  # the worker is gone already
            pipe.close()
        for process in processes:
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
                process.join()


class _WorkerDied(RuntimeError):
    def __init__(self) -> None:
        super().__init__("a scan worker process died; rerun with --workers 1 to see why")


def _send(pipe: Any, task: tuple[int, list[Any]]) -> None:
    try:
        pipe.send(task)
    except OSError:
        raise _WorkerDied() from None


def _serve(pipe: Any, parent_ends: list[Any]) -> None:
    """A worker's life: ``(index, batch)`` in, ``(index, results, error)`` out, until ``None``.

    The parent's ends of the pipes, inherited by the fork, are closed first:
    if the parent dies, every worker then reads end-of-file and exits
    instead of waiting forever.  Ctrl-C and SIGTERM are the parent's to handle.
    """
    from secretaudit import termination

    termination.ignore_in_worker()
    termination.unhold()
    for end in parent_ends:
        end.close()
    work, finish = _worker_work, _worker_finish
    assert work is not None
    try:
        _serve_batches(pipe, work)
    finally:
        if finish is not None:
            finish()


def _serve_batches(pipe: Any, work: Callable[[list], list]) -> None:
    while True:
        try:
            task = pipe.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, batch = task
        try:
            reply = (index, work(batch), None)
        except Exception as exc:  # raised again in the parent
            reply = (index, None, exc)
        try:
            pipe.send(reply)
        except OSError:
            return  # the parent is gone
        except Exception as exc:  # a result or an error that does not pickle
            pipe.send((index, None, RuntimeError(f"a scan worker could not send its result back: {exc!r}")))


def scan_files(refs: list[FileRef], config: "Config", target: str,
               on_result: Callable[[FileResult], None], caching: bool = False,
               warnings: list[str] | None = None) -> None:
    """Scan ``refs``, calling ``on_result`` for each file, in worker processes when there are enough.

    With ``caching``, each result carries what the scan cache remembers;
    ``warnings`` (the session's) receives what :func:`worker_count` has to say.
    """
    map_batches(refs, lambda batch: scan_batch(batch, config, target, caching), on_result,
                worker_count(config, len(refs), warnings))
