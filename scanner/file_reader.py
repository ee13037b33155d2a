"""Reading one file for the checks, and deciding what to skip.

Every way a file can be unscannable ends here as a :class:`Skip` with a
one-line reason that names the fix; nothing raises into the run.  Binary
files are skipped quietly (they are common and expected), but counted by
reason in the summary and listed by ``-vv``; files that are too large, do
not decode, are 7z or RAR archives, or are symlink loops are skipped with a
warning; files that cannot be read at all are errors, because part of the
tree went unscanned.

Text is UTF-8 (a BOM is dropped), or UTF-16 / UTF-32 when a byte-order mark
says so: PowerShell and Windows tools write UTF-16 with a BOM, and its NUL
bytes would otherwise make it look binary.  Archives (zip, tar, gzip, bzip2,
xz) are recognised by their magic bytes here, cheaply, and read whole, so
:mod:`secretaudit.archives` can look inside them.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from secretaudit.model import FileItem, FileRef, Skip

#: How much of the start of a file is searched for NUL bytes to call it binary.
BINARY_SNIFF_BYTES = 8192

#: Byte-order marks and the codec each one announces; UTF-32 LE first, since
#: its mark starts with UTF-16 LE's.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
         (b"\xff\xfe", "utf-16-le", "UTF-16"), (b"\xfe\xff", "utf-16-be", "UTF-16"))
_BOM_STARTS = tuple(bom for bom, _, _ in _BOMS)

#: bzip2's magic: ``BZh``, a block size digit, then the block header (or the end-of-stream mark).
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")


def archive_kind(data: bytes) -> str | None:
    """``zip``, ``tar``, ``gzip``, ``bzip2`` or ``xz`` when ``data`` starts like one; else None.

    By magic bytes only, never by name (a name can lie either way); a few
    byte comparisons, so every file can afford it.  ``data`` needs its
    first 512 bytes for tar (``ustar`` at offset 257).
    """
    head = data[:4]
    if head in (b"PK\x03\x04", b"PK\x05\x06"):  # a local file header; an empty archive
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if data[:3] == b"BZh" and data[3:4].isdigit() and data[4:10].startswith(_BZIP2_BLOCKS):
        return "bzip2"
    if data[257:262] == b"ustar":
        return "tar"
    return None


#: Archive formats recognised but not opened (the standard library has no reader for them).
_UNOPENED = {b"7z\xbc\xaf": "7z", b"Rar!": "RAR"}


def _read_whole(head: bytes) -> bool:
    """Whether a head holding NUL bytes is still text or an archive, to be read whole."""
    return head.startswith(_BOM_STARTS) or archive_kind(head) is not None


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
        fd = os.open(ref.path, _READ_FLAGS)
    except OSError as exc:
        return _os_error(ref, exc)
    try:
        data = _read_regular(fd, info.st_size, max_size)
    except OSError as exc:
        return _os_error(ref, exc)
    finally:
        os.close(fd)
    if len(data) > max_size:  # grew while we looked
        return _too_large(ref, len(data), max_size)
    return data


#: Files up to this size are read in one call, binary or not; a larger one's head is looked at first.
WHOLE_READ_BYTES = 256 << 10

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_regular(fd: int, size: int, max_size: int) -> bytes:
    """A regular file's bytes (its head only when that says binary), or more than ``max_size`` if it grew.

    Plain ``os.read`` calls sized by the ``lstat``: a buffered reader
    asked for ``max_size + 1`` bytes allocated that much for every file
    (10 MB, then shrunk), twice the cost of the read itself.  One byte more
    than the size is asked for, so a file that grew is read to its end.
    """
    if size > WHOLE_READ_BYTES:
        head = os.read(fd, BINARY_SNIFF_BYTES)
        if _binary_head(head) is not None:
            return head  # binary (see decode): the rest would be read for nothing
        chunks = [head, os.read(fd, size - len(head) + 1)]
    else:
        chunks = [os.read(fd, size + 1)]
    total = sum(map(len, chunks))
    while total != size and chunks[-1] and total <= max_size:  # it grew or shrank, or a read came back short
        chunks.append(os.read(fd, min(max_size + 1 - total, 1 << 20)))
        total += len(chunks[-1])
    data = b"".join(chunks)
    return _binary_head(data) or data


def _binary_head(data: bytes) -> bytes | None:
    """``data``'s head when that says binary (see :func:`decode`), which is all that is kept of it; else None."""
    head = data[:BINARY_SNIFF_BYTES]
    return head if b"\0" in head and not _read_whole(head) else None


def decode(path: str, relpath: str, data: bytes) -> FileItem | Skip:
    """Turn bytes into a :class:`FileItem`, or skip binary / undecodable content.

    An archive is skipped here as ``archive``: only callers that look inside
    archives (:mod:`secretaudit.archives`) can scan it, and they ask first.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] == b"\x00\x00\xfe\xff":
        return _decode_bom(path, relpath, data)
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        if archive_kind(data):
            return Skip(relpath, "archive")
        unopened = _UNOPENED.get(data[:4])
        if unopened:
            return Skip(relpath, f"{unopened} archive",
                        f"{relpath}: a {unopened} archive, which secretaudit cannot open, so its content was "
                        "not scanned; scan its extracted files, or exclude it")
        return Skip(relpath, "binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if archive_kind(data):
            return Skip(relpath, "archive")
        return Skip(relpath, "not UTF-8",
                    f"{relpath}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "convert it to UTF-8 or exclude it")
    if text.startswith("\ufeff"):
        text = text[1:]
    return FileItem(path=path, relpath=relpath, text=text)


def _decode_bom(path: str, relpath: str, data: bytes) -> FileItem | Skip:
    """Text announced by a UTF-16 or UTF-32 byte-order mark, or why it does not decode.

    Offsets and line numbers are the decoded text's, so findings point at
    the line an editor shows.  A UTF-32 LE mark is also a UTF-16 LE mark
    followed by U+0000: a file that fails as UTF-32 is tried as UTF-16.
    """
    failure: UnicodeDecodeError | None = None
    label = ""
    for bom, codec, name in _BOMS:
        if not data.startswith(bom):
            continue
        try:
            return FileItem(path=path, relpath=relpath, text=data[len(bom):].decode(codec))
        except UnicodeDecodeError as exc:
            if failure is None:
                failure, label = exc, name
    assert failure is not None
    offset = failure.start + (4 if label == "UTF-32" else 2)
    return Skip(relpath, f"not {label}",
                f"{relpath}: starts with a {label} byte-order mark but is not valid {label} "
                f"({failure.reason} at offset {offset}); convert it to UTF-8 or exclude it")


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
