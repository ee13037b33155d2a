"""The built-in ``file_targets`` plugin: turns paths into file targets and items.

Inside a git work tree a directory is enumerated with ``git ls-files``
(tracked plus untracked-not-ignored files), so ``.gitignore`` is honoured the
way git itself reads it.  Outside git, the tree is walked without following
symlinks.  Both are :mod:`secretaudit.dir_listing`'s, which also says, per file, what
the scan cache needs to trust it unread.  ``--staged`` takes the files staged
for commit and reads their staged content (the index), which is what a
commit will contain.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
import subprocess
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Iterator, TYPE_CHECKING

from secretaudit.errors import UsageError
from secretaudit.hookspec import hookimpl
from secretaudit.dir_listing import Listing, list_directory, stat_signature
from secretaudit.model import FileRef, Target
from secretaudit.stash import SCAN_ROOT, SHARD

if TYPE_CHECKING:
    from secretaudit.scan_cache import Outcome
    from secretaudit.config import Config
    from secretaudit.session import Session


def display_path(path: Path, root: Path) -> str:
    """POSIX path relative to ``root``, with ``..`` when outside it: reports never hold the machine's absolute paths."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        try:
            return Path(os.path.relpath(path, root)).as_posix()
        except ValueError:  # another drive (Windows): nothing relative to say
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


def iter_files(target: Target, root: Path, exclude: list[str], listing: Listing | None = None) -> Iterator[FileRef]:
    """All file references of one path target, in a deterministic order.

    ``listing`` is the target directory's, when the caller already has it.
    """
    if target.scope == "staged":
        refs: Iterator[FileRef] = _staged(root)
    else:
        refs = _expand(Path(target.path), root, listing)
    if not exclude:
        yield from refs
        return
    for ref in refs:
        if not _excluded(ref.relpath, exclude):
            yield ref


def _expand(path: Path, root: Path, listing: Listing | None = None) -> Iterator[FileRef]:
    absolute = os.path.abspath(path)
    if not os.path.lexists(absolute):
        yield FileRef(absolute, display_path(Path(absolute), root), missing="no such file or directory")
        return
    if _is_directory(absolute):
        yield from _refs(listing or list_directory(absolute), absolute, root)
        return
    try:
        info = os.lstat(absolute)
        signature = stat_signature(info) if stat.S_ISREG(info.st_mode) else None
    except OSError:
        signature = None  # the scan says why
    yield FileRef(absolute, display_path(Path(absolute), root), signature=signature)


def _is_directory(absolute: str) -> bool:
    return os.path.isdir(absolute) and not os.path.islink(absolute)


def _refs(listing: Listing, absolute: str, root: Path) -> list[FileRef]:
    """The references of a listed directory, sorted by name."""
    prefix = str(root).rstrip(os.sep) + os.sep
    base = absolute if absolute.endswith(os.sep) else absolute + os.sep
    entries = sorted(listing.entries, key=itemgetter(0))
    if base == prefix:  # the listing's names are already the relative paths
        return [FileRef(base + name, name, None, None, digest, signature) for name, signature, digest in entries]
    if not base.startswith(prefix):  # a directory outside the root: "../other/NAME", worked out once
        outside = display_path(Path(base), root).rstrip("/") + "/"
        return [FileRef(base + name, (outside + name).replace(os.sep, "/"), None, None, digest, signature)
                for name, signature, digest in entries]
    return [FileRef(base + name, _relative(base + name, prefix), None, None, digest, signature)
            for name, signature, digest in entries]


# -- hooks ----------------------------------------------------------------------


@hookimpl
def secretaudit_collect_targets(config: "Config") -> list[Target]:
    if config.staged:
        return [Target(kind="path", name="staged changes", path=str(config.stash[SCAN_ROOT]), scope="staged")]
    from secretaudit.shownpaths import shown_path

    # named relative to the scan root, as the findings' paths are: reports never hold the machine's absolute paths
    return [Target(kind="path", name=shown_path(p, config), path=p, scope="all") for p in config.paths]


@hookimpl
def secretaudit_collect_items(target: Target, config: "Config") -> Iterator[FileRef] | None:
    if target.kind != "path":
        return None
    return iter_files(target, config.stash[SCAN_ROOT], config.settings["exclude"])


@hookimpl
def secretaudit_run_target(session: "Session", target: Target) -> bool | None:
    if target.kind != "path":
        return None
    from secretaudit.parallel import scan_files

    config, cache = session.config, session.cache
    scope = display_path(Path(os.path.abspath(target.path)), config.stash[SCAN_ROOT])
    refs: list[FileRef] | None = None
    with _collector_paused():
        if cache is not None:
            cache.snapshot(scope)  # read while git or find still lists the tree
        listing, tree_key = _own_listing(target, config, scope)
        outcome = cache.outcome(scope, tree_key) if cache is not None and tree_key is not None else None
        if outcome is not None:
            todo = _answer_unchanged_tree(session, target, scope, outcome)
        else:
            refs = todo = _target_refs(target, config, listing)
            session.collected(target, len(refs))
            if cache is not None:
                from secretaudit.file_checks import replay_from_cache

                todo = replay_from_cache(refs, config, target.name, cache, scope, session.record,
                                         session.record_unchanged)
    scan_files(todo, config, target.name, session.record, caching=cache is not None, warnings=session.warnings)
    if cache is not None and tree_key is not None and refs is not None:
        cache.record_outcome(scope, tree_key, refs)
    return True


def _own_listing(target: Target, config: "Config", scope: str) -> tuple[Listing | None, str | None]:
    """This plugin's listing of a directory target, and the key of the tree it saw; (None, None) otherwise.

    Only when no other plugin collects items (``collect_items`` is ours
    alone), since the key stands for exactly the references this plugin
    makes: the listing's key plus what filters them (``exclude``, the shard).
    """
    absolute = os.path.abspath(target.path)
    implementations = config.hook.secretaudit_collect_items.get_hookimpls()
    if target.scope == "staged" or [i.plugin_name for i in implementations] != ["file_targets"] or not _is_directory(absolute):
        return None, None
    listing = list_directory(absolute)
    if listing.key is None:
        return listing, None
    filters = repr((scope, config.settings["exclude"], config.stash.get(SHARD)))
    return listing, f"{listing.key}:{hashlib.blake2b(filters.encode(), digest_size=8).hexdigest()}"


def _target_refs(target: Target, config: "Config", listing: Listing | None) -> list[FileRef]:
    """Every reference of the target: from our listing when there is one, else from the ``collect_items`` hook."""
    from secretaudit.shard import in_shard

    if listing is not None:
        refs = list(iter_files(target, config.stash[SCAN_ROOT], config.settings["exclude"], listing))
    else:
        items = config.hook.secretaudit_collect_items(target=target, config=config)
        refs = [item for item in items or () if isinstance(item, FileRef)]
    shard = config.stash.get(SHARD)
    if shard is not None:
        refs = [ref for ref in refs if in_shard(ref.relpath, shard)]
    return refs


def _answer_unchanged_tree(session: "Session", target: Target, scope: str, outcome: "Outcome") -> list[FileRef]:
    """Answer a directory whose listing is the one the cache recorded its outcome for; return what to scan.

    Every file the listing saw has the signature or blob id it had then,
    so the outcome stands as it was: the same files without findings, the
    same files with findings or skips (replayed from their rows), and the
    same few files the cache cannot answer (symlinks, files that are not
    UTF-8...), which are scanned again, as every run scans them.
    """
    from secretaudit.file_checks import replay_outcome

    cache = session.cache
    assert cache is not None
    todo = replay_outcome(outcome, cache.snapshot(scope), session.config, target.name, session.record,
                          session.record_unchanged, lambda count: session.collected(target, count))
    cache.carry_all()
    return todo


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while listing and answering from the cache.

    That builds some 100,000 tuples per 20,000 files (snapshot entries,
    listing entries, file references), none of them in a cycle, and each
    700 allocations woke the collector to walk them: 5% of a cached
    rescan's instructions.  Reference counting frees them as before.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
