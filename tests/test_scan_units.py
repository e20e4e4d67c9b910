"""Pure parts of the scan stage: target check (case trivy03), Trivy argv/env, the BoltDB
writer, the report summary and the release policy."""

from __future__ import annotations

import json
import re
import struct
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from iso_assets.scan.errors import ScanTargetError
from iso_assets.scan.policy import evaluate
from iso_assets.scan.scan import unpack_iso_argv
from iso_assets.scan.summary import summarize
from iso_assets.scan.target import check_scan_target
from iso_assets.scan.testing_db import (
    BOLT_MAGIC,
    PAGE_SIZE,
    FixtureAdvisory,
    boltdb_bytes,
    fnv1a_64,
    trivy_db_buckets,
)
from iso_assets.scan.trivy import trivy_convert_argv, trivy_env, trivy_rootfs_argv
from iso_assets.spec.models import AllowedVulnerability, ScanPolicy

DATA = Path(__file__).parent / "data" / "scan"
REPORT = json.loads((DATA / "trivy-rootfs-report.json").read_text())
RPMDB = ["acme-agent-1.0-1.el9.noarch", "openssl-libs-3.0.7-1.el9.x86_64"]
TODAY = date(2026, 3, 1)


# --- target (trivy03) ------------------------------------------------------------------------


def make_root(tree: Path, *, os_release: bool = True, rpmdb: str | None = "rpmdb.sqlite") -> Path:
    (tree / "etc").mkdir(parents=True)
    if os_release:
        (tree / "etc" / "os-release").write_text('ID="rocky"\nVERSION_ID="9.4"\n')
    if rpmdb:
        (tree / "var" / "lib" / "rpm").mkdir(parents=True)
        (tree / "var" / "lib" / "rpm" / rpmdb).write_bytes(b"SQLite format 3\0")
    return tree


def test_case_image_files_are_refused_before_trivy(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = shared_dir / "cases" / "trivy03-scan-image-file"
    expected = " ".join((case / "expected.txt").read_text().split())
    files = re.findall(r"^\s+(\S+\.(?:iso|qcow2|img))\s", (case / "scenario.txt").read_text(), re.M)
    assert files == ["out/acme-9.4-x86_64.iso", "out/disk.qcow2", "staging/images/install.img"]
    monkeypatch.chdir(tmp_path)
    for name in files:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(b"\0" * 2048)
        with pytest.raises(ScanTargetError) as caught:
            check_scan_target(Path(name))
        message = str(caught.value)
        assert message.startswith(f"scan target {name} is a file, not a root filesystem")
        if name.endswith(".iso"):
            assert f"ERROR {message}" in expected


def test_case_unsupported_os_and_no_os_fail_the_summary(shared_dir: Path) -> None:
    scenario = (shared_dir / "cases" / "trivy03-scan-image-file" / "scenario.txt").read_text()
    assert "unsupported os : rocky" in scenario
    # An older trivy that knows no Rocky logs this WARN and scans without OS findings.
    trivy_log = '2021-11-18T10:00:00Z\tWARN\tUnsupported os\tfamily="rocky"\n'
    summary = summarize(REPORT, rpmdb_packages=RPMDB, trivy_log=trivy_log)
    assert any("unsupported os rocky 9.4" in failure for failure in summary.failures)
    # What trivy reports for an ISO/qcow2 file: no OS, no packages, exit 0.
    nothing = {"ArtifactName": "out/disk.qcow2", "ArtifactType": "filesystem"}
    failures = summarize(nothing, rpmdb_packages=[]).failures
    assert failures[0].startswith("trivy detected no OS in out/disk.qcow2 (OS family empty)")
    assert failures[1].startswith("trivy found 0 OS packages in out/disk.qcow2")


def test_installed_root_is_accepted(tmp_path: Path) -> None:
    target = check_scan_target(make_root(tmp_path / "root"))
    assert target.rpmdb == tmp_path / "root" / "var/lib/rpm/rpmdb.sqlite"
    bdb = check_scan_target(make_root(tmp_path / "el8", rpmdb="Packages"))
    assert bdb.rpmdb.name == "Packages"


def test_folder_without_os_release_or_rpmdb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScanTargetError, match="has no etc/os-release or usr/lib/os-release"):
        check_scan_target(make_root(tmp_path / "a", os_release=False))
    with pytest.raises(ScanTargetError, match="has no rpm database"):
        check_scan_target(make_root(tmp_path / "b", rpmdb=None))
    with pytest.raises(ScanTargetError, match="does not exist"):
        check_scan_target(tmp_path / "missing")
    (tmp_path / "acme.qcow2").write_bytes(b"QFI\xfb")
    with pytest.raises(ScanTargetError, match="acme.qcow2 is a file, not a root filesystem"):
        check_scan_target(tmp_path / "acme.qcow2")


# --- trivy argv and environment --------------------------------------------------------------


def test_offline_argv_turns_every_network_switch_off(tmp_path: Path) -> None:
    argv = trivy_rootfs_argv(
        Path("/work/tree"),
        cache_dir=Path("/srv/trivy-cache"),
        output=Path("/work/report.json"),
        scanners=["vuln", "secret"],
        timeout=300,
    )
    assert argv == [
        "trivy", "rootfs",
        "--cache-dir", "/srv/trivy-cache",
        "--cache-backend", "memory",
        "--skip-java-db-update", "--skip-check-update", "--skip-version-check",
        "--skip-vex-repo-update", "--disable-telemetry", "--no-progress",
        "--skip-db-update", "--offline-scan",
        "--scanners", "vuln,secret",
        "--format", "json",
        "--timeout", "300s",
        "--output", "/work/report.json",
        "--list-all-pkgs",
        "/work/tree",
    ]  # fmt: skip


def test_online_argv_still_sends_no_telemetry_and_cyclonedx_needs_no_listing() -> None:
    argv = trivy_rootfs_argv(
        Path("t"), cache_dir=Path("c"), output=Path("o"), fmt="cyclonedx", offline=False
    )
    assert "--skip-db-update" not in argv and "--offline-scan" not in argv
    assert {"--disable-telemetry", "--skip-version-check", "--skip-check-update"} <= set(argv)
    assert "--list-all-pkgs" not in argv
    with pytest.raises(ValueError, match="at least one trivy scanner"):
        trivy_rootfs_argv(Path("t"), cache_dir=Path("c"), output=Path("o"), scanners=[])
    with pytest.raises(ValueError, match="trivy command must be one of"):
        trivy_rootfs_argv(Path("t"), cache_dir=Path("c"), output=Path("o"), command="image")


def test_convert_and_unpack_argv() -> None:
    assert trivy_convert_argv(Path("r.json"), output=Path("s.json")) == [
        "trivy", "convert", "--format", "cyclonedx", "--output", "s.json", "r.json"
    ]  # fmt: skip
    assert unpack_iso_argv(Path("a.iso"), Path("d")) == [
        "xorriso", "-osirrox", "on", "-indev", "a.iso", "-extract", "/", "d"
    ]  # fmt: skip


def test_trivy_env_keeps_home_and_temp_in_the_work_dir(tmp_path: Path) -> None:
    env = trivy_env(tmp_path)
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "TMPDIR"):
        assert env[name].startswith(str(tmp_path)), name
    assert env["TRIVY_NO_PROGRESS"] == env["TRIVY_DISABLE_TELEMETRY"] == "true"


# --- BoltDB writer ---------------------------------------------------------------------------


def test_boltdb_meta_pages_and_root_leaf() -> None:
    data = boltdb_bytes({b"b": {b"k2": b"v2", b"k1": b"v1"}, b"a": {}})
    assert len(data) % PAGE_SIZE == 0
    for page in (0, 1):
        header = data[page * PAGE_SIZE : page * PAGE_SIZE + 16]
        assert struct.unpack("<QHHI", header) == (page, 0x04, 0, 0)
        fields = data[page * PAGE_SIZE + 16 : page * PAGE_SIZE + 16 + 56]
        magic, version, page_size = struct.unpack("<III", fields[:12])
        assert (magic, version, page_size) == (BOLT_MAGIC, 2, PAGE_SIZE)
        checksum = struct.unpack("<Q", data[page * PAGE_SIZE + 72 : page * PAGE_SIZE + 80])[0]
        assert checksum == fnv1a_64(fields)
        root, _seq, freelist, high_water, txid = struct.unpack("<QQQQQ", fields[16:56])
        assert (freelist, txid, high_water) == (2, page, len(data) // PAGE_SIZE)
    # The root bucket's leaf holds "a" then "b" (sorted), both flagged as buckets.
    leaf = data[root * PAGE_SIZE :]
    _id, flags, count, _overflow = struct.unpack("<QHHI", leaf[:16])
    assert (flags, count) == (0x02, 2)
    keys = []
    for index in range(count):
        offset = 16 + 16 * index
        elem_flags, pos, ksize, _vsize = struct.unpack("<IIII", leaf[offset : offset + 16])
        start = offset + pos
        keys.append((elem_flags, leaf[start : start + ksize]))
    assert keys == [(1, b"a"), (1, b"b")]


def test_boltdb_big_bucket_spans_overflow_pages() -> None:
    big = {f"CVE-2099-{n:05d}".encode(): b"x" * 200 for n in range(100)}
    data = boltdb_bytes({b"vulnerability": big})
    pages = [struct.unpack("<QHHI", data[p : p + 16]) for p in range(0, len(data), PAGE_SIZE)]
    leaf = next(header for header in pages if header[2] == 100)
    assert leaf[3] >= 5  # 100 x 200 bytes need 5+ extra pages
    with pytest.raises(ValueError, match="must be buckets"):
        boltdb_bytes({b"plain": b"value"})


def test_trivy_db_layout() -> None:
    buckets: Any = trivy_db_buckets(
        [FixtureAdvisory("CVE-2099-0001", "openssl-libs", "3.0.7-25.el9")]
    )
    advisory = json.loads(buckets[b"rocky 9"][b"openssl-libs"][b"CVE-2099-0001"])
    assert advisory == {"FixedVersion": "3.0.7-25.el9"}
    detail = json.loads(buckets[b"vulnerability"][b"CVE-2099-0001"])
    assert detail["Severity"] == "HIGH" and detail["VendorSeverity"] == {"rocky": 3}
    assert json.loads(buckets[b"data-source"][b"rocky 9"])["ID"] == "rocky"


# --- summary ---------------------------------------------------------------------------------


def test_summary_of_a_recorded_report() -> None:
    summary = summarize(REPORT, rpmdb_packages=RPMDB)
    assert (summary.os_family, summary.os_name, summary.package_count) == ("rocky", "9.4", 2)
    assert summary.failures == []
    assert summary.vulnerabilities_by_severity["HIGH"] == 1
    vuln = summary.vulnerabilities[0]
    assert (vuln.id, vuln.package, vuln.installed, vuln.fixed, vuln.severity) == (
        "CVE-2099-0001", "openssl-libs", "3.0.7-1.el9", "3.0.7-25.el9", "HIGH"
    )  # fmt: skip
    assert [(s.path, s.rule, s.severity) for s in summary.secrets] == [
        ("root/.ssh/id_ed25519", "private-key", "HIGH")
    ]
    assert summary.non_vendor_packages == ["acme-agent-1.0-1.el9.noarch"]
    assert "not matched against OS advisories: acme-agent-1.0-1.el9.noarch" in summary.warnings[0]


def test_summary_names_packages_trivy_and_rpm_disagree_on() -> None:
    rpmdb = [*RPMDB, "gpg-pubkey-8483c65d-5ccc5b19.(none)", "bash-5.1.8-9.el9.x86_64"]
    summary = summarize(REPORT, rpmdb_packages=rpmdb)
    assert summary.failures == [
        "trivy listed 2 OS packages, the rpmdb has 3: only in the rpmdb: "
        "['bash-5.1.8-9.el9.x86_64']; only in trivy's report: none"
    ]


def test_summary_fails_on_end_of_life_os() -> None:
    report = json.loads(json.dumps(REPORT))
    report["Metadata"]["OS"]["EOSL"] = True
    summary = summarize(report, rpmdb_packages=RPMDB)
    assert any("is end-of-life (trivy EOSL)" in failure for failure in summary.failures)
    # "not on the EOL list" is Trivy being unsure, not an end-of-life verdict.
    unsure = summarize(
        REPORT, rpmdb_packages=RPMDB, trivy_log="t\tWARN\tThis OS version is not on the EOL list\n"
    )
    assert unsure.failures == []
    assert "trivy: This OS version is not on the EOL list" in unsure.warnings


# --- policy ----------------------------------------------------------------------------------


def without_secrets() -> dict[str, object]:
    report = json.loads(json.dumps(REPORT))
    report["Results"] = [r for r in report["Results"] if r["Class"] != "secret"]
    return report


def test_policy_fails_high_and_passes_when_severity_not_listed() -> None:
    summary = summarize(without_secrets(), rpmdb_packages=RPMDB)
    result = evaluate(summary, ScanPolicy(), today=TODAY)
    assert not result.passed
    assert result.failures == [
        "CVE-2099-0001 HIGH in openssl-libs 3.0.7-1.el9, fixed in 3.0.7-25.el9"
    ]
    assert evaluate(summary, ScanPolicy(fail_on=["CRITICAL"]), today=TODAY).passed


def test_policy_allow_list_until_expiry() -> None:
    summary = summarize(without_secrets(), rpmdb_packages=RPMDB)
    entry = AllowedVulnerability(
        id="CVE-2099-0001",
        reason="not reachable: no TLS in the appliance",
        expires=date(2026, 4, 1),
    )
    policy = ScanPolicy(allow=[entry])
    allowed = evaluate(summary, policy, today=TODAY)
    assert allowed.passed
    assert [(a.id, a.reason, a.expires, a.packages) for a in allowed.allowed] == [
        ("CVE-2099-0001", entry.reason, date(2026, 4, 1), ["openssl-libs"])
    ]
    expired = evaluate(summary, policy, today=date(2026, 4, 1))
    assert not expired.passed and expired.allowed == []
    assert (
        "allow-list entry expired on 2026-04-01 (reason was: not reachable" in (expired.failures[0])
    )


def test_policy_secrets_always_fail_and_summary_failures_carry_over() -> None:
    summary = summarize(REPORT, rpmdb_packages=[])
    result = evaluate(summary, ScanPolicy(fail_on=[]), today=TODAY)
    assert not result.passed
    assert result.failures[0].startswith("trivy listed 2 OS packages, the rpmdb has 0")
    assert result.failures[1].startswith("secret in root/.ssh/id_ed25519: private-key (HIGH")
