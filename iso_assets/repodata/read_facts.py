"""Read RepoFacts (package names, group and environment ids) from a repo's own metadata."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from iso_assets.repodata.comps import GROUP_TYPES, find_record, read_comps_ids, unpack_record
from iso_assets.repodata.facts import RepoFacts
from iso_assets.repodata.metadata import read_repo_metadata

log = logging.getLogger(__name__)


def read_repo_facts(repo_dir: Path, repo_id: str) -> RepoFacts:
    """Facts of the repo at `repo_dir` (the folder holding repodata/).

    The group file is taken in whatever form repomd.xml lists it (plain or compressed-only).
    Raises RepodataError when repomd.xml, primary or the group file cannot be read.
    """
    repomd, packages = read_repo_metadata(repo_dir, repo_id)

    facts = RepoFacts(repo_id=repo_id, packages={package.name for package in packages})
    group_record = find_record(repomd, GROUP_TYPES)
    if group_record is not None:
        with tempfile.TemporaryDirectory(prefix="comps-") as tmp:
            comps_xml = unpack_record(repo_dir, group_record, Path(tmp) / "comps.xml")
            ids = read_comps_ids(comps_xml)
        facts.groups = set(ids.groups)
        facts.environments = set(ids.environments)
        facts.has_group_metadata = True
    log.info(
        "repo %s: %d package names, %d groups, %d environments%s",
        repo_id,
        len(facts.packages),
        len(facts.groups),
        len(facts.environments),
        "" if facts.has_group_metadata else " (no group metadata)",
    )
    return facts
