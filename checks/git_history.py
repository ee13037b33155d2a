"""SA105: credentials anywhere in git history (``secretaudit scan --history``).

Deleting a key in a later commit does not un-leak it: every clone still has
the blob.  This plugin scans every blob reachable from the given refs
exactly once (deduplicated by blob id), with the same file checks a normal
scan runs, and reports each secret with the commit that introduced it, its
author and date, and whether it is still present at HEAD.

How, in three streams, so memory stays flat whatever the history size:

1. ``git rev-list --objects REFS | git cat-file --batch-check`` lists every
   reachable blob once, with a path and a size;
2. blobs are read through one long-lived ``git cat-file --batch`` per worker
   process and scanned; results are cached by blob id (a blob's id *is* a
   hash of its content), so a nightly rerun reads only new blobs;
3. one ``git log --reverse --raw`` pass finds the commit that first added
   each blob with a finding; a secret is reported once per file, from the
   oldest blob holding it (see :func:`history_findings`).
"""

from __future__ import annotations

import os
import subprocess
from typing import Iterator, NamedTuple, TYPE_CHECKING

from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Finding, Location, Severity, Status, Target, Waiver, make_finding
from secretaudit.stash import HISTORY, SHARD, StashKey
from secretaudit.targets import TargetFamily

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.file_checks import Row
    from secretaudit.registry import CheckRegistry
    from secretaudit.session import Session
    from secretaudit.targets import FamilyRegistry

CHECK_ID = "SA105"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Credential in git history",
    severity=Severity.HIGH,
    description=("A credential is present in a blob reachable from the scanned refs: anyone with a clone "
                 "has it, even if a later commit deleted it."),
    remediation=("Revoke or rotate the credential first: removing it from history does not un-leak it. "
                 "Then, if policy requires, rewrite history (git filter-repo --replace-text) and force-push, "
                 "and ask every holder of a clone to re-clone."),
    tags=("hardcoded", "credentials", "history"),
    controls=HARDCODED_CREDENTIALS,
    applies_to=("history",),
)


class BlobRef(NamedTuple):
    """A blob reachable from the scanned refs: id, a path it had, its size."""

    sha: str
    path: str
    size: int


class Introduced(NamedTuple):
    commit: str
    author: str
    date: str


def _git(repo: str, *args: str) -> list[str]:
    return ["git", "-C", repo, *args]


def list_blobs(repo: str, refs: list[str]) -> list[BlobRef]:
    """Every blob reachable from ``refs``, once, in rev-list order."""
    rev_list = subprocess.Popen(_git(repo, "rev-list", "--objects", *refs, "--"), stdout=subprocess.PIPE)
    check = subprocess.Popen(
        _git(repo, "cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)"),
        stdin=rev_list.stdout, stdout=subprocess.PIPE)
    assert rev_list.stdout is not None and check.stdout is not None
    rev_list.stdout.close()
    blobs: list[BlobRef] = []
    seen: set[str] = set()
    for raw in check.stdout:
        kind, sha, size, *rest = raw.decode("utf-8", "surrogateescape").rstrip("\n").split(" ", 3)
        if kind == "blob" and sha not in seen:
            seen.add(sha)
            blobs.append(BlobRef(sha, rest[0] if rest else sha, int(size)))
    check.wait()
    if rev_list.wait() != 0:
        from secretaudit.errors import UsageError

        raise UsageError(f"git rev-list failed in {repo} for refs {' '.join(refs)}; check the --ref names")
    return blobs


class BlobReader:
    """One long-lived ``git cat-file --batch`` process: blob id in, bytes out."""

    def __init__(self, repo: str) -> None:
        self.proc = subprocess.Popen(_git(repo, "cat-file", "--batch"), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def close(self) -> None:
        """End the process: git exits at the end of its input; it is waited for, so no zombie is left."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass  # it is gone already
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def read(self, sha: str) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(sha.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) < 3:
            return b""
        size = int(header[2])
        data = self.proc.stdout.read(size)
        self.proc.stdout.read(1)  # the newline after each object
        return data


class BlobReaders:
    """The run's blob readers: one per process and repository, started on first use.

    Per run (kept in ``config.stash``), not per module: a reader is a child
    process with two pipes, and every run must end its own.  Workers are
    forked with a copy of this object: each starts readers of its own (a
    reader is keyed by process id) and closes them when it finishes
    (:meth:`close` as the pool's ``finish``); the run closes the main
    process's at its end.
    """

    def __init__(self) -> None:
        self._readers: dict[tuple[int, str], BlobReader] = {}

    def get(self, repo: str) -> BlobReader:
        key = (os.getpid(), repo)
        if key not in self._readers:
            self._readers[key] = BlobReader(repo)
        return self._readers[key]

    def close(self) -> None:
        """End this process's readers; those a fork inherited belong to the process that started them."""
        pid = os.getpid()
        for key in [k for k in self._readers if k[0] == pid]:
            self._readers.pop(key).close()


#: the run's :class:`BlobReaders`
READERS: StashKey[BlobReaders] = StashKey("git_blob_readers")


def scan_blobs(batch: list[BlobRef], repo: str, config: "Config") -> list[tuple[BlobRef, "list[Row] | None"]]:
    """Scan a batch of blobs: their rows, or None for binary/undecodable ones."""
    from secretaudit.file_checks import run_checks
    from secretaudit.file_reader import decode

    readers = config.stash.get(READERS)
    if readers is None:
        readers = config.stash[READERS] = BlobReaders()
    reader = readers.get(repo)
    out = []
    for blob in batch:
        item = decode(blob.path, blob.path, reader.read(blob.sha))
        out.append((blob, None if not hasattr(item, "text") else run_checks(item, config)))  # type: ignore[arg-type]
    return out


def introducing_commits(repo: str, refs: list[str], wanted: set[str]) -> dict[str, Introduced]:
    """The oldest commit adding each wanted blob, from one ``git log --raw`` pass.

    In order, oldest first: ``--topo-order`` puts every commit after its
    ancestors whatever the dates say (a rebase or a wrong clock), which
    :func:`history_findings` relies on to pick where a secret first appeared.
    """
    found: dict[str, Introduced] = {}
    if not wanted:
        return found
    proc = subprocess.Popen(_git(repo, "log", *refs, "--topo-order", "--reverse", "--raw", "--no-abbrev", "--no-renames",
                                 "-m", "--format=commit %H%x09%an%x09%aI", "--"), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    current: Introduced | None = None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        if line.startswith("commit "):
            commit, author, date = (line[7:].rstrip("\n").split("\t") + ["", ""])[:3]
            current = Introduced(commit, author, date)
        elif line.startswith(":") and current is not None:
            new_sha = line.split()[3]
            if new_sha in wanted and new_sha not in found:
                found[new_sha] = current
                if len(found) == len(wanted):
                    proc.kill()
                    break
    proc.wait()
    return found


def head_blobs(repo: str) -> set[str]:
    proc = subprocess.run(_git(repo, "ls-tree", "-r", "-z", "HEAD"), capture_output=True)
    if proc.returncode != 0:
        return set()
    return {entry.split()[2] for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0")
            if entry and len(entry.split()) >= 3}


def history_findings(rows_by_blob: dict[str, tuple[BlobRef, "list[Row]"]], intro: dict[str, Introduced],
                     at_head: set[tuple[str, str]], config: "Config", target: str) -> Iterator[Finding]:
    """SA105 findings: one per secret per file, attributed to the commit that introduced it.

    Every edit of a file makes a new blob, so a key committed once and left
    in place through four later edits sits in five blobs; a finding per blob
    said five times that the key leaked, four of them blaming whoever edited
    a neighbouring line.  The findings are keyed by what their fingerprint is
    made of (check, rule, path and the salted digest of the secret: never the
    secret), and the one kept is from the oldest blob, so the commit, author
    and line are where the secret first appeared in that file.

    Per file, not per secret across files: each path holding it is a place
    to clean up (``git filter-repo`` is told paths), as a working-tree scan
    reports each file, and the fingerprint stays what baselines accepted.
    A waiver on any version counts (history cannot be edited: a waiver can
    only be added in a later commit), the newest one winning.
    """
    assert config.checks is not None
    spec = config.checks.get(CHECK_ID)
    order = {sha: rank for rank, sha in enumerate(intro)}  # git log --reverse: oldest first
    kept: dict[tuple[str, str, str, str], tuple[int, BlobRef, "Row"]] = {}
    waivers: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for sha, (blob, rows) in rows_by_blob.items():
        rank = order.get(sha, len(order))  # introducing commit not found: after every found one
        for row in rows:
            check_id, rule, _line, digest, _label, _evidence, waiver, *_ = row
            key = (blob.path, check_id, rule, digest)
            if key not in kept or rank < kept[key][0]:
                kept[key] = (rank, blob, row)
            if waiver and (key not in waivers or rank > waivers[key][0]):
                waivers[key] = (rank, waiver)
    for key, (_rank, blob, row) in kept.items():
        check_id, rule, line, digest, label, evidence, _waiver, *_ = row
        introduced = intro.get(blob.sha)
        waiver = waivers.get(key, (0, None))[1]
        still = (check_id, digest) in at_head
        origin = (f"added in {introduced.commit[:12]} by {introduced.author} on {introduced.date[:10]}"
                  if introduced else "introducing commit not found")
        state = "still present at HEAD" if still else "removed from HEAD but still in history"
        yield make_finding(
            spec, Location(path=blob.path, line=line or None, commit=introduced.commit if introduced else None),
            f"{label} ({check_id}) in git history, {origin}; {state}",
            status=Status.WAIVED if waiver else Status.FAILED, digest=digest, rule=f"{check_id}:{rule}",
            shown_rule=rule, evidence=evidence, target=target, waiver=Waiver(waiver) if waiver else None)


# -- the family ---------------------------------------------------------------


class GitHistory(TargetFamily[BlobRef]):
    """SA105 (``scan --history``): one target, the repository's history, whose units are its blobs.

    Its blobs are judged in bulk rather than one by one through the engine's
    loop: they are scanned in worker processes with the file checks, cached
    by blob id, and a secret is reported once per file from the oldest blob
    holding it, which needs every blob's rows first.  So this family runs its
    target itself (:meth:`run`); the engine still gates it by command and
    collects it, and each blob is sharded on its own (``--shard``).
    """

    kind = "history"
    mode = "history"
    specs = (SPEC,)
    noun = "blobs"

    def targets(self, config: "Config") -> list[Target]:
        history = config.stash[HISTORY]
        return [Target(kind="history", name=f"git history ({' '.join(history['refs'])})", path=history["repo"],
                       scope=" ".join(history["refs"]))]

    def shard_key(self, target: Target) -> None:
        return None  # each blob is placed in a shard, not the history as a whole

    def run(self, session: "Session", target: Target) -> None:
        readers = session.config.stash[READERS] = BlobReaders()
        try:
            _scan_history(session, target, readers)
        finally:
            readers.close()


def _scan_history(session: "Session", target: Target, readers: BlobReaders) -> None:
    from secretaudit.file_checks import BINARY_ROWS
    from secretaudit.parallel import map_batches, worker_count
    from secretaudit.shard import in_shard

    config, cache, repo, refs = session.config, session.cache, target.path, target.scope.split()
    max_size = config.settings["max_file_size"]

    blobs = [b for b in list_blobs(repo, refs) if in_shard(b.sha, config.stash.get(SHARD))]
    session.collected(target, len(blobs))
    rows_by_blob: dict[str, tuple[BlobRef, list]] = {}
    head = head_blobs(repo)
    at_head: set[tuple[str, str]] = set()

    def take(blob: BlobRef, rows: "list[Row] | None", payload_needed: bool) -> None:
        if cache is not None and payload_needed:
            from secretaudit.scan_cache import encode_payload, result_key

            cache.remember_results(result_key(blob.sha, blob.path),
                                   encode_payload(rows if rows is not None else BINARY_ROWS))
        if rows is None or rows == BINARY_ROWS:
            session.count_skipped(blob.path, "binary or not UTF-8")
            return
        session.count_scanned(blob.size, failed=any(not row[6] for row in rows))
        if rows:
            rows_by_blob[blob.sha] = (blob, rows)
            if blob.sha in head:
                at_head.update((r[0], r[3]) for r in rows)

    todo = []
    for blob in blobs:
        if blob.size > max_size:
            session.count_skipped(blob.path, "too large")
            continue
        cached = cache.results(blob.sha, blob.path) if cache is not None else None
        if cached is None:
            todo.append(blob)
        else:
            take(blob, cached, payload_needed=False)
    map_batches(todo, lambda batch: scan_blobs(batch, repo, config), lambda r: take(r[0], r[1], True),
                worker_count(config, len(todo), session.warnings), finish=readers.close)
    intro = introducing_commits(repo, refs, set(rows_by_blob))
    for finding in history_findings(rows_by_blob, intro, at_head, config, target.name):
        session.add_finding(finding)


# -- hooks ----------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(GitHistory())
