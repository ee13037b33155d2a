"""The worker pool of scanner/parallel.py: order, errors, and no process left behind."""

from __future__ import annotations

import multiprocessing
import os
import random
import time

import pytest

from secretaudit.parallel import BATCH_SIZE, map_batches


def _slow_square(batch: list[int]) -> list[int]:
    time.sleep(random.random() / 500)  # workers finish out of order
    return [n * n for n in batch]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_item_order(workers: int) -> None:
    items = list(range(BATCH_SIZE * 20 + 7))
    seen: list[int] = []
    map_batches(items, _slow_square, seen.append, workers)
    assert seen == [n * n for n in items]
    assert not multiprocessing.active_children()


def _fails_on_a_batch(batch: list[int]) -> list[int]:
    if 100 in batch:
        raise ValueError("batch with 100")
    return batch


def test_a_worker_error_is_raised_in_the_parent_and_the_workers_stop() -> None:
    seen: list[int] = []
    with pytest.raises(ValueError, match="batch with 100"):
        map_batches(list(range(BATCH_SIZE * 10)), _fails_on_a_batch, seen.append, 2)
    assert seen == list(range(len(seen))) and len(seen) <= 96  # only batches before the failing one, in order
    assert not multiprocessing.active_children()


def _dies(batch: list[int]) -> list[int]:
    if 40 in batch:
        os._exit(3)
    return batch


def test_a_worker_that_dies_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="worker process died"):
        map_batches(list(range(BATCH_SIZE * 10)), _dies, lambda _r: None, 2)
    assert not multiprocessing.active_children()


def test_workers_exit_when_the_parent_is_killed(tmp_path) -> None:
    """A SIGKILLed scan (a CI timeout) must not leave workers waiting forever on their pipes."""
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    script = ("import os, time\nfrom secretaudit.parallel import map_batches\n"
              "def work(batch):\n    os.write(1, b'%d\\n' % os.getpid())\n    time.sleep(0.3)\n    return batch\n"
              "map_batches(list(range(32 * 200)), work, lambda r: None, 2)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workers: set[int] = set()
    while len(workers) < 2:
        workers.add(int(proc.stdout.readline()))
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def running(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(running, workers))


def test_finish_runs_in_each_worker_after_its_last_batch(tmp_path) -> None:
    """What a worker started for its batches (git history's blob readers) is ended by the worker itself."""
    def work(batch: list[int]) -> list[int]:
        (tmp_path / f"worked-{os.getpid()}").touch()
        return batch

    def finish() -> None:
        (tmp_path / f"finished-{os.getpid()}").touch()

    map_batches(list(range(BATCH_SIZE * 8)), work, lambda _r: None, 2, finish=finish)
    worked = {p.name.split("-")[1] for p in tmp_path.glob("worked-*")}
    finished = {p.name.split("-")[1] for p in tmp_path.glob("finished-*")}
    assert len(worked) == 2 and finished == worked and str(os.getpid()) not in worked
    assert not multiprocessing.active_children()
