"""Find the course data (`seeds/`) from any working directory and prove it is intact.

Lessons, exercises and the autograder's copy of a submission all live at different
depths below the course root; every one of them finds the same checksummed files here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

SEEDS_ENV = "COURSEKIT_SEEDS"
MANIFEST = "SHA256SUMS"
ARTICLE = "kfor-article.txt"
ARTICLE_METADATA = "kfor-article.json"


class SeedError(RuntimeError):
    """The course data is missing or differs from what the course was written against."""


def find_seeds_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the `seeds/` folder: `$COURSEKIT_SEEDS`, else the nearest one at or above `start`."""
    override = os.environ.get(SEEDS_ENV)
    if override:
        folder = Path(override).expanduser().resolve()
        if not (folder / MANIFEST).is_file():
            raise SeedError(f"{folder / MANIFEST}: not found (${SEEDS_ENV} points at {folder})")
        return folder
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "seeds"
        if (candidate / MANIFEST).is_file():
            return candidate
        if folder.name == "seeds" and (folder / MANIFEST).is_file():
            return folder
    raise SeedError(
        f"seeds/{MANIFEST}: not found in {here} or any folder above it; run from inside the "
        f"course folder or set ${SEEDS_ENV} to its seeds/ folder"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_file(folder: Path, name: str, digest: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise SeedError(f"seeds/{name}: missing from {folder} (it is listed in {MANIFEST})")
    found = _sha256(path)
    if found != digest:
        raise SeedError(
            f"seeds/{name}: altered (sha256 {found[:12]}…, expected {digest[:12]}…, "
            f"{path.stat().st_size:,} bytes); restore it with `git checkout -- seeds/{name}`"
        )
    return path


def read_manifest(seeds_dir: Path) -> dict[str, str]:
    """Map each file named in `SHA256SUMS` to its expected sha256."""
    manifest = seeds_dir / MANIFEST
    expected: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise SeedError(f"{manifest}: line {number} is not '<sha256>  <file name>'")
        expected[name.strip()] = digest
    return expected


def verify(seeds_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Check every file named in `SHA256SUMS`; raise `SeedError` naming the first that differs."""
    folder = Path(seeds_dir) if seeds_dir is not None else find_seeds_dir()
    expected = read_manifest(folder)
    for name, digest in expected.items():
        _check_file(folder, name, digest)
    return expected


def seed_path(name: str, *, seeds_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of one verified seed file."""
    folder = Path(seeds_dir) if seeds_dir is not None else find_seeds_dir()
    expected = read_manifest(folder)
    if name not in expected:
        raise SeedError(f"seeds/{name}: not a course data file (not listed in {MANIFEST})")
    path = _check_file(folder, name, expected[name])
    return path


def read_text(name: str, *, seeds_dir: str | os.PathLike[str] | None = None) -> str:
    """The text of one verified seed file."""
    return seed_path(name, seeds_dir=seeds_dir).read_text(encoding="utf-8")


def read_article(*, seeds_dir: str | os.PathLike[str] | None = None) -> str:
    """The article exactly as published (3,756 characters, no trailing newline)."""
    return read_text(ARTICLE, seeds_dir=seeds_dir)


def article_metadata(*, seeds_dir: str | os.PathLike[str] | None = None) -> dict:
    """Outlet, headline, URL, publication date and capture notes of the article."""
    return json.loads(read_text(ARTICLE_METADATA, seeds_dir=seeds_dir))
