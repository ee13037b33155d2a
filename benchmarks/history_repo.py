"""Build a git repository with a real project's history for ``bench.py --history``.

No network access beyond the package registry is available on the benchmark
machines, so the history is made of real releases instead of real commits:
the Django source distributions of several releases, downloaded from PyPI
and committed in order, one commit per release.  Consecutive releases share
most files, so the repository has what real histories have: many commits
touching a fraction of a large tree, and a large set of unique blobs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

DEFAULT_RELEASES = ("3.2.25", "4.0.10", "4.1.13", "4.2.16", "5.0.9", "5.1.3")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def build(repo: Path, downloads: Path, releases: tuple[str, ...] = DEFAULT_RELEASES) -> Path:
    """Download the releases (once) and commit each as the repository's next state."""
    downloads.mkdir(parents=True, exist_ok=True)
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    for release in releases:
        archive = next(downloads.glob(f"[Dd]jango-{release}.tar.gz"), None)
        if archive is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "-d", str(downloads), f"django=={release}"], check=True)
            archive = next(downloads.glob(f"[Dd]jango-{release}.tar.gz"))
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        with tarfile.open(archive) as tar:
            top = tar.getnames()[0].split("/")[0]
            tar.extractall(repo, filter="data")
        extracted = repo / top
        for child in extracted.iterdir():
            child.rename(repo / child.name)
        extracted.rmdir()
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"Django {release}")
    return repo


def unique_blob_bytes(repo: Path) -> tuple[int, int]:
    """(count, total size) of the blobs reachable from all refs."""
    objects = subprocess.run(["git", "-C", str(repo), "rev-list", "--objects", "--all"],
                             check=True, capture_output=True).stdout
    sizes = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check=%(objecttype) %(objectsize) %(rest)"],
                           input=objects, check=True, capture_output=True).stdout.decode().splitlines()
    blobs = [int(line.split()[1]) for line in sizes if line.startswith("blob ")]
    return len(blobs), sum(blobs)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "django-history")
    build(target, target.parent / "downloads")
    count, size = unique_blob_bytes(target)
    print(f"{target}: {count} unique blobs, {size / 1e6:.1f} MB")
