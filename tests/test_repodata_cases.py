"""The shared repodata cases, run from their own inputs: repo05 (stale metadata after
newest-only mirroring) and repo02 (group metadata lost or compressed-only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import read_repomd
from iso_assets.process import run_tool
from iso_assets.repodata.consistency import check_repo_consistency
from iso_assets.repodata.createrepo import build_repo
from iso_assets.repodata.read_facts import read_repo_facts
from iso_assets.repodata.regenerate import regenerate_filtered_repo

EPOCH = 1700000000


def run_case_script(shared_dir: Path, case: str, work: Path) -> Path:
    """Run a case's make_upstream.sh in `work`; return the case folder."""
    case_dir = shared_dir / "cases" / case
    work.mkdir(exist_ok=True)
    run_tool(["bash", str(case_dir / "make_upstream.sh")], cwd=work)
    return case_dir


def test_case_repo05_newest_only_keeps_stale_metadata(shared_dir: Path, tmp_path: Path) -> None:
    run_case_script(shared_dir, "repo05-newest-only-stale-metadata", tmp_path)
    mirror = tmp_path / "mirror"

    with pytest.raises(RepodataError) as error:
        check_repo_consistency(mirror, "upstream/9.4")
    assert str(error.value) == (
        "repo upstream/9.4: 2 packages in metadata have no file "
        "(foo-1.0-1.noarch.rpm, foo-1.1-1.noarch.rpm); regenerate metadata after pruning"
    )

    # The fix the case asks for: regenerate after pruning, then the invariant holds.
    regenerate_filtered_repo(mirror, mirror / "repodata", release="el9", source_date_epoch=EPOCH)
    check_repo_consistency(mirror, "upstream/9.4")
    assert read_repo_facts(mirror, "upstream").packages == {"foo"}


@pytest.fixture
def repo02(shared_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(case folder, work folder holding upstream/ and mirror-bad/)."""
    return run_case_script(shared_dir, "repo02-comps-lost", tmp_path), tmp_path


def test_case_repo02_mirror_without_group_metadata(repo02: tuple[Path, Path]) -> None:
    case, work = repo02
    check_repo_consistency(work / "upstream", "baseos", expect_groups=True)
    with pytest.raises(RepodataError, match="repo baseos has no group metadata"):
        check_repo_consistency(work / "mirror-bad", "baseos", expect_groups=True)

    upstream = read_repo_facts(work / "upstream", "baseos")
    assert upstream.has_group_metadata
    assert upstream.groups == {"core"} and upstream.environments == {"minimal-environment"}
    bad = read_repo_facts(work / "mirror-bad", "baseos")
    assert not bad.has_group_metadata and bad.packages == {"foo"}

    # Point 1: regenerating the filtered mirror from upstream repodata keeps the group data.
    fixed = work / "mirror-fixed"
    shutil.copytree(work / "mirror-bad", fixed, ignore=shutil.ignore_patterns("repodata"))
    regenerate_filtered_repo(
        fixed, work / "upstream" / "repodata", release="el8", source_date_epoch=EPOCH
    )
    check_repo_consistency(fixed, "baseos", expect_groups=True)

    # Point 3: createrepo_c >= 1.0 writes one compressed group file and nothing else.
    build_repo(
        work / "mirror-bad", release="el9", source_date_epoch=EPOCH, comps=case / "comps.xml"
    )
    types = {r.type: r.href for r in read_repomd(work / "mirror-bad/repodata/repomd.xml").records}
    assert types["group"].endswith(".zst") and "group_gz" not in types
    compressed_only = read_repo_facts(work / "mirror-bad", "baseos")
    assert compressed_only.environments == {"minimal-environment"}
