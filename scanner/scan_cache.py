"""The scan cache: a second scan of an unchanged tree reads almost nothing.

Results are stored per file *content* (git's blob id of the bytes, plus the
path, since checks also judge by name) and *rules version* (a hash of every
loaded plugin's source and of the settings that change detections), so
editing a file or upgrading a rule invalidates exactly what it must.

Each scanned path target also keeps a *snapshot*: for every file it listed,
the signature the listing saw (:mod:`secretaudit.dir_listing`: git's blob id, or a
stat signature), the content digest, the size and the rows.  A rescan loads
it in one read and answers every file whose listing matches without opening
it; only the others are scanned.  A file changed within :data:`RACY_NS` of
being read could change again without its stat changing (timestamps are
coarse), so its signature is marked racy, and the next run hashes the file
before it trusts the entry, as git does for racily clean index entries.

With the snapshot goes the target's *outcome*: the key of the listing it
was made from (a digest of every name with its signature or blob id, and
of what filters them), the number and bytes of files without findings, the
files with findings or skips, and the few files every run scans again.  A
rescan whose listing has the same key replays it without a pass over the
files; none is recorded while an entry is racy.

Stored per file: for each finding the check id, rule, line, a salted digest
of the secret, the label, the redacted evidence and the inline waiver; never
a secret.  Fingerprints are recomputed from the digest and the path.

SQLite in WAL mode with a busy timeout makes concurrent runs safe: readers
never block, rows are written in short transactions while the scan runs, and
a snapshot is replaced whole at the end (the last run to finish wins; every
entry in either is true on its own).  A cache that SQLite or our checksums
find corrupt is discarded with a warning and rebuilt; it is never trusted.
A cache written by another version of secretaudit is rebuilt quietly.
"""

from __future__ import annotations

import errno
import hashlib
import json
import marshal
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Iterable

from secretaudit import cache_location
CACHE_FORMAT = "3"  # 3: UTF-16/32 text and archives, once cached as "binary", are scanned

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (digest TEXT NOT NULL, rules TEXT NOT NULL, payload TEXT NOT NULL,
                                    PRIMARY KEY (digest, rules));
CREATE TABLE IF NOT EXISTS snapshots (scope TEXT NOT NULL, rules TEXT NOT NULL, checksum TEXT NOT NULL,
                                      data BLOB NOT NULL, PRIMARY KEY (scope, rules));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: A file whose ctime is this close to the moment it was read is racily clean:
#: it could change again within the same timestamp tick, unseen by ``stat``.
RACY_NS = 2_000_000_000

#: Marks a racy signature: the entry is trusted only once the content hashes the same.
RACY_MARK = "?"

#: The marshal format of snapshots, tied to the Python version that wrote them.
_SNAPSHOT_FORMAT = f"{CACHE_FORMAT}:{sys.version_info[0]}.{sys.version_info[1]}:{marshal.version}"


class CacheCorrupt(Exception):
    """The cache file cannot be trusted."""


class CacheUnusable(OSError):
    """The cache cannot be opened or written here (read-only directory, a directory at its path, a full disk).

    Not corruption: the file is not discarded (it may be fine, and it may
    not be ours to delete), the run goes on without it.  An ``OSError``, so
    every caller that already copes with an unwritable cache copes with this.
    """


#: SQLite's result codes for a damaged database (SQLITE_CORRUPT, SQLITE_NOTADB); any other
#: error (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL...) is about where it lives.
_SQLITE_DAMAGED = frozenset({11, 26})


def _database_error(exc: sqlite3.Error) -> Exception:
    """What a SQLite error means for the run: a corrupt cache, to discard and rebuild, or an unusable one."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _SQLITE_DAMAGED:
        return CacheCorrupt(str(exc))
    if code is None and ("malformed" in str(exc) or "not a database" in str(exc)):
        return CacheCorrupt(str(exc))  # Python < 3.11 has no error codes: the messages SQLite gives them
    return CacheUnusable(errno.EIO, str(exc))


class _OtherFormat(Exception):
    """The cache was written by another version of secretaudit."""


#: What a run over an unchanged listing comes to: (listing key, files without
#: findings, their bytes, the paths of files with findings or skips, and the
#: (path, relpath, digest, signature) of the files every run scans again).
Outcome = tuple[str, int, int, tuple[str, ...], tuple[tuple[str, str, "str | None", "str | None"], ...]]

#: What a snapshot remembers of one file: (signature, digest, size, payload).
#: ``signature`` is the listing's (None when git vouched for the file,
#: prefixed with :data:`RACY_MARK` when racy); ``payload`` is the encoded
#: rows, or None for a file with none (most files).  Plain tuples, as
#: ``marshal`` gives them back: a rescan reads tens of thousands.
Known = tuple[str | None, str, int, str | None]


def default_cache_dir() -> Path:
    return Path(cache_location.cache_dir())


def cache_file(cache_dir: Path, root: Path) -> Path:
    """One database per scanned root, so unrelated repositories never collide."""
    tag = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir / f"{root.name or 'root'}-{tag}.sqlite"


def content_digest(data: bytes) -> str:
    """The content's git blob id: ``sha1("blob <size>\\0" + data)``.

    Git's own content address, so a file git already vouches for (tracked
    and unmodified, see :mod:`secretaudit.dir_listing`) and a blob of the history
    scan find their cached rows without being read or hashed again.
    """
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def result_key(digest: str, relpath: str) -> str:
    """What cached rows are keyed by: content *and* path.

    Checks may judge by name as well as content (a committed ``.env`` versus
    an identical ``.env.example``), so the same bytes at another path are
    another entry.
    """
    return f"{digest}:{relpath}"


def rules_version(sources: Iterable[str], settings: dict[str, Any]) -> str:
    """Hash of what decides detections: plugin sources and detection settings."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(CACHE_FORMAT.encode())
    for source in sorted(sources):
        try:
            digest.update(Path(source).read_bytes())
        except OSError:
            digest.update(source.encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _checksum(payload: str) -> str:
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


def _blob_checksum(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest() + _SNAPSHOT_FORMAT


#: Files remembered before their rows are written (:meth:`ScanCache._write_some`).
WRITE_EVERY = 2048


class ScanCache:
    """Read and write cached per-content results and per-target snapshots for one scan root."""

    def __init__(self, path: Path, rules: str) -> None:
        self.path = path
        self.rules = rules
        self._conn: sqlite3.Connection | None = None
        self._pending_results: dict[str, str] = {}
        self._results: dict[str, str] | None = None
        self._stored: dict[str, tuple[str, bytes]] | None = None
        self._snapshots: dict[str, dict[str, Known]] = {}
        self._changed: set[str] = set()
        self._loaded: dict[str, dict[str, Known]] = {}
        self._outcomes: dict[str, Outcome | None] = {}
        self._loaded_outcomes: dict[str, Outcome | None] = {}  # what snapshot() read, for outcome()
        self._scope: str | None = None
        self._write_error: CacheCorrupt | OSError | None = None

    # -- connection -------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_dir():  # SQLite would only say "unable to open database file"
                raise CacheUnusable(errno.EISDIR, os.strerror(errno.EISDIR))
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
                row = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
                if row is None:
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (CACHE_FORMAT,))
                elif row[0] != CACHE_FORMAT:
                    conn.close()
                    raise _OtherFormat(row[0])
            except sqlite3.Error as exc:
                raise _database_error(exc) from None
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- lookups ----------------------------------------------------------------

    def verify(self) -> None:
        """Open the database and read this rules version's snapshots before trusting it.

        Raises CacheCorrupt for a damaged file (SQLite checks page headers
        as it reads) or a snapshot that fails its checksum; a damaged row of
        results fails its own checksum later and counts as a miss.  A cache
        of another format is emptied first, quietly: it is not damaged, just
        not ours to read.
        """
        try:
            self.connect()
        except _OtherFormat:
            discard(self.path)
            self.connect()
        try:
            rows = self.connect().execute("SELECT scope, checksum, data FROM snapshots WHERE rules=?",
                                          (self.rules,)).fetchall()
        except sqlite3.Error as exc:
            raise _database_error(exc) from None
        for _, checksum, data in rows:
            if checksum.endswith(_SNAPSHOT_FORMAT) and _blob_checksum(data) != checksum:
                raise CacheCorrupt("a snapshot fails its checksum")
        self._stored = {scope: (checksum, data) for scope, checksum, data in rows}

    def snapshot(self, scope: str) -> dict[str, Known]:
        """What the last run remembered of the files of one path target (``scope``), by relative path.

        Also makes ``scope`` the target that :meth:`carry` and
        :meth:`remember` fill, so the snapshot written at the end holds
        exactly the files this run listed: a deleted file drops out.
        """
        if scope in self._loaded:
            self._scope = scope
            return self._loaded[scope]
        if self._stored is None:
            self.verify()
        assert self._stored is not None
        self._scope = scope
        self._snapshots.setdefault(scope, {})
        checksum, data = self._stored.get(scope, ("", b""))
        known: dict[str, Known] = {}
        outcome = None
        if checksum.endswith(_SNAPSHOT_FORMAT):  # else none yet, or another Python's: rebuilt as the scan goes
            try:
                known, outcome = marshal.loads(data)
            except (EOFError, ValueError, TypeError):
                pass  # it passed its checksum, so only a change of format gets here
        self._loaded[scope] = known
        self._outcomes[scope] = self._loaded_outcomes[scope] = outcome
        return known

    def outcome(self, scope: str, key: str) -> "Outcome | None":
        """The outcome recorded for ``scope`` when its listing had this ``key``; else None.

        The one loaded with the snapshot, even if this run has recorded
        another since (a path given twice): it goes with the loaded entries.
        """
        known = self.snapshot(scope)
        outcome = self._loaded_outcomes.get(scope)
        if outcome is None or outcome[0] != key or len(known) != outcome[1] + len(outcome[3]):
            return None  # another tree, or (never, but cheap to check) not the snapshot it was made from
        return outcome

    def record_outcome(self, scope: str, key: str, refs: list[Any]) -> None:
        """Record what a run over the listing ``key`` of ``scope`` came to, from its final snapshot.

        ``refs`` are every file reference the run made (``secretaudit.file_targets``);
        those the snapshot does not hold are the ones every run scans again.
        Nothing is recorded while an entry is racy: the next run must hash
        that file, not take the outcome on trust.
        """
        known = self._snapshots.get(scope, {})
        files = size = 0
        answered = []
        for relpath, (signature, _, file_size, payload) in known.items():
            if signature is not None and signature.startswith(RACY_MARK):
                self.forget_outcome(scope)
                return
            if payload is None:
                files += 1
                size += file_size
            else:
                answered.append(relpath)
        todo = tuple((ref.path, ref.relpath, ref.digest, ref.signature) for ref in refs if ref.relpath not in known)
        outcome = (key, files, size, tuple(answered), todo)
        if outcome != self._outcomes.get(scope):
            self._outcomes[scope] = self._loaded_outcomes[scope] = outcome
            self._changed.add(scope)

    def forget_outcome(self, scope: str) -> None:
        if self._outcomes.get(scope) is not None:
            self._outcomes[scope] = None
            self._changed.add(scope)

    def carry_all(self) -> None:
        """Carry every entry loaded for the current scope into this run's snapshot (its tree is unchanged)."""
        scope = self._scope or ""
        self._snapshots[scope] = self._loaded.get(scope, {})

    def carry(self, kept: dict[str, Known], changed: bool = False) -> None:
        """Carry unchanged files' entries into this run's snapshot of the current scope.

        ``changed`` says some differ from the ones loaded (a racy signature
        confirmed by hashing the content, and now old enough to trust).
        """
        scope = self._scope or ""
        self._snapshots.setdefault(scope, {}).update(kept)
        self.forget_outcome(scope)  # until record_outcome says what this run came to
        if changed:
            self._changed.add(scope)

    def _load_results(self) -> dict[str, str]:
        """Every payload under the current rules, read in one query, on first use.

        Only files a snapshot does not answer, and history scans, look here:
        a blob already scanned at this path (on another branch, or by
        ``scan --history``) is not scanned again.
        """
        if self._results is None:
            try:
                rows = self.connect().execute("SELECT digest, payload FROM results WHERE rules=?",
                                              (self.rules,)).fetchall()
            except (sqlite3.Error, CacheCorrupt, OSError) as exc:  # mid-run: every lookup is a miss
                rows = []
                self._write_error = self._write_error or (
                    _database_error(exc) if isinstance(exc, sqlite3.Error) else exc)
            self._results = dict(rows)
        return self._results

    def results(self, digest: str, relpath: str) -> list[list[Any]] | None:
        """Cached rows for this content at this path (:func:`result_key`) under the current rules, or None."""
        payload = self._load_results().get(result_key(digest, relpath))
        if payload is None:
            return None
        try:
            return decode_payload(payload)
        except CacheCorrupt:
            return None  # a damaged row is a miss; the fresh result replaces it

    # -- writes -----------------------------------------------------------------

    def remember(self, relpath: str, signature: str | None, digest: str, size: int, payload: str) -> None:
        """Remember a freshly scanned file: its rows by content, and its entry in the current snapshot."""
        scope = self._scope or ""
        self._snapshots.setdefault(scope, {})[relpath] = (signature, digest, size,
                                                         None if payload == _EMPTY else payload)
        self.forget_outcome(scope)  # until record_outcome says what this run came to
        self._changed.add(scope)
        self.remember_results(result_key(digest, relpath), payload)

    def remember_results(self, key: str, payload: str) -> None:
        """Remember rows under a :func:`result_key` (git blobs of a history scan have no snapshot)."""
        self._pending_results[key] = payload
        if len(self._pending_results) >= WRITE_EVERY:
            self._write_some()

    def _write_some(self) -> None:
        """Write the rows remembered so far, while the workers scan on.

        Written at the end instead, the rows of a cold scan of 18,000 files
        cost 0.3 s after the last file, with one core idle.  Each write is
        its own short transaction, so a concurrent run waits milliseconds,
        not a whole scan.  A failure is kept for :meth:`flush` to raise, and
        nothing more is written.
        """
        if self._write_error is None:
            try:
                self._write(snapshots=False)
            except (CacheCorrupt, OSError) as exc:
                self._write_error = exc
        self._pending_results.clear()

    def flush(self) -> None:
        """Write the remaining rows and every snapshot that changed (raises what an earlier write raised)."""
        if self._write_error is not None:
            raise self._write_error
        self._write(snapshots=True)

    def _write(self, snapshots: bool) -> None:
        blobs = []
        if snapshots:
            for scope, known in self._snapshots.items():
                if scope in self._changed or len(known) != len(self._loaded.get(scope, ())):
                    data = marshal.dumps((known, self._outcomes.get(scope)))
                    blobs.append((scope, self.rules, _blob_checksum(data), data))
        if not self._pending_results and not blobs:
            return
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                             [(d, self.rules, p) for d, p in self._pending_results.items()])
            for scope, *_ in blobs:
                conn.execute("DELETE FROM snapshots WHERE scope=?", (scope,))  # older rules' too
            conn.executemany("INSERT INTO snapshots VALUES (?, ?, ?, ?)", blobs)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise _database_error(exc) from None
        self._pending_results.clear()
        self._changed.clear()


_EMPTY = f"{_checksum('[]')}:[]"


def encode_payload(rows: list[list[Any]]) -> str:
    if not rows:
        return _EMPTY  # most files: no finding
    body = json.dumps(rows, separators=(",", ":"))
    return f"{_checksum(body)}:{body}"


def decode_payload(payload: str) -> list[list[Any]]:
    if payload == _EMPTY:
        return []  # most files: no finding
    checksum, _, body = payload.partition(":")
    if _checksum(body) != checksum:
        raise CacheCorrupt("a cached result fails its checksum")
    try:
        rows = json.loads(body)
    except json.JSONDecodeError:
        raise CacheCorrupt("a cached result is not valid JSON") from None
    if not isinstance(rows, list):
        raise CacheCorrupt("a cached result has the wrong shape")
    return rows


def discard(path: Path) -> None:
    """Delete a corrupt cache (and its WAL files); raises :class:`CacheUnusable` when it cannot be deleted."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
        except OSError as exc:  # a read-only directory, or a directory at the path
            raise CacheUnusable(exc.errno, f"cannot delete it: {exc.strerror or exc}") from None


def open_cache(path: Path, rules: str) -> "tuple[ScanCache | None, str | None]":
    """The scan cache at ``path``, verified, and a one-line warning for the user, if any.

    A corrupt cache is discarded and rebuilt; one that cannot be opened,
    rebuilt or written here (:class:`CacheUnusable`, any ``OSError``) gives
    None: the scan runs without it, with the same results.
    """
    cache = ScanCache(path, rules)
    warning = None
    try:
        try:
            cache.verify()
        except CacheCorrupt as exc:
            cache.close()
            warning = f"scan cache {path} is corrupt ({exc}); discarded it and rescanning everything"
            discard(path)
            cache = ScanCache(path, rules)
            cache.verify()
    except (CacheCorrupt, OSError) as exc:
        cache.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, (f"scan cache {path} is not usable ({reason}); scanning without it "
                      "(set cache_dir or pass --no-cache)")
    return cache, warning
