"""Spreading a scan over worker processes.

Workers are forked, so each inherits the run's configuration and plugin
manager as they are (no re-import, no global settings to re-seed), and the
work function is inherited too instead of being pickled.  Items go out in
batches; results come back in submission order, so output is the same
whatever the number of workers.  Small scans (a pre-commit hook) never pay
for a pool.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

from scanner.filescan import FileResult, cached_result, scan_batch
from scanner.files import FileRef

if TYPE_CHECKING:
    from scanner.cache import ScanCache
    from scanner.config import Config

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items a pool costs more than it saves.
MIN_ITEMS_FOR_POOL = 64
BATCH_SIZE = 32

#: The batch function of the pool being run; set just before the fork.
_worker_work: Callable[[list], list] | None = None


def _run_batch(batch: list) -> list:
    assert _worker_work is not None
    return _worker_work(batch)


def worker_count(config: "Config", n_items: int) -> int:
    """How many processes to use for ``n_items`` items."""
    wanted = config.settings["workers"] or (os.cpu_count() or 1)
    if n_items < MIN_ITEMS_FOR_POOL:
        return 1
    return max(1, min(wanted, n_items // BATCH_SIZE or 1))


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def map_batches(items: Sequence[T], work: Callable[[list[T]], list[R]], on_result: Callable[[R], None],
                workers: int, initializer: Callable[[], None] | None = None) -> None:
    """Run ``work`` over batches of ``items``, in ``workers`` processes, results in order."""
    if workers <= 1:
        for batch in batches(items):
            for result in work(batch):
                on_result(result)
        return
    import multiprocessing

    global _worker_work
    _worker_work = work
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=initializer) as pool:
            for results in pool.imap(_run_batch, batches(items)):
                for result in results:
                    on_result(result)
    finally:
        _worker_work = None


def scan_files(refs: list[FileRef], config: "Config", target: str,
               on_result: Callable[[FileResult], None], cache: "ScanCache | None" = None) -> None:
    """Scan ``refs``, calling ``on_result`` for each file.

    Unchanged files are answered from ``cache`` first, in this process, so
    workers never touch the cache database; the rest are scanned, in worker
    processes when there are enough of them.
    """
    if cache is not None:
        todo = []
        for ref in refs:
            hit = cached_result(ref, config, target, cache)
            if hit is None:
                todo.append(ref)
            else:
                on_result(hit)
        refs = todo
    caching = cache is not None
    map_batches(refs, lambda batch: scan_batch(batch, config, target, caching), on_result,
                worker_count(config, len(refs)))
