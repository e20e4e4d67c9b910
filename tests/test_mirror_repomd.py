"""Parsing repomd.xml and primary.xml: hand-made data, createrepo_c output, a real el9 repo."""

from __future__ import annotations

import shutil
from pathlib import Path

import createrepo_c as cr
import pytest

from iso_assets.mirror.repomd import (
    RepoMetadataError,
    parse_primary,
    parse_repomd,
    read_repomd,
)

DATA = Path(__file__).parent / "data" / "mirror"


def test_repomd_records_every_data_type() -> None:
    repomd = read_repomd(DATA / "repomd.xml")
    assert repomd.revision == "1717171717"
    assert [r.type for r in repomd.records] == ["primary", "group", "modules"]
    primary = repomd.record("primary")
    assert primary is not None
    assert primary.href == "repodata/1111-primary.xml.zst"
    assert (primary.checksum_type, primary.checksum) == ("sha256", "1" * 64)
    assert (primary.open_checksum_type, primary.open_checksum) == ("sha256", "2" * 64)
    assert primary.size == 812
    group = repomd.record("group")
    assert group is not None
    assert group.checksum_type == "sha1"  # yum's "sha" spelling
    assert group.open_checksum is None
    assert repomd.record("updateinfo") is None


def test_repomd_refuses_hrefs_outside_the_repo() -> None:
    text = (DATA / "repomd.xml").read_text().replace("repodata/3333-comps.xml", "../../etc/passwd")
    with pytest.raises(RepoMetadataError, match="not a path inside the repo"):
        parse_repomd(text.encode())


def test_repomd_that_is_not_xml_is_named() -> None:
    with pytest.raises(RepoMetadataError, match="mirror-x/repomd.xml: not valid XML"):
        parse_repomd(b"<html>502 Bad Gateway", source="mirror-x/repomd.xml")


@pytest.mark.parametrize("compression", ["plain", "gz", "xz", "bz2", "zst"])
def test_primary_reads_every_compression(tmp_path: Path, compression: str) -> None:
    if compression == "plain":
        path = tmp_path / "primary.xml"
        shutil.copy2(DATA / "primary.xml", path)
    else:
        kinds = {
            "gz": cr.GZ_COMPRESSION,
            "xz": cr.XZ_COMPRESSION,
            "bz2": cr.BZ2_COMPRESSION,
            "zst": cr.ZSTD_COMPRESSION,
        }
        path = tmp_path / f"primary.xml.{compression}"
        cr.compress_file(str(DATA / "primary.xml"), str(path), kinds[compression])

    foo, kernel, source = parse_primary(path)
    assert (foo.name, foo.epoch, foo.version, foo.release, foo.arch) == (
        "foo",
        "0",
        "1.2",
        "1.el9",
        "noarch",
    )
    assert (foo.href, foo.checksum_type, foo.size) == (
        "Packages/f/foo-1.2-1.el9.noarch.rpm",
        "sha256",
        6100,
    )
    assert foo.location_base is None
    assert kernel.nevra == "kernel-core-2:5.14.0-427.el9.x86_64"
    assert kernel.checksum_type == "sha512"
    assert kernel.location_base == "http://mirror.example.invalid/extra/"
    assert (source.arch, source.epoch, source.checksum_type) == ("src", "0", "sha1")


def test_real_el9_primary(shared_dir: Path) -> None:
    repo = shared_dir / "fixtures" / "upstream" / "el9-bzip2-signed"
    repomd = read_repomd(repo / "repodata" / "repomd.xml")
    assert repomd.revision == "1708177320"
    assert {r.type for r in repomd.records} == {
        "primary",
        "filelists",
        "other",
        "primary_db",
        "filelists_db",
        "other_db",
    }
    primary = repomd.record("primary")
    assert primary is not None
    packages = parse_primary(repo / primary.href)
    assert len(packages) == 7
    bzip2 = next(p for p in packages if p.name == "bzip2")
    assert bzip2.nevra == "bzip2-1.0.8-18.el9.x86_64"
    assert bzip2.href == "bzip2-1.0.8-18.el9.x86_64.rpm"
    assert bzip2.checksum == "dcd581a2f21cce0674468ad8e5d10565d771a1982d32234e99038365cb238900"
    assert bzip2.size == (repo / bzip2.href).stat().st_size


def test_createrepo_c_testdata_repo_with_modules(shared_dir: Path) -> None:
    repo = shared_dir / "fixtures/upstream/createrepo_c-testdata/tests/testdata/repo_03"
    repomd = read_repomd(repo / "repodata" / "repomd.xml")
    modules = repomd.record("modules")
    assert modules is not None and modules.href.endswith("-modules.yaml.xz")
    primary = repomd.record("primary")
    assert primary is not None
    assert parse_primary(repo / primary.href) == []  # an empty repo is valid
