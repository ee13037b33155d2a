"""The built-in ``files`` plugin: turns paths into file targets and items.

Inside a git work tree a directory is enumerated with ``git ls-files``
(tracked plus untracked-not-ignored files), so ``.gitignore`` is honoured the
way git itself reads it.  Outside git, the tree is walked without following
symlinks.  ``--staged`` takes the files staged for commit and reads their
staged content (the index), which is what a commit will contain.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path
from typing import Iterator, NamedTuple, TYPE_CHECKING

from scanner.errors import UsageError
from scanner.hookspec import hookimpl
from scanner.model import Target

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.session import Session


class FileRef(NamedTuple):
    """A file to read: where it is, how to show it, optionally a git blob.

    ``blob`` is set for staged files: the content is the staged object, not
    the work-tree file.  ``missing`` explains why a named file could not be
    found, so the engine reports it instead of dropping it silently.
    """

    path: str
    relpath: str
    blob: str | None = None
    missing: str | None = None
    #: the git blob id of the work-tree content, when git vouches for it
    #: (tracked, unmodified, a regular file): the scan cache's key, so an
    #: unchanged file of a repository is answered without a ``stat``
    digest: str | None = None


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


def display_path(path: Path, root: Path) -> str:
    """POSIX path relative to ``root`` when under it, else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _git_start(directory: Path, *args: str) -> subprocess.Popen[bytes]:
    """``git -C directory ARGS``, started; :func:`_git_output` collects it."""
    return subprocess.Popen(["git", "-C", str(directory), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _git_output(proc: subprocess.Popen[bytes]) -> list[str] | None:
    """The NUL-separated output of a started git command, or None when git failed."""
    out, _ = proc.communicate()
    if proc.returncode != 0:
        return None
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _git_listing(directory: Path, digests: bool) -> tuple[list[str] | None, dict[str, str]]:
    """The files git lists below ``directory`` and, with ``digests``, the blob ids it vouches for.

    With ``digests`` the tracked files come from ``ls-files -s`` (names and
    blob ids at once), the untracked ones from ``ls-files --others``, and
    ``diff-files`` says which tracked ones changed: the three run at once,
    and the index is parsed while git still walks the work tree for
    untracked files.
    """
    if not digests:
        return _git_output(_git_start(directory, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                                      "--deduplicate", "--", ".")), {}
    staged = _git_start(directory, "ls-files", "-s", "-z", "--", ".")
    others = _git_start(directory, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
    modified = _git_start(directory, "diff-files", "--name-only", "-z", "--relative", "--", ".")
    tracked, clean = _index_entries(_git_output(staged), _git_output(modified))
    untracked = _git_output(others)
    if tracked is None or untracked is None:
        return None, {}
    return [*tracked, *untracked], clean


def _index_entries(staged: list[str] | None, modified: list[str] | None) -> tuple[list[str] | None, dict[str, str]]:
    """Tracked names, and name -> blob id of those whose work-tree content git says is unchanged.

    ``staged`` is ``git ls-files -s``; ``modified`` is ``git diff-files``,
    which compares the work tree with the index using git's own stat cache
    (and re-reads racily-clean entries), in C: what ``git status`` trusts.
    A file with clean/smudge filters (autocrlf, LFS) may differ from its
    blob; its cached rows are keyed by the hash of the bytes actually
    scanned, so such a file simply misses and is read again.
    """
    if staged is None or modified is None:
        return None, {}
    changed = set(modified)
    names: dict[str, None] = {}  # a conflicted file has one entry per stage
    clean: dict[str, str] = {}
    for entry in staged:
        meta, _, name = entry.partition("\t")
        names[name] = None
        mode, blob, stage = meta.split(" ")
        if stage == "0" and mode in ("100644", "100755") and name not in changed:
            clean[name] = blob
    return list(names), clean


def _walk_with_links(directory: str) -> Iterator[str]:
    """Every entry under ``directory`` that is not a directory, depth first, names sorted.

    What ``os.walk`` gives, with symlinked directories listed as entries
    instead of entered and ``.git`` left out, but read straight from
    ``os.scandir``: the entry types come with the listing (``d_type``), so no
    ``stat`` per directory, and plain strings instead of ``os.path.join``.
    On an 18,000-file tree that halves the walk, which a scan does before
    any worker starts and a cached rescan pays in full.  An unreadable
    directory is passed over, as ``os.walk`` does.
    """
    stack = [directory]
    while stack:
        top = stack.pop()
        prefix = top if top.endswith(os.sep) else top + os.sep
        files: list[str] = []
        subdirs: list[str] = []
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        files.append(entry.name)
                    elif entry.name != ".git":
                        subdirs.append(entry.name)
        except OSError:
            continue
        files.sort()
        for name in files:
            yield prefix + name
        subdirs.sort(reverse=True)  # popped in sorted order
        stack.extend(prefix + name for name in subdirs)


def _relative(full: str, root_prefix: str) -> str:
    """``full`` relative to the root (given as ``root + "/"``), POSIX style; else as is."""
    rel = full[len(root_prefix):] if full.startswith(root_prefix) else full
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _staged(root: Path) -> Iterator[FileRef]:
    proc = subprocess.run(["git", "-C", str(root), "diff", "--cached", "--raw", "-z", "--no-renames",
                           "--diff-filter=ACMR", "--no-abbrev"], capture_output=True, check=False)
    if proc.returncode != 0:
        raise UsageError("--staged needs a git work tree; run it inside a repository")
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    for meta, name in zip(fields[0::2], fields[1::2]):
        parts = meta.split()
        if len(parts) < 5 or parts[1] == "120000":  # symlinks are not content
            continue
        yield FileRef(path=str(root / name), relpath=name, blob=parts[3])


def _excluded(relpath: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(relpath, pattern) for pattern in patterns)


def iter_files(target: Target, root: Path, exclude: list[str], digests: bool = False) -> Iterator[FileRef]:
    """All file references of one path target, in a deterministic order.

    ``digests`` (when the scan cache is on) asks git for the blob id of each
    unchanged tracked file: one ``ls-files -s`` and one ``diff-files``.
    """
    if target.scope == "staged":
        refs: Iterator[FileRef] = _staged(root)
    else:
        refs = _expand(Path(target.path), root, digests)
    if not exclude:
        yield from refs
        return
    for ref in refs:
        if not _excluded(ref.relpath, exclude):
            yield ref


def _expand(path: Path, root: Path, digests: bool = False) -> Iterator[FileRef]:
    absolute = Path(os.path.abspath(path))
    if not os.path.lexists(absolute):
        yield FileRef(str(absolute), display_path(absolute, root), missing="no such file or directory")
        return
    if absolute.is_dir() and not absolute.is_symlink():
        prefix = str(root).rstrip(os.sep) + os.sep
        base = str(absolute)
        listed, clean = _git_listing(absolute, digests) if git_toplevel(absolute) else (None, {})
        if listed is not None:
            at_root = base + os.sep == prefix  # then git's names are already the relative paths
            base_prefix = base if base.endswith(os.sep) else base + os.sep
            for name in sorted(listed):
                full = base_prefix + name
                digest = clean.get(name)
                if digest is not None or os.path.lexists(full):  # deleted but still tracked: nothing to read
                    yield FileRef(full, name if at_root else _relative(full, prefix), digest=digest)
            return
        for full in _walk_with_links(base):
            yield FileRef(full, _relative(full, prefix))
        return
    yield FileRef(str(absolute), display_path(absolute, root))


# -- hooks ----------------------------------------------------------------------


@hookimpl
def secretaudit_collect_targets(config: "Config") -> list[Target]:
    if config.staged:
        return [Target(kind="path", name="staged changes", path=str(config.stash["scan_root"]), scope="staged")]
    return [Target(kind="path", name=p, path=p, scope="all") for p in config.paths]


@hookimpl
def secretaudit_collect_items(target: Target, config: "Config") -> Iterator[FileRef] | None:
    if target.kind != "path":
        return None
    return iter_files(target, config.stash["scan_root"], config.settings["exclude"],
                      digests=bool(config.settings["cache"]))


@hookimpl
def secretaudit_run_target(session: "Session", target: Target) -> bool | None:
    if target.kind != "path":
        return None
    from scanner.parallel import scan_files

    from scanner.shard import in_shard

    config = session.config
    shard = config.stash.get("shard")
    items = config.hook.secretaudit_collect_items(target=target, config=config)
    refs = [item for item in items or () if isinstance(item, FileRef)]
    if shard is not None:
        refs = [ref for ref in refs if in_shard(ref.relpath, shard)]
    session.collected(target, len(refs))
    scan_files(refs, config, target.name, session.record, session.cache)
    return True
