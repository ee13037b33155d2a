"""Looking inside committed archives: zip, tar, and gzip / bzip2 / xz (alone or around a tar).

A ``.env`` zipped into ``bundle.zip`` is as leaked as one committed
beside it, so its members go through the same checks as files, and
findings name them ``bundle.zip!app/.env`` (nested:
``outer.zip!inner.tar.gz!app/.env``).  Fingerprints are made from that
path, so baselines and waivers work for members as they do for files.

Everything happens in memory, member by member: nothing is written to
disk, so a member's name (``../../etc/passwd``) never matters.  A hostile
archive costs bounded time and memory, because the walk of one file stops
at :class:`Limits`:

* nesting depth (an archive in an archive...; a gzip "quine" that expands
  to itself ends here too);
* members per file, counted across every level;
* bytes expanded per file, counted as the decompressors produce them, so a
  member skipped unread still counts (a tar in a gzip has to be read
  through);
* one member's size: ``max_file_size``, as for a file;
* the compression ratio past 1 MiB expanded: a zip bomb is stopped after a
  few megabytes, not after the total limit, and ends the walk of its file
  (one error, not one per bomb member).

What a limit or a damaged archive leaves unscanned is a skip with a reason,
and an error (the run fails): an archive that Python cannot read may open
in another tool, and a limit is exactly what a crafted archive would use to
hide a key, so neither may pass quietly.  An encrypted member, a member over
``max_file_size``, a binary or non-UTF-8 member are skipped as the same
file would be outside an archive.

The results of an archive are not cached (:mod:`secretaudit.scan_cache` keys rows
by one path per file): an archive is read again on every scan.
"""

from __future__ import annotations

import io
import stat
import struct
from typing import IO, TYPE_CHECKING, Any, Callable, NamedTuple

from secretaudit.model import FileItem, Skip
from secretaudit.file_reader import archive_kind, decode

if TYPE_CHECKING:
    from secretaudit.model import FileRef

#: Archives opened inside archives, the file itself being level 1.
MAX_DEPTH = 3
#: Members of one file, across every nesting level.
MAX_MEMBERS = 10_000
#: Bytes one file may expand to, as a multiple of ``max_file_size`` (100 MB by default).
EXPANDED_FACTOR = 10
#: Expanded-to-compressed ratio past which a member or stream is a compression bomb...
MAX_RATIO = 100
#: ... once it has expanded past this many bytes (small, very repetitive text is fine).
RATIO_FLOOR = 1 << 20

_CHUNK = 1 << 16
_STREAM_SUFFIXES = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz"), "xz": (".xz", ".lzma")}
_KIND_NAMES = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zip": "zip", "tar": "tar"}


class Limits(NamedTuple):
    """What one file's walk may open, read and expand (see the module docstring)."""

    depth: int
    members: int
    expanded: int
    member_size: int
    ratio: int

    @classmethod
    def for_max_file_size(cls, max_file_size: int) -> "Limits":
        return cls(MAX_DEPTH, MAX_MEMBERS, EXPANDED_FACTOR * max_file_size, max_file_size, MAX_RATIO)


class MemberItem(FileItem):
    """A decoded archive member: ``relpath`` is its display path, ``name`` its own base name.

    Checks judge by name (SA104's ``.env``, ``id_rsa``), and the name of
    ``bundle.zip!.env`` is ``.env``, not what follows the last slash.
    """

    member_name: str = ""

    @property
    def name(self) -> str:
        return self.member_name


class _Stop(Exception):
    """A limit of the whole file, or a bomb: nothing more of it is read."""

    def __init__(self, skip: Skip) -> None:
        super().__init__(skip.reason)
        self.skip = skip


class _CheckFailed(Exception):
    """A check raised on a member: a bug to report as one (exit 3), never "a corrupt archive".

    The damage handlers catch broad library errors (``ValueError``,
    ``OSError``...); a check's own exception passes them wrapped in this,
    and :func:`scan_archive` raises the original.
    """


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


def _damage_cause(exc: BaseException) -> str:
    """A short cause from the exception's *type*: library messages may quote bytes of the content."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    if isinstance(exc, EOFError) or "truncat" in type(exc).__name__.lower():
        return "truncated"
    if isinstance(exc, NotImplementedError):
        return "unsupported compression method"
    if isinstance(exc, (zlib.error, lzma.LZMAError)) or (isinstance(exc, OSError) and not isinstance(exc, tarfile.TarError)):
        return "damaged compressed data"
    if isinstance(exc, tarfile.TarError):
        return "damaged tar header"
    if isinstance(exc, zipfile.BadZipFile):
        return "damaged zip structure"
    return f"unreadable ({type(exc).__name__})"


def _damage_errors() -> tuple[type[BaseException], ...]:
    """What the standard library raises on a damaged archive (never our own exceptions)."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    return (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile,
            NotImplementedError, RuntimeError, ValueError, struct.error)


class _Expanding:
    """A decompressing stream that counts what it produces against the walk's limits.

    The ratio is taken against the compressed bytes consumed so far
    (``source``'s position), so a bomb is caught within its first
    megabytes, whatever its total size.  It reads ahead for :meth:`peek`,
    so the kind of the content can be told before it is handed to
    ``tarfile`` or read as one member.
    """

    def __init__(self, stream: IO[bytes], source: io.BytesIO, walk: "_Walk", display: str) -> None:
        self._stream = stream
        self._source = source
        self._walk = walk
        self._display = display
        self._ahead = b""
        self.produced = 0

    def peek(self, size: int) -> bytes:
        while len(self._ahead) < size:
            chunk = self._pull(size - len(self._ahead))
            if not chunk:
                break
            self._ahead += chunk
        return self._ahead[:size]

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK  # callers here always bound their reads; this keeps a stray read(-1) bounded too
        if self._ahead:
            out, self._ahead = self._ahead[:size], self._ahead[size:]
            return out
        return self._pull(size)

    def _pull(self, size: int) -> bytes:
        chunk = self._stream.read(min(size, _CHUNK))
        if chunk:
            self.produced += len(chunk)
            self._walk.expand(len(chunk), self._display)
            consumed = self._source.tell()
            if self._walk.claims_bomb(self.produced, consumed):
                raise _Stop(self._walk.bomb(self._display))
        return chunk


class _Walk:
    """The walk of one file's archive tree: what it found, what it skipped, what it spent."""

    def __init__(self, ref: "FileRef", limits: Limits, judge: "Callable[[MemberItem], list[Any]]") -> None:
        self.ref = ref
        self.limits = limits
        self.judge = judge
        self.members = 0
        self.expanded = 0
        self.findings: list[Any] = []
        self.skips: list[Skip] = []

    # -- limits -------------------------------------------------------------------

    def expand(self, size: int, display: str) -> None:
        """Count ``size`` decompressed bytes; stop the walk past the total."""
        self.expanded += size
        if self.expanded > self.limits.expanded:
            raise _Stop(Skip(display, "archive size limit",
                             f"{display}: the archive expands past {_mb(self.limits.expanded)} in all "
                             f"({EXPANDED_FACTOR} x max_file_size); the rest was not scanned; "
                             "raise max_file_size (or --max-file-size) or exclude it", is_error=True))

    def count_member(self, display: str) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise _Stop(self._member_limit(display))

    def _member_limit(self, display: str) -> Skip:
        return Skip(display, "archive member limit",
                    f"{display}: over {self.limits.members:,} archive members in one file; "
                    "the rest were not scanned; split the archive or exclude it", is_error=True)

    def bomb(self, display: str) -> Skip:
        return Skip(display, "compression bomb",
                    f"{display}: expands more than {self.limits.ratio} times over (a compression bomb?); "
                    "the archive was not scanned further; exclude it", is_error=True)

    def claims_bomb(self, expanded: int, compressed: int) -> bool:
        return expanded > RATIO_FLOOR and expanded > self.limits.ratio * max(compressed, 1)

    # -- containers ---------------------------------------------------------------

    def container(self, display: str, data: bytes, depth: int) -> None:
        """Scan every member of the archive ``data`` (shown as ``display``) at nesting ``depth``."""
        kind = archive_kind(data)
        damage = _damage_errors()
        try:
            if kind == "zip":
                self._zip(display, data, depth)
            elif kind == "tar":
                self._tar(display, io.BytesIO(data), depth)
            else:
                self._stream(display, kind or "", data, depth)
        except damage as exc:  # this container only: its siblings are still read
            self.skips.append(Skip(display, "corrupt archive",
                                   f"{display}: not a readable {_KIND_NAMES.get(kind or '', 'archive')} archive "
                                   f"({_damage_cause(exc)}); some or all of it was not scanned; "
                                   "repair it or exclude it", is_error=True))

    def _zip(self, display: str, data: bytes, depth: int) -> None:
        import zipfile

        declared = _zip_entry_count(data)
        if declared is not None and self.members + declared > self.limits.members:
            raise _Stop(self._member_limit(display))  # before zipfile builds an object per entry
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                member = f"{display}!{_clean(info.filename)}"
                self.count_member(member)  # directories too: a million of them cost as much
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    self.skips.append(Skip(member, "encrypted",
                                           f"{member}: encrypted, so its content cannot be scanned; "
                                           "exclude the archive if that is expected"))
                elif stat.S_ISLNK(info.external_attr >> 16):
                    self.skips.append(Skip(member, "symlink"))
                elif self.claims_bomb(info.file_size, info.compress_size):
                    raise _Stop(self.bomb(member))
                elif info.file_size > self.limits.member_size:
                    self.skips.append(self._too_large(member, info.file_size))
                else:
                    try:
                        with archive.open(info) as handle:
                            content = self._read_member(handle, member, info.compress_size)
                    except _damage_errors() as exc:
                        self.skips.append(Skip(member, "corrupt archive",
                                               f"{member}: cannot be read from the zip archive "
                                               f"({_damage_cause(exc)}); repair it or exclude it", is_error=True))
                        continue
                    if content is not None:
                        self.member(member, info.filename, content, depth)

    def _tar(self, display: str, fileobj: Any, depth: int) -> None:
        import tarfile

        with tarfile.open(fileobj=fileobj, mode="r|") as archive:  # a stream: members in order, no seeking
            for info in archive:
                member = f"{display}!{_clean(info.name)}"
                self.count_member(member)  # directories too: tarfile keeps every header it reads
                if info.isdir():
                    continue
                if info.issym() or info.islnk():
                    self.skips.append(Skip(member, "symlink"))
                elif not info.isfile():
                    self.skips.append(Skip(member, "not a regular file"))
                elif info.size > self.limits.member_size:
                    self.skips.append(self._too_large(member, info.size))
                else:
                    handle = archive.extractfile(info)
                    assert handle is not None  # a regular file
                    content = self._read_member(handle, member)
                    if content is not None:
                        self.member(member, info.name, content, depth)

    def _stream(self, display: str, kind: str, data: bytes, depth: int) -> None:
        """A gzip, bzip2 or xz stream: a tar's members, or one member named after the stream."""
        source = io.BytesIO(data)
        stream = _Expanding(_decompressor(kind, source), source, self, display)
        if archive_kind(stream.peek(512)) == "tar":
            self._tar(display, stream, depth)  # bundle.tar.gz!app/.env, not bundle.tar.gz!bundle.tar!...
            return
        name = _inner_name(display, kind)
        member = f"{display}!{name}"
        self.count_member(member)
        content = self._read_member(stream, member)
        if content is not None:
            self.member(member, name, content, depth)

    # -- members ------------------------------------------------------------------

    def _read_member(self, handle: IO[bytes], member: str, compressed: int | None = None) -> bytes | None:
        """A member's bytes; None (and a skip) when over its size.

        ``compressed``: a zip entry's compressed size, so its expansion is
        counted here and a lying entry is caught as a bomb; None for a tar
        member or a stream, which count their own expansion.
        """
        chunks, got = [], 0
        while True:
            chunk = handle.read(min(_CHUNK, self.limits.member_size + 1 - got))
            if not chunk:
                return b"".join(chunks)
            got += len(chunk)
            if compressed is not None:
                self.expand(len(chunk), member)
                if self.claims_bomb(got, compressed):  # the entry's sizes lied
                    raise _Stop(self.bomb(member))
            if got > self.limits.member_size:
                self.skips.append(self._too_large(member, got))
                return None
            chunks.append(chunk)

    def _too_large(self, member: str, size: int) -> Skip:
        return Skip(member, "too large",
                    f"{member}: {_mb(size)} or more, over max_file_size {_mb(self.limits.member_size)}; "
                    "raise max_file_size (or --max-file-size) or exclude the archive")

    def member(self, display: str, name: str, content: bytes, depth: int) -> None:
        """Scan one member's bytes: an archive again (one level deeper), or a file."""
        if archive_kind(content) is not None:
            if depth >= self.limits.depth:
                self.skips.append(Skip(display, "archive too deep",
                                       f"{display}: an archive nested more than {self.limits.depth} deep; "
                                       "not opened; extract it and scan it, or exclude the outer archive",
                                       is_error=True))
            else:
                self.container(display, content, depth + 1)
            return
        item = decode(f"{self.ref.path}!{display.split('!', 1)[1]}", display, content)
        if isinstance(item, Skip):
            self.skips.append(item)
            return
        member_item = MemberItem(path=item.path, relpath=display, text=item.text)
        member_item.member_name = name.rstrip("/").rsplit("/", 1)[-1]
        try:
            self.findings.extend(self.judge(member_item))
        except Exception as exc:
            raise _CheckFailed() from exc


def _clean(name: str) -> str:
    """A member name as shown: without ``./`` in front (``tar -C dir .`` adds it)."""
    while name.startswith("./"):
        name = name[2:]
    return name


def _inner_name(display: str, kind: str) -> str:
    """The name of a compressed stream's content: the stream's own name without its suffix."""
    own = display.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    lowered = own.lower()
    for suffix in _STREAM_SUFFIXES.get(kind, ()):
        if lowered.endswith(suffix) and len(own) > len(suffix):
            return own[: -len(suffix)]
    if lowered.endswith((".tgz", ".tbz2", ".tbz", ".txz")):
        return own.rsplit(".", 1)[0] + ".tar"
    return own


def _decompressor(kind: str, raw: io.BytesIO) -> IO[bytes]:
    import bz2
    import gzip
    import lzma

    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw, mode="rb")
    return lzma.LZMAFile(raw, mode="rb")


def _zip_entry_count(data: bytes) -> int | None:
    """The number of entries a zip's end record declares, read without parsing the directory; None if not found."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if at < 0 or at + 22 > len(data):
        return None
    count = struct.unpack_from("<H", data, at + 10)[0]
    if count != 0xFFFF:
        return count
    locator = at - 20  # zip64: the end record locator points at the zip64 end record
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        offset = struct.unpack_from("<Q", data, locator + 8)[0]
        if data[offset:offset + 4] == b"PK\x06\x06" and offset + 40 <= len(data):
            return struct.unpack_from("<Q", data, offset + 32)[0]
    return None


def scan_archive(ref: "FileRef", data: bytes, max_file_size: int,
                 judge: "Callable[[MemberItem], list[Any]]") -> tuple[list[Any], list[Skip]]:
    """Judge every member of the archive file ``ref`` (its bytes are ``data``), within :class:`Limits`.

    ``judge`` runs the file checks on one member and returns its findings
    (the caller's: this module only opens archives); the result is every
    member's findings and every skip, in the order of the walk.
    """
    walk = _Walk(ref, Limits.for_max_file_size(max_file_size), judge)
    try:
        walk.container(ref.relpath, data, 1)
    except _Stop as stop:
        walk.skips.append(stop.skip)
    except _CheckFailed as failed:
        assert failed.__cause__ is not None
        raise failed.__cause__
    return walk.findings, walk.skips
