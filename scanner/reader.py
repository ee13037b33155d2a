"""Reading one file for the checks, and deciding what to skip.

Every way a file can be unscannable ends here as a :class:`Skip` with a
one-line reason that names the fix; nothing raises into the run.  Binary
files are skipped quietly (they are common and expected); files that are too
large, not UTF-8, or symlink loops are skipped with a warning; files that
cannot be read at all are errors, because part of the tree went unscanned.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from typing import NamedTuple

from scanner.files import FileRef
from scanner.model import FileItem

#: How much of the start of a file is searched for NUL bytes to call it binary.
BINARY_SNIFF_BYTES = 8192


class Skip(NamedTuple):
    """Why a file was not scanned.

    ``reason`` is a short category for counting (``binary``, ``too large``,
    ``not UTF-8``, ``symlink``, ``unreadable``...); ``message`` is the one-line
    explanation shown to the user, or empty for quiet skips; ``is_error`` marks
    a file that should have been scanned and could not be.
    """

    relpath: str
    reason: str
    message: str = ""
    is_error: bool = False


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


def read_file(ref: FileRef, max_size: int) -> FileItem | Skip:
    """Read and decode ``ref``, or say why it is skipped."""
    data = read_bytes(ref, max_size)
    return data if isinstance(data, Skip) else decode(ref.path, ref.relpath, data)


def read_bytes(ref: FileRef, max_size: int, info: os.stat_result | None = None) -> bytes | Skip:
    """The raw content of ``ref``, or why it cannot be scanned.

    A file whose first bytes hold a NUL is binary whatever follows, so only
    those bytes are read and returned: :func:`decode` skips it from them.

    ``info`` is the caller's ``lstat`` of the file, when it made one (the
    scan cache's signature), so the file is not stat-ed twice.
    """
    if ref.missing:
        return Skip(ref.relpath, "missing", f"{ref.relpath}: {ref.missing}; check the path", is_error=True)
    if ref.blob:
        return _read_blob(ref, max_size)
    if info is None:
        try:
            info = os.lstat(ref.path)
        except OSError as exc:
            return _os_error(ref, exc)
    if stat.S_ISLNK(info.st_mode):
        try:
            os.stat(ref.path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return Skip(ref.relpath, "symlink loop",
                            f"{ref.relpath}: symlink loop (too many levels of symbolic links); remove the link or exclude it")
            return Skip(ref.relpath, "broken symlink")
        return Skip(ref.relpath, "symlink")  # its target is scanned where it lives
    if not stat.S_ISREG(info.st_mode):
        return Skip(ref.relpath, "not a regular file")
    if info.st_size > max_size:
        return _too_large(ref, info.st_size, max_size)
    try:
        with open(ref.path, "rb", buffering=BINARY_SNIFF_BYTES) as handle:
            head = handle.peek(BINARY_SNIFF_BYTES)[:BINARY_SNIFF_BYTES]
            if b"\0" in head:
                return head  # binary (see decode): the rest would be read for nothing
            data = handle.read(max_size + 1)
    except OSError as exc:
        return _os_error(ref, exc)
    if len(data) > max_size:  # grew while we looked
        return _too_large(ref, len(data), max_size)
    return data


def decode(path: str, relpath: str, data: bytes) -> FileItem | Skip:
    """Turn bytes into a :class:`FileItem`, or skip binary / non-UTF-8 content."""
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return Skip(relpath, "binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skip(relpath, "not UTF-8",
                    f"{relpath}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "convert it to UTF-8 or exclude it")
    if text.startswith("\ufeff"):
        text = text[1:]
    return FileItem(path=path, relpath=relpath, text=text)


def _too_large(ref: FileRef, size: int, max_size: int) -> Skip:
    return Skip(ref.relpath, "too large",
                f"{ref.relpath}: {_mb(size)} is over max_file_size {_mb(max_size)}; "
                "raise max_file_size (or --max-file-size) or exclude it")


def _os_error(ref: FileRef, exc: OSError) -> Skip:
    reason = exc.strerror or exc.__class__.__name__
    if exc.errno == errno.ELOOP:
        return Skip(ref.relpath, "symlink loop",
                    f"{ref.relpath}: symlink loop (too many levels of symbolic links); remove the link or exclude it")
    fix = "fix its permissions or exclude it" if exc.errno in (errno.EACCES, errno.EPERM) else "check the file or exclude it"
    return Skip(ref.relpath, "unreadable", f"{ref.relpath}: cannot read ({reason}); {fix}", is_error=True)


def _read_blob(ref: FileRef, max_size: int) -> bytes | Skip:
    root = os.path.dirname(ref.path[: -len(ref.relpath)] or ".") if ref.path.endswith(ref.relpath) else "."
    size = subprocess.run(["git", "-C", root, "cat-file", "-s", ref.blob or ""], capture_output=True, text=True)
    if size.returncode == 0 and int(size.stdout.strip() or 0) > max_size:
        return _too_large(ref, int(size.stdout.strip()), max_size)
    proc = subprocess.run(["git", "-C", root, "cat-file", "blob", ref.blob or ""], capture_output=True)
    if proc.returncode != 0:
        return Skip(ref.relpath, "unreadable", f"{ref.relpath}: cannot read staged content from git; run git status",
                    is_error=True)
    return proc.stdout
