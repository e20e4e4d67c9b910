"""rpmvercmp / EVR ordering, and keep-newest selection built on it."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from iso_assets.mirror.repomd import PackageEntry
from iso_assets.mirror.selection import select_packages
from iso_assets.process import run_tool
from iso_assets.rpm.evr import compare_evr, rpmvercmp

# (a, b, expected): from rpm's own rpmvercmp test table, plus ~ and ^ rules.
CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p10", -1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("1.05", "1.5", 0),
    ("1.0010", "1.9", 1),
    ("a", "1", -1),
    ("2_0", "2.0", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0.1", -1),
    ("1.0^git1~pre", "1.0^git1", -1),
    ("1.0^20160101", "1.0~rc1", 1),
    ("6.0.rc1", "6.0", 1),
    ("10b2", "10a1", 1),
    ("1.0aa", "1.0a", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_epoch_wins_over_version() -> None:
    assert compare_evr(("1", "1.0", "1"), ("0", "9.9", "9")) == 1
    assert compare_evr(("", "1.0", "2.el9"), ("0", "1.0", "10.el9")) == -1
    assert compare_evr(("0", "1.0", "1.el9_4"), ("0", "1.0", "1.el9_4")) == 0


def test_agrees_with_rpm_itself(tmp_path: Path) -> None:
    """Cross-check against rpm.labelCompare where the host's python3 has rpm bindings."""
    host_python = shutil.which("python3", path="/usr/bin")
    if host_python is None or run_tool([host_python, "-c", "import rpm"], check=False).returncode:
        pytest.skip("the host python3 has no rpm bindings (python3-rpm)")
    versions = sorted({v for a, b, _ in CASES for v in (a, b)} | {"1", "1.0.", "0.9", "1a"})
    pairs = list(itertools.product(versions, versions))
    script = (
        "import json, rpm, sys\n"
        "pairs = json.load(sys.stdin)\n"
        "print(json.dumps([rpm.labelCompare(('0', a, '1'), ('0', b, '1')) for a, b in pairs]))"
    )
    result = run_tool([host_python, "-c", script], input_bytes=json.dumps(pairs).encode())
    expected = json.loads(result.stdout)
    assert [rpmvercmp(a, b) for a, b in pairs] == expected


def entry(name: str, version: str, arch: str = "noarch", epoch: str = "0") -> PackageEntry:
    href = f"{name}-{version}-1.{arch}.rpm"
    return PackageEntry(name, epoch, version, "1", arch, href, "sha256", "0" * 64, 1)


def test_keep_newest_per_name_and_arch() -> None:
    packages = [
        entry("foo", "1.10"),
        entry("foo", "1.9"),
        entry("foo", "1.2"),
        entry("foo", "0.1", epoch="1"),  # epoch 1 beats every epoch-0 build
        entry("bar", "2.0", arch="x86_64"),
        entry("bar", "1.0", arch="i686"),
    ]
    selection = select_packages(
        packages, allowed_arches=("x86_64", "noarch"), keep_newest=2, exclude=["ba*"]
    )
    assert [p.nevra for p in selection.kept] == ["foo-1.10-1.noarch", "foo-1:0.1-1.noarch"]
    assert [p.nevra for p in selection.superseded] == ["foo-1.9-1.noarch", "foo-1.2-1.noarch"]
    assert [p.nevra for p in selection.foreign_arch] == ["bar-1.0-1.i686"]
    assert [p.nevra for p in selection.unwanted_name] == ["bar-2.0-1.x86_64"]


def test_include_limits_names() -> None:
    packages = [entry("foo", "1"), entry("foo-devel", "1"), entry("bar", "1")]
    selection = select_packages(packages, allowed_arches=("noarch",), include=["foo*"])
    assert [p.name for p in selection.kept] == ["foo", "foo-devel"]
    assert selection.dropped == [packages[2]]
