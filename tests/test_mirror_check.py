"""Invariant: primary.xml hrefs == RPM files present, with matching checksums (case repo05)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iso_assets.errors import RepodataError
from iso_assets.mirror.check import check_metadata_matches_files, ensure_metadata_matches_files
from iso_assets.process import run_tool
from tests.test_mirror_sync import build_package, createrepo


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """foo 1.0 / 1.1 / 1.2 (noarch) with repodata listing all three."""
    work = tmp_path_factory.mktemp("upstream")
    repo = work / "upstream"
    for version in ("1.0", "1.1", "1.2"):
        build_package("foo", version, repo, work)
    createrepo(repo)
    return repo


@pytest.fixture
def mirror(tmp_path: Path, upstream: Path) -> Path:
    copy = tmp_path / "mirror"
    shutil.copytree(upstream, copy)
    return copy


def test_consistent_repo_has_no_problems(mirror: Path) -> None:
    assert check_metadata_matches_files(mirror, label="upstream/9.4") == []
    ensure_metadata_matches_files(mirror)


def test_pruned_without_regenerating_metadata(mirror: Path) -> None:
    for version in ("1.0", "1.1"):
        (mirror / f"foo-{version}-1.el9.noarch.rpm").unlink()
    problems = check_metadata_matches_files(mirror, label="upstream/9.4")
    assert problems == [
        "repo upstream/9.4: 2 packages in metadata have no file (foo-1.0-1.el9.noarch.rpm, "
        "foo-1.1-1.el9.noarch.rpm); regenerate metadata after pruning"
    ]
    with pytest.raises(RepodataError, match="regenerate metadata after pruning"):
        ensure_metadata_matches_files(mirror, label="upstream/9.4")

    createrepo(mirror)  # regenerating restores the invariant
    assert check_metadata_matches_files(mirror) == []


def test_unlisted_and_altered_files(mirror: Path, upstream: Path) -> None:
    shutil.copy2(upstream / "foo-1.2-1.el9.noarch.rpm", mirror / "stray-1.0-1.noarch.rpm")
    altered = mirror / "foo-1.1-1.el9.noarch.rpm"
    altered.write_bytes(altered.read_bytes() + b"\0")
    problems = check_metadata_matches_files(mirror, label="baseos")
    assert len(problems) == 2
    assert problems[0] == (
        "repo baseos: 1 RPM files are not in metadata (stray-1.0-1.noarch.rpm); "
        "regenerate metadata or remove them"
    )
    assert problems[1].startswith("repo baseos: foo-1.1-1.el9.noarch.rpm has sha256 ")
    assert "the file changed after createrepo" in problems[1]


def test_case_repo05_newest_only_stale_metadata(shared_dir: Path, tmp_path: Path) -> None:
    case = shared_dir / "cases" / "repo05-newest-only-stale-metadata"
    run_tool(["bash", str(case / "make_upstream.sh")], cwd=tmp_path)
    problems = check_metadata_matches_files(tmp_path / "mirror", label="upstream/9.4")
    assert problems == [
        "repo upstream/9.4: 2 packages in metadata have no file (foo-1.0-1.noarch.rpm, "
        "foo-1.1-1.noarch.rpm); regenerate metadata after pruning"
    ]
