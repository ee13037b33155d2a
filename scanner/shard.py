"""``--shard K/N``: split one audit into N deterministic parts for parallel CI jobs.

Every file (by path), git blob (by id) and backend (by name) belongs to
exactly one shard, decided by a hash, so the N shards cover the run exactly
once whatever machine runs them; ``secretaudit report merge`` joins their JSON
reports into one.
"""

from __future__ import annotations

import hashlib

from secretaudit.errors import UsageError


def parse_shard(value: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); a usage error otherwise."""
    try:
        index, total = (int(part) for part in value.split("/"))
    except ValueError:
        raise UsageError(f"--shard {value!r}: expected K/N, e.g. --shard 2/8") from None
    if not 1 <= index <= total:
        raise UsageError(f"--shard {value!r}: K must be between 1 and N")
    return index, total


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``key`` belongs to ``shard`` (always, when not sharding)."""
    if shard is None:
        return True
    index, total = shard
    bucket = int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big")
    return bucket % total == index - 1
