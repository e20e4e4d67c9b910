"""Read a repo's repomd.xml and primary packages, with one error every reader shares."""

from __future__ import annotations

from pathlib import Path

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import (
    PackageEntry,
    Repomd,
    RepoMetadataError,
    parse_primary,
    read_repomd,
)


def read_repo_metadata(repo_dir: Path, repo_label: str) -> tuple[Repomd, list[PackageEntry]]:
    """(repomd, primary's packages) of the repo at `repo_dir` (the folder holding repodata/).

    Raises RepodataError naming the repo when either cannot be read.
    """
    try:
        repomd = read_repomd(repo_dir / "repodata" / "repomd.xml")
        primary = repomd.record("primary")
        if primary is None:
            raise RepodataError(f"repo {repo_label}: repomd.xml lists no primary metadata")
        return repomd, parse_primary(repo_dir / primary.href)
    except (OSError, RepoMetadataError) as exc:
        raise RepodataError(
            f"repo {repo_label}: cannot read metadata in {repo_dir} ({exc}); regenerate it"
        ) from exc
