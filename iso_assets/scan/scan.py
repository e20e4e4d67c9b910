"""The scan stage's entry points: scan an installed rootfs, and scan the ISO's contents apart.

scan_rootfs: target check -> DB check (when scan.db is set) -> one Trivy walk writing the
JSON report (packages, vulnerabilities with a DB, secrets) -> CycloneDX SBOM converted from it
-> rpmdb count -> summary. The release gate (policy.evaluate) is applied by the caller.

scan_iso_contents: the ISO is not an installed root, so it is unpacked with xorriso (no mount,
no root needed) and its tree scanned with `trivy fs` for secrets. Trivy does not read .rpm
files as packages (measured: a folder of RPMs gives an empty report), so the packages ON the
ISO are listed from their headers. Known gap: those RPM files are not matched against the
vulnerability DB (the installed rootfs scan covers what gets installed), and Trivy does not
look inside install.img/squashfs or tarballs on the ISO.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from iso_assets.process import run_tool, tool_version
from iso_assets.rpm.header import RpmHeaderError, read_rpm_header
from iso_assets.scan.db import DbInfo, check_db
from iso_assets.scan.errors import ScanError
from iso_assets.scan.rpmdb import list_rpmdb_packages
from iso_assets.scan.summary import ScanSummary, summarize
from iso_assets.scan.target import check_scan_target
from iso_assets.scan.trivy import Scanner, convert_report, run_trivy, trivy_binary
from iso_assets.spec.models import ScanSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    """A finished rootfs scan: report files, summary, which DB (None: no vuln scanning)."""

    target: Path
    json_report: Path
    sbom: Path
    summary: ScanSummary
    db_info: DbInfo | None
    scanners: list[str]
    trivy_version: str
    seconds: float

    def metadata(self) -> dict[str, object]:
        return {
            "target": str(self.target),
            "json_report": str(self.json_report),
            "sbom": str(self.sbom),
            "scanners": self.scanners,
            "trivy_version": self.trivy_version,
            "seconds": round(self.seconds, 2),
            "trivy_db": self.db_info.metadata() if self.db_info else None,
            **self.summary.metadata(),
        }


def scan_rootfs(
    tree: Path,
    *,
    scan_spec: ScanSpec,
    work_dir: Path,
    now: datetime,
    cache_dir: Path | None = None,
) -> ScanResult:
    """Scan the installed root `tree` with Trivy, offline; reports go to `work_dir`.

    `cache_dir` is the resolved offline DB cache (db/trivy.db + db/metadata.json); when None,
    scan_spec.db is used as a local path, and without either the scan lists packages,
    secrets and the SBOM but no vulnerabilities (a warning says so). An s3:// scan.db must be
    downloaded by the caller and passed as cache_dir. Raises ScanTargetError, TrivyDbError
    (before Trivy runs) or ScanError.
    """
    started = time.monotonic()
    target = check_scan_target(tree)
    work_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = resolve_cache_dir(scan_spec, cache_dir)

    db_info = None
    scanners: list[Scanner] = ["secret"]
    if cache_dir is not None:
        db_info = check_db(cache_dir, max_age_days=scan_spec.max_db_age_days, now=now)
        scanners = ["vuln", "secret"]
    else:
        log.info("vulnerability scanning off: no trivy DB configured (scan.db unset)")
        cache_dir = work_dir / "trivy-cache"  # empty: secret scanning and listing need no DB

    run = run_trivy(
        target.tree,
        cache_dir=cache_dir,
        work_dir=work_dir,
        output=work_dir / "trivy-rootfs.json",
        fmt="json",
        scanners=scanners,
        timeout=scan_spec.timeout_seconds,
    )
    sbom = convert_report(run.output, output=work_dir / "sbom.cdx.json", work_dir=work_dir)
    summary = summarize(
        run.report, rpmdb_packages=list_rpmdb_packages(target.tree), trivy_log=run.log
    )
    if db_info is None:
        summary.warnings.append(
            "no trivy DB configured (scan.db): vulnerabilities were not scanned; packages, "
            "secrets and the SBOM were"
        )
    result = ScanResult(
        target=target.tree,
        json_report=run.output,
        sbom=sbom,
        summary=summary,
        db_info=db_info,
        scanners=list(scanners),
        trivy_version=tool_version([trivy_binary(), "--version"]),
        seconds=time.monotonic() - started,
    )
    log.info(
        "scanned %s in %.2f s: %s %s, %d packages, vulnerabilities %s, %d secrets, %d failures",
        tree,
        result.seconds,
        summary.os_family,
        summary.os_name,
        summary.package_count,
        summary.vulnerabilities_by_severity,
        len(summary.secrets),
        len(summary.failures),
    )
    return result


def resolve_cache_dir(scan_spec: ScanSpec, cache_dir: Path | None) -> Path | None:
    if cache_dir is not None or scan_spec.db is None:
        return cache_dir
    if "://" in scan_spec.db:
        raise ScanError(
            f"scan.db {scan_spec.db} is remote: download it to a local cache dir first and "
            f"pass that as cache_dir"
        )
    return Path(scan_spec.db)


@dataclass(frozen=True)
class IsoScanResult:
    """The ISO's contents, reported apart from the rootfs: secrets (summary, no OS checks)
    and the RPM files on the medium, by header."""

    iso: Path
    json_report: Path
    summary: ScanSummary
    packages: list[str]  # NEVRA of every .rpm on the ISO, sorted
    unreadable_rpms: list[str]
    seconds: float

    def metadata(self) -> dict[str, object]:
        return {
            "iso": str(self.iso),
            "json_report": str(self.json_report),
            "packages": self.packages,
            "unreadable_rpms": self.unreadable_rpms,
            "secrets": [asdict(secret) for secret in self.summary.secrets],
            "warnings": self.summary.warnings,
            "seconds": round(self.seconds, 2),
        }


def unpack_iso_argv(iso: Path, dest: Path) -> list[str]:
    return ["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(dest)]


def unpack_iso(iso: Path, dest: Path) -> Path:
    """Extract every file of `iso` into `dest` (replaced) with xorriso, no mount; files are
    made owner-writable (the ISO's are read-only) so the folder can be removed later."""
    if not iso.is_file():
        raise ScanError(f"ISO {iso} does not exist; build the ISO before scanning its contents")
    if dest.exists():
        make_writable(dest)
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_tool(unpack_iso_argv(iso, dest))
    make_writable(dest)
    return dest


def make_writable(tree: Path) -> None:
    for folder, _dirnames, filenames in os.walk(tree):
        os.chmod(folder, os.stat(folder).st_mode | stat.S_IRWXU)
        for name in filenames:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IRUSR | stat.S_IWUSR)


def scan_iso_contents(iso: Path, *, work_dir: Path, timeout: int = 600) -> IsoScanResult:
    """Unpack `iso` under work_dir, scan it for secrets, list the RPM files on it."""
    started = time.monotonic()
    tree = unpack_iso(iso, work_dir / "iso-tree")
    run = run_trivy(
        tree,
        cache_dir=work_dir / "trivy-cache",
        work_dir=work_dir,
        output=work_dir / "trivy-iso.json",
        fmt="json",
        scanners=["secret"],
        timeout=timeout,
        command="fs",
    )
    summary = summarize(run.report, rpmdb_packages=[], trivy_log=run.log, check_os=False)
    packages, unreadable = [], []
    for rpm in sorted(tree.rglob("*.rpm")):
        try:
            packages.append(read_rpm_header(rpm).nevra)
        except RpmHeaderError:
            unreadable.append(str(rpm.relative_to(tree)))
    summary.warnings.append(
        f"{len(packages)} RPM files on the ISO listed from their headers; trivy does not "
        f"match RPM files against advisories (the rootfs scan covers installed packages)"
    )
    result = IsoScanResult(
        iso=iso,
        json_report=run.output,
        summary=summary,
        packages=sorted(packages),
        unreadable_rpms=unreadable,
        seconds=time.monotonic() - started,
    )
    log.info(
        "scanned ISO contents of %s in %.2f s: %d RPM files, %d secrets",
        iso.name,
        result.seconds,
        len(packages),
        len(summary.secrets),
    )
    return result
