"""What a directory holds, with what the scan cache needs to trust each file unread.

A directory target becomes a list of entries (:data:`Entry`): the file's name below
the directory and, when it can be had without reading the file, either git's
blob id of its content (tracked and unmodified: git vouches for it) or its
*stat signature* (type, size, mtime, ctime, inode), which the scan cache
compares with the one it recorded.  The signature is an opaque string: two
listings of an unchanged file give the same one, and that is all it promises.

Listing is started in the background (:func:`prefetch`) before the CLI
even loads (:mod:`secretaudit.launch`), because a cached rescan of an unchanged
tree is mostly this listing: in a git work tree, three git commands compare the
index with the work tree in C; elsewhere GNU ``find`` walks and stats the
tree in C; both run on the second core while the interpreter loads the
plugins and opens the cache.  Where ``find`` is not GNU find (macOS, BSD,
BusyBox, Windows) or fails, a Python ``os.scandir`` walk gives the same
entries, with signatures in its own format.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import threading


#: One file of a listing: (name, signature, digest).  ``name`` is relative to
#: the listed directory, ``/``-separated.  ``digest`` is git's blob id when git
#: vouches that the work tree holds exactly that blob; ``signature`` is the
#: stat signature of a regular file the listing stat-ed; both are None
#: otherwise (a symlink, a file changed since the index was written and not
#: stat-ed).  Plain tuples: a listing holds tens of thousands.
Entry = tuple[str, "str | None", "str | None"]


class Listing:
    """A directory's files as one listing saw them.

    ``key`` digests everything the listing saw (every name with its
    signature or blob id), so two listings with the same key hold the same
    entries: a rescan that finds the key it recorded last time can answer
    the whole directory without looking at one entry (see
    ``secretaudit.file_targets``).  It is None where it cannot promise that (a merge
    in progress).  ``entries`` are parsed on first use: a rescan that finds
    its key unchanged never needs them.
    """

    def __init__(self, key: str | None, parse: Callable[[], list[Entry]], from_git: bool) -> None:
        self.key = key
        self.from_git = from_git
        self._parse: Callable[[], list[Entry]] | None = parse
        self._entries: list[Entry] = []

    @property
    def entries(self) -> list[Entry]:
        if self._parse is not None:
            self._entries, self._parse = self._parse(), None
        return self._entries


def _digest(*parts: bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
        digest.update(b"\0\1")
    return digest.hexdigest()


def git_toplevel(directory: Path) -> Path | None:
    """The git work tree containing ``directory``, or None outside git."""
    try:
        proc = subprocess.run(["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
                              capture_output=True, text=True, check=False)
    except (OSError, ValueError):
        return None
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.strip())


def stat_signature(info: os.stat_result) -> str:
    """The signature of a regular file from a Python ``lstat`` (the walk's and explicit files' format)."""
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


# -- child processes -------------------------------------------------------------


class _Child:
    """A command started now whose output is read later.

    Its output goes to an anonymous in-memory file, not a pipe: a pipe holds
    64 KB, and a listing of 18,000 files is 2 MB, so the child would stop
    and wait for us on its first few hundred files instead of running
    ahead while the plugins load.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self._out = _spool()
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv, stdout=self._out, stderr=subprocess.DEVNULL, env=env)
        except OSError:  # not installed: the caller lists another way
            self._proc = None

    def output(self) -> bytes | None:
        """Everything the command wrote, once it has exited; None if it failed or could not start."""
        status = self._proc.wait() if self._proc is not None else None
        self._out.seek(0)
        data = self._out.read()
        self._out.close()
        return data if status == 0 else None


def _spool():  # type: ignore[no-untyped-def]
    """A file that lives in memory (``memfd_create``) where the system has one, else a temporary file."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("secretaudit-listing"), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


def _names(data: bytes | None) -> list[str] | None:
    """NUL-separated names, decoded as git and find print them (bytes kept as surrogates)."""
    if data is None:
        return None
    names = data.decode("utf-8", "surrogateescape").split("\0")
    if names and not names[-1]:
        names.pop()
    return names


# -- git ------------------------------------------------------------------------


def _git(directory: str, *args: str) -> _Child:
    return _Child(["git", "-C", directory, *args])


def _start_git(directory: str) -> Callable[[], Listing | None]:
    """Start the three git commands of a work-tree listing; the returned function collects them.

    ``ls-files -s`` gives tracked names and blob ids at once,
    ``ls-files --others`` the untracked files ``.gitignore`` lets through,
    and ``diff-files`` says which tracked files differ from the index,
    using git's own stat cache (and re-reading racily clean entries), in C:
    what ``git status`` trusts.
    """
    staged = _git(directory, "ls-files", "-s", "-z", "--", ".")
    others = _git(directory, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
    modified = _git(directory, "diff-files", "--name-only", "-z", "--relative", "--", ".")

    def collect() -> Listing | None:
        index, changed, untracked = staged.output(), modified.output(), others.output()
        changed_names, untracked_names = _names(changed), _names(untracked)
        if index is None or changed_names is None or untracked_names is None:
            return None
        prefix = directory if directory.endswith(os.sep) else directory + os.sep
        stated = {name: _stat_entry(name, prefix + name) for name in (*changed_names, *untracked_names)}
        seen = "\0".join(f"{name}\0{'gone' if entry is _GONE else entry[1]}" for name, entry in stated.items())
        # a merge in progress lists one path per stage, each stat-ed on its own: no key then
        merging = any(marker in index for marker in (b" 1\t", b" 2\t", b" 3\t"))
        key = None if merging else _digest(index, seen.encode("utf-8", "surrogateescape"))
        return Listing(key, lambda: _git_entries(directory, _names(index) or [], stated, untracked_names), True)

    return collect


def _git_entries(directory: str, index: list[str], stated: dict[str, Entry], untracked: list[str]) -> list[Entry]:
    """Entries from ``ls-files -s`` lines, the changed and untracked files (already stat-ed), and their names.

    A tracked, unmodified regular file at stage 0 carries its blob id.  A
    conflicted file (one index line per stage) is listed once; a tracked
    file deleted from the work tree is not listed.  A file with clean or
    smudge filters (autocrlf, LFS) may differ from its blob: its cached rows
    are keyed by the hash of the bytes actually scanned, so it simply misses
    and is read again.
    """
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    entries: dict[str, Entry] = {}
    for line in index:
        meta, _, name = line.partition("\t")
        if name in entries:
            continue
        mode, blob, stage = meta.split(" ")
        if name in stated:
            entries[name] = stated[name]
        elif stage == "0" and mode in ("100644", "100755"):
            entries[name] = (name, None, blob)
        else:
            entries[name] = _stat_entry(name, prefix + name)
    for name in untracked:
        entries.setdefault(name, stated[name])
    return [entry for entry in entries.values() if entry is not _GONE]


#: What :func:`_stat_entry` answers for a name that is not on disk.
_GONE: Entry = ("", None, None)


def _stat_entry(name: str, full: str) -> Entry:
    """An entry stat-ed here: a changed or untracked file (few), or an explicit file argument."""
    try:
        info = os.lstat(full)
    except FileNotFoundError:
        return _GONE  # deleted but still in the index: nothing to read
    except OSError:
        return (name, None, None)  # the scan says why
    return (name, stat_signature(info) if _is_regular(info) else None, None)


def _is_regular(info: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(info.st_mode)


# -- plain directories ----------------------------------------------------------

#: ``find`` prints, per regular file, its path below the root and its signature
#: (find itself turns ``\0`` into NUL) ...
_FIND_FILE = r"%P\0%s:%T@:%C@:%i\0"
#: ... and per other non-directory (a symlink, a fifo), its path and an empty signature.
_FIND_OTHER = r"%P\0\0"


def _start_find(directory: str) -> Callable[[], Listing | None] | None:
    """GNU find, walking and stat-ing in C; None where there is no ``find`` to try."""
    import shutil

    if not sys.platform.startswith("linux") or shutil.which("find") is None:
        return None
    find = _Child(["find", directory, "-mindepth", "1", "(", "-name", ".git", "-type", "d", "-prune", ")",
                   "-o", "-type", "f", "-printf", _FIND_FILE, "-o", "!", "-type", "d", "-printf", _FIND_OTHER],
                  env={**os.environ, "LC_ALL": "C"})

    def collect() -> Listing | None:
        out = find.output()
        if out is None:
            return None  # not GNU find, or a directory it could not read: the Python walk decides
        return Listing(_digest(out), lambda: _find_entries(out), False)

    return collect


def _find_entries(out: bytes) -> list[Entry]:
    fields = _names(out) or []
    names, signatures = fields[0::2], fields[1::2]
    return list(zip(names, [s or None for s in signatures], itertools.repeat(None)))


def walk(directory: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry under ``directory`` that is not a directory, as (full path, entry), depth first, names sorted.

    What ``os.walk`` gives, with symlinked directories listed as entries
    instead of entered and ``.git`` directories left out, read straight from
    ``os.scandir``: entry types come with the listing (``d_type``), so no
    ``stat`` per directory, and plain strings instead of ``os.path.join``.
    An unreadable directory is passed over, as ``os.walk`` does.
    """
    stack = [directory]
    while stack:
        top = stack.pop()
        prefix = top if top.endswith(os.sep) else top + os.sep
        files: list[os.DirEntry[str]] = []
        subdirs: list[str] = []
        try:
            with os.scandir(top) as listing:
                for entry in listing:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        files.append(entry)
                    elif entry.name != ".git":
                        subdirs.append(entry.name)
        except OSError:
            continue
        files.sort(key=lambda e: e.name)
        for entry in files:
            yield prefix + entry.name, entry
        subdirs.sort(reverse=True)  # popped in sorted order
        stack.extend(prefix + name for name in subdirs)


def _walk_entries(directory: str) -> list[Entry]:
    """The Python walk's entries, each regular file stat-ed (``lstat``) for its signature."""
    start = len(directory if directory.endswith(os.sep) else directory + os.sep)
    entries = []
    for full, entry in walk(directory):
        name = full[start:] if os.sep == "/" else full[start:].replace(os.sep, "/")
        try:
            regular = entry.is_file(follow_symlinks=False)
            signature = stat_signature(entry.stat(follow_symlinks=False)) if regular else None
        except OSError:
            signature = None  # the scan says why
        entries.append((name, signature, None))
    return entries


# -- starting and collecting ------------------------------------------------------


class _Pending:
    """A listing under way: git or find in a child process, else the Python walk in a thread."""

    def __init__(self, directory: str, use_git: bool) -> None:
        self.directory = directory
        self.from_git = use_git
        self._collect = _start_git(directory) if use_git else _start_find(directory)
        self._walked: list[Entry] | None = None
        self._thread: "threading.Thread | None" = None
        if self._collect is None:
            import threading

            self._thread = threading.Thread(target=self._walk, name="secretaudit-walk", daemon=True)
            self._thread.start()

    def _walk(self) -> None:
        self._walked = _walk_entries(self.directory)

    def result(self) -> Listing | None:
        """The listing; None when git failed (the caller then lists without git)."""
        listing = self._collect() if self._collect is not None else None
        if listing is not None or self.from_git:
            return listing
        if self._thread is None:  # find failed: walk here
            self._walk()
        else:
            self._thread.join()
        walked = self._walked or []
        seen = "\0".join(f"{name}\0{signature}" for name, signature, _ in walked)
        return Listing(_digest(b"walk", seen.encode("utf-8", "surrogateescape")), lambda: walked, False)


_started: dict[str, _Pending] = {}


def prefetch(paths: list[str]) -> None:
    """Start listing each directory in ``paths`` now; :func:`list_directory` collects it later."""
    for path in paths:
        absolute = os.path.abspath(path)
        if absolute not in _started and os.path.isdir(absolute) and not os.path.islink(absolute):
            in_git = _inside_git(absolute)
            _started[absolute] = _Pending(absolute, git_toplevel(Path(absolute)) is not None if in_git is None
                                          else in_git)


def _inside_git(directory: str) -> bool | None:
    """Whether ``directory`` or a parent holds a ``.git``; None when git's environment must decide.

    A few ``lstat`` calls instead of starting ``git rev-parse``, which
    would delay the listing by a process start.  Where this guesses wrong
    (a ceiling directory, a bare repository), the git listing fails and the
    directory is walked: what asking git first would also have done.
    """
    if any(key in os.environ for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES")):
        return None
    path = directory
    while True:
        if os.path.lexists(os.path.join(path, ".git")):
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def list_directory(directory: str, use_git: bool | None = None) -> Listing:
    """The entries of ``directory`` (absolute), from a prefetched listing when there is one.

    ``use_git`` None means: inside a git work tree, ask git (so
    ``.gitignore`` is honoured).  When git fails, the directory is walked.
    """
    pending = _started.pop(directory, None)
    if pending is None:
        if use_git is None:
            use_git = git_toplevel(Path(directory)) is not None
        pending = _Pending(directory, use_git)
    listing = pending.result()
    if listing is None:
        listing = _Pending(directory, False).result()
    assert listing is not None
    return listing
