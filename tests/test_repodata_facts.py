"""read_repo_facts on third-party repodata, the Rocky 9 comps, and self-made repos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import read_repomd
from iso_assets.repodata.comps import read_comps_ids
from iso_assets.repodata.createrepo import build_repo
from iso_assets.repodata.read_facts import read_repo_facts
from iso_assets.rpm.build import build_rpms, write_simple_spec
from tests.conftest import TEST_EPOCH

DATA = Path(__file__).parent / "data" / "repodata"
EPOCH = 1700000000


@pytest.fixture(scope="module")
def foo_rpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = write_simple_spec(
        tmp_path_factory.mktemp("spec") / "foo.spec", name="foo", version="1.0"
    )
    return build_rpms(spec, tmp_path_factory.mktemp("rpms"), source_date_epoch=TEST_EPOCH)[0]


def repo_with(foo_rpm: Path, repo: Path) -> Path:
    repo.mkdir()
    shutil.copy2(foo_rpm, repo / foo_rpm.name)
    return repo


def test_createrepo_c_testdata_with_additional_metadata(shared_dir: Path) -> None:
    repo = (
        shared_dir
        / "fixtures/upstream/createrepo_c-testdata/tests/testdata"
        / "repo_with_additional_metadata"
    )
    facts = read_repo_facts(repo, "testdata")
    assert facts.packages == {"fontconfig"}
    assert facts.has_group_metadata
    assert facts.groups == {"20d-printing"}
    assert facts.environments == {"gnome-desktop-environment"}


@pytest.mark.parametrize(("release", "suffix"), [("el9", ".zst"), ("el8", ".xml")])
def test_rocky9_comps_in_a_self_made_repo(
    shared_dir: Path, tmp_path: Path, foo_rpm: Path, release: str, suffix: str
) -> None:
    repo = repo_with(foo_rpm, tmp_path / "BaseOS")
    build_repo(
        repo,
        release=release,
        source_date_epoch=EPOCH,
        comps=shared_dir / "fixtures/installer-tree/rocky-9/comps_base.xml",
    )
    group = read_repomd(repo / "repodata" / "repomd.xml").record("group")
    assert group is not None and group.href.endswith(suffix)

    facts = read_repo_facts(repo, "BaseOS")
    assert facts.packages == {"foo"}
    assert len(facts.groups) == 35
    assert {"core", "base", "standard"} <= facts.groups
    assert facts.environments == {
        "minimal-environment",
        "server-product-environment",
        "custom-environment",
    }


def test_compressed_only_group_self_made(tmp_path: Path, foo_rpm: Path) -> None:
    repo = repo_with(foo_rpm, tmp_path / "baseos")
    build_repo(repo, release="el10", source_date_epoch=EPOCH, comps=DATA / "comps.xml")
    facts = read_repo_facts(repo, "baseos")
    assert facts.groups == {"core"}
    assert facts.environments == {"minimal-environment"}


def test_compressed_file_is_not_taken_for_comps(tmp_path: Path, foo_rpm: Path) -> None:
    # cobbler #3914: a compressed group file handed on as plain XML.
    repo = repo_with(foo_rpm, tmp_path / "baseos")
    build_repo(repo, release="el9", source_date_epoch=EPOCH, comps=DATA / "comps.xml")
    compressed = next((repo / "repodata").glob("*-comps.xml.zst"))
    with pytest.raises(RepodataError, match="not a readable comps file"):
        read_comps_ids(compressed)
