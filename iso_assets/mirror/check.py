"""Invariant of a repo folder: primary.xml's hrefs are exactly the RPM files present, and
each file has the checksum primary lists (case repo05: pruning without regenerating)."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from iso_assets.artifacts import HASH_CHUNK
from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import parse_primary, read_repomd

log = logging.getLogger(__name__)
LISTED_NAMES = 5


def check_metadata_matches_files(repo_dir: Path, *, label: str | None = None) -> list[str]:
    """Problems found in `repo_dir` (empty when metadata and files agree).

    Each problem names the repo (`label`, default the folder name) and says what to do.
    """
    label = label or repo_dir.name
    started = time.monotonic()
    repomd = read_repomd(repo_dir / "repodata" / "repomd.xml")
    record = repomd.record("primary")
    if record is None:
        return [f"repo {label}: repomd.xml has no primary record; regenerate metadata"]
    packages = {p.href: p for p in parse_primary(repo_dir / record.href)}
    present = {
        path.relative_to(repo_dir).as_posix()
        for path in repo_dir.rglob("*.rpm")
        if path.is_file() and "repodata" not in path.relative_to(repo_dir).parts
    }

    problems = []
    missing = sorted(set(packages) - present)
    if missing:
        problems.append(
            f"repo {label}: {len(missing)} packages in metadata have no file "
            f"({_names(missing)}); regenerate metadata after pruning"
        )
    unlisted = sorted(present - set(packages))
    if unlisted:
        problems.append(
            f"repo {label}: {len(unlisted)} RPM files are not in metadata "
            f"({_names(unlisted)}); regenerate metadata or remove them"
        )
    for href in sorted(present & set(packages)):
        package = packages[href]
        actual = _digest(repo_dir / href, package.checksum_type)
        if actual != package.checksum:
            problems.append(
                f"repo {label}: {href} has {package.checksum_type} {actual} but metadata "
                f"lists {package.checksum}; the file changed after createrepo: regenerate "
                f"metadata or restore the file"
            )
    log.info(
        "repo %s: metadata vs files checked (%d listed, %d present, %d problems) in %.2f s",
        label,
        len(packages),
        len(present),
        len(problems),
        time.monotonic() - started,
    )
    return problems


def ensure_metadata_matches_files(repo_dir: Path, *, label: str | None = None) -> None:
    """Raise RepodataError carrying every problem check_metadata_matches_files finds."""
    problems = check_metadata_matches_files(repo_dir, label=label)
    if problems:
        raise RepodataError("\n".join(problems))


def _names(hrefs: list[str]) -> str:
    shown = ", ".join(hrefs[:LISTED_NAMES])
    return shown if len(hrefs) <= LISTED_NAMES else f"{shown}, and {len(hrefs) - LISTED_NAMES} more"


def _digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
