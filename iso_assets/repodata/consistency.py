"""The invariant checked on every repo before it goes on an ISO: metadata == files on disk.

Catches metadata kept from upstream after packages were pruned (case repo05: dnf reposync
--newest-only --download-metadata), RPMs nobody indexed, a rebuilt RPM that kept its file
name (its checksum differs from primary's), and group metadata lost on the way (repo02).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from iso_assets.artifacts import HASH_CHUNK
from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import PackageEntry
from iso_assets.repodata.comps import GROUP_TYPES, find_record
from iso_assets.repodata.metadata import read_repo_metadata

log = logging.getLogger(__name__)

# How many names an error message lists before it says "and N more".
LISTED_NAMES = 10


def check_repo_consistency(repo_dir: Path, repo_label: str, *, expect_groups: bool = False) -> None:
    """Raise RepodataError listing every way `repo_dir`'s metadata and files disagree.

    Checks: set(primary location hrefs) == set(RPM files under repo_dir), each file's
    checksum equals the one primary records, and (when `expect_groups`) that repomd.xml
    lists group metadata in some form.
    """
    started = time.monotonic()
    repomd, packages = read_repo_metadata(repo_dir, repo_label)

    problems = []
    remote = [package.href for package in packages if package.location_base]
    if remote:
        problems.append(
            f"repo {repo_label}: {len(remote)} packages point elsewhere with xml:base "
            f"({_names(remote)}); on-media repos must hold their files, regenerate metadata"
        )
    in_metadata = {package.href: package for package in packages if not package.location_base}
    on_disk = {
        path.relative_to(repo_dir).as_posix()
        for path in repo_dir.rglob("*.rpm")
        if path.relative_to(repo_dir).parts[0] != "repodata"
    }
    missing = sorted(set(in_metadata) - on_disk)
    if missing:
        problems.append(
            f"repo {repo_label}: {len(missing)} packages in metadata have no file "
            f"({_names(missing)}); regenerate metadata after pruning"
        )
    unindexed = sorted(on_disk - set(in_metadata))
    if unindexed:
        problems.append(
            f"repo {repo_label}: {len(unindexed)} RPM files are not in metadata "
            f"({_names(unindexed)}); regenerate metadata or delete them"
        )
    for href in sorted(on_disk & set(in_metadata)):
        problem = _checksum_problem(repo_dir / href, in_metadata[href])
        if problem:
            problems.append(f"repo {repo_label}: {problem}")
    if expect_groups and find_record(repomd, GROUP_TYPES) is None:
        problems.append(
            f"repo {repo_label} has no group metadata (was comps dropped when the metadata "
            f"was regenerated without -g?); carry the upstream group file over"
        )

    if problems:
        raise RepodataError("\n".join(problems))
    log.info(
        "repo %s: %d packages match their files in %.2f s",
        repo_label,
        len(in_metadata),
        time.monotonic() - started,
    )


def _checksum_problem(path: Path, package: PackageEntry) -> str | None:
    try:
        digest = hashlib.new(package.checksum_type)
    except ValueError:
        return f"{package.href}: primary uses unknown checksum type {package.checksum_type!r}"
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() == package.checksum:
        return None
    return (
        f"{package.href} on disk has {package.checksum_type} {digest.hexdigest()[:12]}…, "
        f"primary records {package.checksum[:12]}… (rebuilt under the same file name?); "
        f"regenerate metadata"
    )


def _names(items: list[str]) -> str:
    shown = ", ".join(Path(item).name for item in items[:LISTED_NAMES])
    extra = len(items) - LISTED_NAMES
    return f"{shown} and {extra} more" if extra > 0 else shown
