"""createrepo_c / modifyrepo_c argv per target release (pure, no tools run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.errors import RepodataError
from iso_assets.repodata.compression import compression_for, compression_of
from iso_assets.repodata.createrepo import createrepo_argv, modifyrepo_argv

BIN = Path("/venv/bin/createrepo_c")


def test_el9_argv_is_zstd_without_compatibility_mode() -> None:
    argv = createrepo_argv(
        Path("/r/BaseOS"),
        release="el9",
        comps=Path("/in/comps.xml"),
        revision="1700000000",
        binary=BIN,
    )
    assert argv == [
        "/venv/bin/createrepo_c",
        "--quiet",
        "--no-database",
        "--unique-md-filenames",
        "--checksum=sha256",
        "--repomd-checksum=sha256",
        "--general-compress-type=zstd",
        "--compress-type=zstd",
        "--revision=1700000000",
        "--set-timestamp-to-revision",
        "--groupfile=/in/comps.xml",
        "/r/BaseOS",
    ]


@pytest.mark.parametrize("release", ["el7", "el8"])
def test_older_releases_get_gz_and_a_plain_group_file(release: str) -> None:
    argv = createrepo_argv(Path("/r"), release=release, comps=None, revision="1", binary=BIN)
    assert "--general-compress-type=gz" in argv
    assert "--compress-type=gz" in argv
    assert "--compatibility" in argv
    # compatibility mode would turn sqlite on: it must stay off for identical output.
    assert "--no-database" in argv
    assert not any(arg.startswith("--groupfile") for arg in argv)


def test_el10_is_zstd() -> None:
    assert compression_for("el10").metadata == "zstd"
    assert not compression_for("el10").plain_group


def test_relative_comps_path_is_refused() -> None:
    # createrepo_c would resolve it against the repo folder, not the working directory.
    with pytest.raises(RepodataError, match="must be absolute"):
        createrepo_argv(Path("/r"), release="el9", comps=Path("comps.xml"), revision="1")


def test_unknown_release_names_the_choices() -> None:
    with pytest.raises(RepodataError, match="el7.*el8.*el9"):
        compression_for("el6")


def test_modifyrepo_argv_uses_release_compression() -> None:
    argv = modifyrepo_argv(
        Path("/t/modules.yaml"),
        Path("/r/repodata"),
        mdtype="modules",
        target=compression_for("el8"),
    )
    assert argv[1:] == [
        "--mdtype=modules",
        "--compress-type=gz",
        "--checksum=sha256",
        "--unique-md-filenames",
        "/t/modules.yaml",
        "/r/repodata",
    ]
    assert argv[0].endswith("/modifyrepo_c")


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("repodata/a-primary.xml.zst", "zstd"),
        ("repodata/a-primary.xml.gz", "gz"),
        ("repodata/a-comps.xml", None),
        ("repodata/a-other.sqlite.bz2", "bz2"),
        ("repodata/a-primary.xml.xz", "xz"),
    ],
)
def test_compression_from_href(href: str, expected: str | None) -> None:
    assert compression_of(href) == expected
