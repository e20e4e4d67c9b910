"""check_repo_consistency: metadata hrefs and checksums == RPM files on disk (self-made repos).

The shared cases repo05 and repo02 are in test_repodata_cases.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iso_assets.errors import RepodataError
from iso_assets.repodata.consistency import check_repo_consistency
from iso_assets.repodata.createrepo import build_repo
from iso_assets.rpm.build import build_rpms, write_simple_spec
from tests.conftest import TEST_EPOCH

DATA = Path(__file__).parent / "data" / "repodata"
EPOCH = 1700000000


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real RPMs built once: foo 1.0/1.1/1.2, bar 1.0, and a different foo 1.0 build."""
    specs = tmp_path_factory.mktemp("specs")
    out = tmp_path_factory.mktemp("pool")
    built: dict[str, Path] = {}
    for key, name, version, files, dest in (
        ("foo-1.0", "foo", "1.0", None, out),
        ("foo-1.1", "foo", "1.1", None, out),
        ("foo-1.2", "foo", "1.2", None, out),
        ("bar-1.0", "bar", "1.0", None, out),
        ("foo-1.0-rebuilt", "foo", "1.0", {"/usr/share/foo/x": "new\n"}, out / "rebuilt"),
    ):
        spec = write_simple_spec(specs / f"{key}.spec", name=name, version=version, files=files)
        built[key] = build_rpms(spec, dest, source_date_epoch=TEST_EPOCH)[0]
    return built


def make_repo(repo: Path, *rpms: Path, comps: Path | None = None) -> Path:
    repo.mkdir()
    for rpm in rpms:
        shutil.copy2(rpm, repo / rpm.name)
    build_repo(repo, release="el9", source_date_epoch=EPOCH, comps=comps)
    return repo


def test_consistent_repo_passes(tmp_path: Path, pool: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "repo", pool["foo-1.0"], pool["bar-1.0"])
    check_repo_consistency(repo, "baseos/9.4")


def test_newest_only_mirror_with_upstream_metadata(tmp_path: Path, pool: dict[str, Path]) -> None:
    # What `reposync --newest-only --download-metadata` leaves: one RPM, all the metadata.
    upstream = make_repo(tmp_path / "upstream", pool["foo-1.0"], pool["foo-1.1"], pool["foo-1.2"])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy2(pool["foo-1.2"], mirror)
    shutil.copytree(upstream / "repodata", mirror / "repodata")

    with pytest.raises(RepodataError) as error:
        check_repo_consistency(mirror, "upstream/9.4")
    assert str(error.value) == (
        f"repo upstream/9.4: 2 packages in metadata have no file "
        f"({pool['foo-1.0'].name}, {pool['foo-1.1'].name}); regenerate metadata after pruning"
    )


def test_rebuilt_rpm_with_same_file_name_is_caught(tmp_path: Path, pool: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "repo", pool["foo-1.0"])
    rebuilt = pool["foo-1.0-rebuilt"]
    assert rebuilt.name == pool["foo-1.0"].name
    shutil.copy2(rebuilt, repo / rebuilt.name)

    with pytest.raises(RepodataError, match=rf"{rebuilt.name} on disk has sha256 .*rebuilt"):
        check_repo_consistency(repo, "product/1.0")


def test_unindexed_rpm_is_reported(tmp_path: Path, pool: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "repo", pool["foo-1.0"])
    (repo / "Packages").mkdir()
    shutil.copy2(pool["bar-1.0"], repo / "Packages")

    with pytest.raises(RepodataError, match=r"1 RPM files are not in metadata \(bar-1\.0"):
        check_repo_consistency(repo, "product/1.0")


def test_repo_without_group_metadata(tmp_path: Path, pool: dict[str, Path]) -> None:
    bare = make_repo(tmp_path / "bare", pool["foo-1.0"])
    with pytest.raises(RepodataError, match="repo baseos has no group metadata"):
        check_repo_consistency(bare, "baseos", expect_groups=True)

    with_groups = make_repo(tmp_path / "groups", pool["foo-1.0"], comps=DATA / "comps.xml")
    check_repo_consistency(with_groups, "baseos", expect_groups=True)


def test_missing_repodata_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RepodataError, match="repo empty: cannot read metadata.*regenerate it"):
        check_repo_consistency(tmp_path, "empty")
