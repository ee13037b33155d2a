"""The built-in ``files`` plugin: turns paths into file targets and items.

Inside a git work tree a directory is enumerated with ``git ls-files``
(tracked plus untracked-not-ignored files), so ``.gitignore`` is honoured the
way git itself reads it.  Outside git, the tree is walked without following
symlinks.  Both are :mod:`scanner.listing`'s, which also says, per file, what
the scan cache needs to trust it unread.  ``--staged`` takes the files staged
for commit and reads their staged content (the index), which is what a
commit will contain.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import subprocess
from pathlib import Path
from typing import Iterator, NamedTuple, TYPE_CHECKING

from scanner.errors import UsageError
from scanner.hookspec import hookimpl
from scanner.listing import git_toplevel, list_directory, stat_signature
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
    #: the stat signature the listing saw (see :mod:`scanner.listing`)
    signature: str | None = None


def display_path(path: Path, root: Path) -> str:
    """POSIX path relative to ``root`` when under it, else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


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


def iter_files(target: Target, root: Path, exclude: list[str]) -> Iterator[FileRef]:
    """All file references of one path target, in a deterministic order."""
    if target.scope == "staged":
        refs: Iterator[FileRef] = _staged(root)
    else:
        refs = _expand(Path(target.path), root)
    if not exclude:
        yield from refs
        return
    for ref in refs:
        if not _excluded(ref.relpath, exclude):
            yield ref


def _expand(path: Path, root: Path) -> Iterator[FileRef]:
    absolute = os.path.abspath(path)
    if not os.path.lexists(absolute):
        yield FileRef(absolute, display_path(Path(absolute), root), missing="no such file or directory")
        return
    if os.path.isdir(absolute) and not os.path.islink(absolute):
        prefix = str(root).rstrip(os.sep) + os.sep
        base = absolute if absolute.endswith(os.sep) else absolute + os.sep
        at_root = base == prefix  # then the listing's names are already the relative paths
        for name, signature, digest in sorted(list_directory(absolute).entries):
            full = base + name
            # positional: a rescan builds tens of thousands of these
            yield FileRef(full, name if at_root else _relative(full, prefix), None, None, digest, signature)
        return
    try:
        info = os.lstat(absolute)
        signature = stat_signature(info) if stat.S_ISREG(info.st_mode) else None
    except OSError:
        signature = None  # the scan says why
    yield FileRef(absolute, display_path(Path(absolute), root), signature=signature)


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
    return iter_files(target, config.stash["scan_root"], config.settings["exclude"])


@hookimpl
def secretaudit_run_target(session: "Session", target: Target) -> bool | None:
    if target.kind != "path":
        return None
    from scanner.parallel import scan_files

    from scanner.shard import in_shard

    config = session.config
    shard = config.stash.get("shard")
    scope = display_path(Path(os.path.abspath(target.path)), config.stash["scan_root"])
    if session.cache is not None:
        session.cache.snapshot(scope)  # read while git or find still lists the tree
    items = config.hook.secretaudit_collect_items(target=target, config=config)
    refs = [item for item in items or () if isinstance(item, FileRef)]
    if shard is not None:
        refs = [ref for ref in refs if in_shard(ref.relpath, shard)]
    session.collected(target, len(refs))
    if session.cache is not None:
        from scanner.filescan import replay_from_cache

        refs = replay_from_cache(refs, config, target.name, session.cache, scope, session.record,
                                 session.record_unchanged)
    scan_files(refs, config, target.name, session.record, caching=session.cache is not None)
    return True
