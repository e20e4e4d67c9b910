"""build_repo / regenerate_filtered_repo / check_compression with the real createrepo_c."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import read_repomd
from iso_assets.repodata.compression import check_compression, compression_of
from iso_assets.repodata.createrepo import build_repo, createrepo_binary
from iso_assets.repodata.read_facts import read_repo_facts
from iso_assets.repodata.regenerate import regenerate_filtered_repo
from iso_assets.rpm.build import build_rpms, write_simple_spec
from tests.conftest import TEST_EPOCH

DATA = Path(__file__).parent / "data" / "repodata"
EPOCH = 1700000000


@pytest.fixture(scope="module")
def rpm_pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real RPMs, built once for the module (each test copies them)."""
    pool = tmp_path_factory.mktemp("pool")
    specs = tmp_path_factory.mktemp("specs")
    for name, version in (("foo", "1.0"), ("bar", "2.0")):
        spec = write_simple_spec(specs / f"{name}.spec", name=name, version=version)
        build_rpms(spec, pool, source_date_epoch=TEST_EPOCH)
    return pool


def copy_repo(pool: Path, dest: Path) -> Path:
    shutil.copytree(pool, dest)
    return dest


def data_types(repo_dir: Path) -> dict[str, str]:
    return {r.type: r.href for r in read_repomd(repo_dir / "repodata" / "repomd.xml").records}


def test_el9_repo_is_zstd_with_group_and_modules(rpm_pool: Path, tmp_path: Path) -> None:
    repo = copy_repo(rpm_pool, tmp_path / "BaseOS")
    result = build_repo(
        repo,
        release="el9",
        source_date_epoch=EPOCH,
        comps=DATA / "comps.xml",
        modules=DATA / "modules.yaml",
    )

    types = data_types(repo)
    assert {"primary", "filelists", "other", "group", "modules"} <= set(types)
    assert compression_of(types["primary"]) == "zstd"
    assert types["group"].endswith("-comps.xml.zst")
    assert types["modules"].endswith("-modules.yaml.zst")
    assert result.has_group and result.has_modules
    assert result.package_count == 2
    assert result.createrepo_version.startswith("Version: 1.")
    assert result.metadata()["compression"] == "zstd"
    # Every timestamp, including the one modifyrepo_c stamps, is the build epoch.
    text = (repo / "repodata" / "repomd.xml").read_text()
    assert text.count("<timestamp>") == text.count(f"<timestamp>{EPOCH}</timestamp>") == 5
    assert f"<revision>{EPOCH}</revision>" in text


@pytest.mark.parametrize("release", ["el7", "el8"])
def test_older_release_repo_is_gz_with_plain_group(
    rpm_pool: Path, tmp_path: Path, release: str
) -> None:
    repo = copy_repo(rpm_pool, tmp_path / "base")
    build_repo(repo, release=release, source_date_epoch=EPOCH, comps=DATA / "comps.xml")

    types = data_types(repo)
    assert types["group"].endswith("-comps.xml")
    assert {compression_of(href) for t, href in types.items() if t != "group"} == {"gz"}
    assert not any(t.endswith("_db") for t in types)
    check_compression(repo / "repodata", release)


def test_two_builds_give_identical_repomd(rpm_pool: Path, tmp_path: Path) -> None:
    first = copy_repo(rpm_pool, tmp_path / "one")
    second = copy_repo(rpm_pool, tmp_path / "two")
    # Different file mtimes on the way in must not matter.
    for rpm in second.glob("*.rpm"):
        rpm.touch()
    one = build_repo(
        first,
        release="el9",
        source_date_epoch=EPOCH,
        comps=DATA / "comps.xml",
        modules=DATA / "modules.yaml",
    )
    two = build_repo(
        second,
        release="el9",
        source_date_epoch=EPOCH,
        comps=DATA / "comps.xml",
        modules=DATA / "modules.yaml",
    )
    assert one.repomd_sha256 == two.repomd_sha256
    assert sorted(p.name for p in (first / "repodata").iterdir()) == sorted(
        p.name for p in (second / "repodata").iterdir()
    )


def test_relative_comps_path_is_made_safe(
    rpm_pool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller's relative path is relative to the cwd; createrepo_c would look in the repo.
    repo = copy_repo(rpm_pool, tmp_path / "repo")
    monkeypatch.chdir(DATA)
    result = build_repo(repo, release="el9", source_date_epoch=EPOCH, comps=Path("comps.xml"))
    assert result.has_group


def test_el7_check_rejects_zstd_repodata(rpm_pool: Path, tmp_path: Path) -> None:
    # What createrepo_c >= 1.0 writes by default, put on an EL7 partition.
    repo = copy_repo(rpm_pool, tmp_path / "base")
    build_repo(repo, release="el9", source_date_epoch=EPOCH, comps=DATA / "comps.xml")
    with pytest.raises(RepodataError) as error:
        check_compression(repo / "repodata", "el7", repo_label="base/7.9")
    message = str(error.value)
    assert "repo base/7.9: primary uses zstd, unreadable by EL7 yum; use gz" in message
    assert "group metadata is zstd-compressed" in message


def test_case_repo07_compression_per_partition(
    shared_dir: Path, rpm_pool: Path, tmp_path: Path
) -> None:
    case = shared_dir / "cases" / "repo07-compression-per-target"
    partitions = yaml.safe_load((case / "product.yaml").read_text())["product_versions"]
    for version, facts in partitions.items():
        release = f"el{facts['os_major']}"
        repo = copy_repo(rpm_pool, tmp_path / version)
        build_repo(repo, release=release, source_date_epoch=EPOCH, comps=DATA / "comps.xml")
        check_compression(repo / "repodata", release, repo_label=f"base/{version}")
        hrefs = [r.href for r in read_repomd(repo / "repodata" / "repomd.xml").records]
        if release == "el7":
            assert not any(h.endswith((".zst", ".xz")) for h in hrefs)
    # The failing direction, with the case's exact message.
    with pytest.raises(RepodataError, match="primary uses zstd, unreadable by EL7 yum; use gz"):
        check_compression(tmp_path / "9.4" / "repodata", "el7", repo_label="base/7.9")


def test_regenerate_filtered_repo_keeps_compressed_upstream_comps_and_modules(
    rpm_pool: Path, tmp_path: Path
) -> None:
    upstream = copy_repo(rpm_pool, tmp_path / "upstream")
    build_repo(
        upstream,
        release="el9",
        source_date_epoch=EPOCH,
        comps=DATA / "comps.xml",
        modules=DATA / "modules.yaml",
    )
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy2(upstream / next(p.name for p in upstream.glob("foo-*.rpm")), mirror)
    shutil.copytree(upstream / "repodata", mirror / "repodata")

    # Regenerate in place: the upstream repodata is the mirror's own, read before replacing.
    result = regenerate_filtered_repo(
        mirror, mirror / "repodata", release="el8", source_date_epoch=EPOCH, repo_label="mirror"
    )

    assert result.has_group and result.has_modules and result.package_count == 1
    facts = read_repo_facts(mirror, "mirror")
    assert facts.packages == {"foo"}
    assert facts.groups == {"core"}
    assert facts.environments == {"minimal-environment"}
    types = data_types(mirror)
    assert types["group"].endswith("-comps.xml")  # el8: plain group
    assert types["modules"].endswith("-modules.yaml.gz")


def test_createrepo_binary_is_the_pinned_wheel() -> None:
    # One createrepo_c, chosen on purpose: the project's venv (1.2.x), not Debian's 0.17.
    assert createrepo_binary().is_file()
    assert createrepo_binary().parent == Path(sys.executable).parent
