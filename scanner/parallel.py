"""Spreading a file scan over worker processes.

Workers are forked, so each inherits the run's configuration and plugin
manager as they are (no re-import, no global settings to re-seed).  Files go
out in batches, results come back in submission order, so output is the same
whatever the number of workers.  Small scans (a pre-commit hook) never pay
for a pool.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Iterator

from scanner.filescan import FileResult, scan_batch
from scanner.files import FileRef

if TYPE_CHECKING:
    from scanner.config import Config

#: Below this many files a pool costs more than it saves.
MIN_FILES_FOR_POOL = 64
BATCH_FILES = 32

_worker_state: tuple["Config", str] | None = None


def _run_batch(refs: list[FileRef]) -> list[FileResult]:
    assert _worker_state is not None
    config, target = _worker_state
    return scan_batch(refs, config, target)


def worker_count(config: "Config", n_files: int) -> int:
    """How many processes to use for ``n_files`` files."""
    wanted = config.settings["workers"] or (os.cpu_count() or 1)
    if n_files < MIN_FILES_FOR_POOL:
        return 1
    return max(1, min(wanted, n_files // BATCH_FILES or 1))


def batches(refs: list[FileRef], size: int = BATCH_FILES) -> Iterator[list[FileRef]]:
    for start in range(0, len(refs), size):
        yield refs[start:start + size]


def scan_files(refs: list[FileRef], config: "Config", target: str,
               on_result: Callable[[FileResult], None]) -> None:
    """Scan ``refs``, calling ``on_result`` for each file in order."""
    workers = worker_count(config, len(refs))
    if workers == 1:
        for batch in batches(refs):
            for result in scan_batch(batch, config, target):
                on_result(result)
        return
    import multiprocessing

    global _worker_state
    _worker_state = (config, target)
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers) as pool:
            for results in pool.imap(_run_batch, batches(refs)):
                for result in results:
                    on_result(result)
    finally:
        _worker_state = None
