"""Compare two revisions of secretaudit on the same tree, runs interleaved.

This machine's speed drifts by tens of percent within minutes, so a number
from one revision measured now and one measured an hour ago compares the
machine, not the code.  This script checks the older revision out into a
temporary git worktree, byte-compiles both, and alternates their runs
(old, new, old, new...) over one tree with a fresh cache each, so both see
the same moods; it prints the median wall and CPU seconds of each.

    python benchmarks/ab.py --tree DIR --old REV [--runs 5] [--warm] [-- extra scan args]

``--warm`` compares rescans instead: each revision keeps one cache, filled
by a first run that is not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def run_once(checkout: Path, tree: Path, extra: list[str], cache_home: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``scan`` of ``tree`` with the code of ``checkout``; cold unless ``cache_home``."""
    import time

    env = {**os.environ, "PYTHONPATH": str(checkout),
           "XDG_CACHE_HOME": cache_home or tempfile.mkdtemp(prefix="ab-cache-")}
    argv = [sys.executable, "-m", "secretaudit", "scan", str(tree), "--no-baseline", "--format", "json", "-q", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{checkout}: scan failed with exit code {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, required=True, help="Directory to scan.")
    parser.add_argument("--old", required=True, help="The revision to compare the working tree with (e.g. HEAD~5).")
    parser.add_argument("--runs", type=int, default=5, help="Runs of each (default 5).")
    parser.add_argument("--warm", action="store_true", help="Compare rescans with a filled cache instead of cold scans.")
    parser.add_argument("extra", nargs="*", help="Extra arguments for 'secretaudit scan' (after --).")
    args = parser.parse_args(argv)

    worktree = Path(tempfile.mkdtemp(prefix="ab-old-")) / "old"
    added = subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "-q", "--detach", str(worktree), args.old],
                           capture_output=True, text=True)
    if added.returncode != 0:
        raise SystemExit(f"--old {args.old!r}: git cannot check it out ({added.stderr.strip()}); give a commit, tag or branch")
    try:
        checkouts = {"old": worktree, "new": PROJECT}
        for checkout in checkouts.values():
            subprocess.run([sys.executable, "-m", "compileall", "-q",
                            *(str(checkout / p) for p in ("scanner", "checks", "reports"))], check=True)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        caches = {name: tempfile.mkdtemp(prefix="ab-cache-") if args.warm else None for name in checkouts}
        for name, checkout in checkouts.items():
            if args.warm:
                run_once(checkout, args.tree, args.extra, caches[name])  # fills the cache
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                times[name].append(run_once(checkout, args.tree, args.extra, caches[name]))
        print(f"{args.runs} interleaved {'warm' if args.warm else 'cold'} scans of {args.tree}; old = {args.old}, new = the working tree")
        for name, runs in times.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(f"  {name}: wall median {statistics.median(walls):.2f}s (min {min(walls):.2f}, max {max(walls):.2f}), "
                  f"CPU median {statistics.median(cpus):.2f}s")
        old_wall = statistics.median(w for w, _ in times["old"])
        new_wall = statistics.median(w for w, _ in times["new"])
        print(f"  new / old wall: {new_wall / old_wall:.2f}")
    finally:
        subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(worktree)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
