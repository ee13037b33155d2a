"""Compare two revisions of secretaudit on the same tree, runs interleaved.

This machine's speed drifts by tens of percent within minutes, so a number
from one revision measured now and one measured an hour ago compares the
machine, not the code.  This script checks the older revision out into a
temporary git worktree, installs each into a virtualenv of its own (the
import name is not the folder name since the ``secretaudit`` package
mapping, so ``PYTHONPATH`` cannot pick a checkout), and alternates their runs
(old, new, old, new...) over one tree with a fresh cache each, so both see
the same moods; it prints the median wall and CPU seconds of each.

    python benchmarks/ab.py --tree DIR --old REV [--runs 5] [--warm] [--hook] [-- extra scan args]

``--warm`` compares rescans instead: each revision keeps one cache, filled
by a first run that is not counted.  ``--hook`` compares the pre-commit
path instead of a tree scan: ``scan --allow-empty --quiet F1..F10`` on the
ten files bench.py picks from the tree (cold: a fresh cache directory per
run, as bench.py's latency line; with ``--warm``: a cache directory kept
between runs, as a pre-commit user's is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def install(checkout: Path) -> Path:
    """A virtualenv holding ``checkout`` (editable, byte-compiled), its dependencies taken from this interpreter's."""
    import sysconfig

    venv = Path(tempfile.mkdtemp(prefix="ab-venv-"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # this interpreter's packages (which may be a virtualenv's own), appended to the new one's path
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_ab_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(parents)))
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e", str(checkout)],
                   check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(checkout / p) for p in ("scanner", "checks", "reports"))], check=True)
    return venv / "bin" / "secretaudit"


def run_once(program: Path, tree: Path, extra: list[str], cache_home: str | None = None,
             hook_files: list[str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``scan`` of ``tree`` (or of ``hook_files`` in it) by ``program``; cold unless
    ``cache_home``."""
    import time

    env = {**os.environ, "XDG_CACHE_HOME": cache_home or tempfile.mkdtemp(prefix="ab-cache-")}
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):  # both revisions byte-compiled, as installed ones are
        env.pop(key, None)
    if hook_files is not None:
        argv = [str(program), "scan", "--allow-empty", "--quiet", *extra, *hook_files]
    else:
        argv = [str(program), "scan", str(tree), "--no-baseline", "--format", "json", "-q", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tree if hook_files is not None else None)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{program}: scan failed with exit code {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, required=True, help="Directory to scan.")
    parser.add_argument("--old", required=True, help="The revision to compare the working tree with (e.g. HEAD~5).")
    parser.add_argument("--runs", type=int, default=5, help="Runs of each (default 5).")
    parser.add_argument("--warm", action="store_true", help="Compare rescans with a filled cache instead of cold scans.")
    parser.add_argument("--hook", action="store_true",
                        help="Compare the pre-commit path (scan of ten files of the tree) instead of a tree scan.")
    parser.add_argument("extra", nargs="*", help="Extra arguments for 'secretaudit scan' (after --).")
    args = parser.parse_args(argv)

    worktree = Path(tempfile.mkdtemp(prefix="ab-old-")) / "old"
    added = subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "-q", "--detach", str(worktree), args.old],
                           capture_output=True, text=True)
    if added.returncode != 0:
        raise SystemExit(f"--old {args.old!r}: git cannot check it out ({added.stderr.strip()}); give a commit, tag or branch")
    checkouts: dict[str, Path] = {}
    hook_files = None
    if args.hook:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench import pick_latency_files

        hook_files = pick_latency_files(args.tree.resolve())
    try:
        checkouts = {"old": install(worktree), "new": install(PROJECT)}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        caches = {name: tempfile.mkdtemp(prefix="ab-cache-") if args.warm else None for name in checkouts}
        for name, checkout in checkouts.items():
            if args.warm:
                run_once(checkout, args.tree, args.extra, caches[name], hook_files)  # fills the cache
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                times[name].append(run_once(checkout, args.tree, args.extra, caches[name], hook_files))
        what = f"pre-commit runs over {len(hook_files)} files" if hook_files is not None else "scans"
        print(f"{args.runs} interleaved {'warm' if args.warm else 'cold'} {what} of {args.tree}; old = {args.old}, "
              "new = the working tree")
        for name, runs in times.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(f"  {name}: wall median {statistics.median(walls):.3f}s (min {min(walls):.3f}, "
                  f"max {max(walls):.3f}), CPU median {statistics.median(cpus):.3f}s")
        old_wall = statistics.median(w for w, _ in times["old"])
        new_wall = statistics.median(w for w, _ in times["new"])
        old_cpu = statistics.median(c for _, c in times["old"])
        new_cpu = statistics.median(c for _, c in times["new"])
        print(f"  new / old wall: {new_wall / old_wall:.2f}, CPU: {new_cpu / old_cpu:.2f}")
    finally:
        subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(worktree)], check=False)
        for program in checkouts.values():
            shutil.rmtree(program.parent.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
