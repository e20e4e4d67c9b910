"""Read a Trivy JSON report (made with --list-all-pkgs) into what the release gate needs.

The failures found here are the report's own (case trivy03): no OS detected, an OS Trivy
does not support or marks end-of-life, zero OS packages (a scan of nothing, not a pass), and
a package count that differs from the rpm database's. Findings (vulnerabilities, secrets) are
listed; which of them fail the release is policy.py's decision.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
UNKNOWN_FAMILIES = ("", "unknown", "none")
# rpm lists imported signing keys as gpg-pubkey packages; they are keys, not software.
NOT_SOFTWARE = ("gpg-pubkey",)
WARN_LINE = re.compile(r"^\S+\s+WARN\s+(?P<text>.+)$")
UNSUPPORTED_OS = re.compile(r"unsupported os", re.IGNORECASE)
# Not "EOL" alone: Trivy also warns "This OS version is not on the EOL list" (not a failure).
END_OF_LIFE = re.compile(r"no longer supported|end[- ]of[- ](service[- ])?life", re.IGNORECASE)


@dataclass(frozen=True)
class Vulnerability:
    id: str
    package: str
    installed: str
    fixed: str
    severity: str
    title: str = ""


@dataclass(frozen=True, order=True)
class Secret:
    path: str
    rule: str
    severity: str
    title: str = ""


@dataclass(frozen=True)
class ScanSummary:
    """What one Trivy report says about a rootfs; `failures` are problems of the scan itself."""

    target: str
    os_family: str
    os_name: str
    os_eosl: bool
    package_count: int
    rpmdb_package_count: int
    vulnerabilities_by_severity: dict[str, int]
    vulnerabilities: list[Vulnerability]
    secrets: list[Secret]
    # Listed by Trivy but never matched against OS advisories (no distro vendor).
    non_vendor_packages: list[str]
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, object]:
        return asdict(self)


def summarize(
    trivy_json: dict[str, Any],
    *,
    rpmdb_packages: list[str],
    trivy_log: str = "",
    check_os: bool = True,
) -> ScanSummary:
    """Summarize a Trivy JSON report; `rpmdb_packages` is list_rpmdb_packages() of the same
    tree, `trivy_log` Trivy's stderr (its WARN lines carry "Unsupported os" and the like).

    check_os=False is for trees that are not an installed root (the ISO's contents): no OS,
    package and count failures then.
    """
    target = str(trivy_json.get("ArtifactName", ""))
    os_info = (trivy_json.get("Metadata") or {}).get("OS") or {}
    os_family = str(os_info.get("Family") or "")
    os_name = str(os_info.get("Name") or "")
    os_eosl = bool(os_info.get("EOSL"))
    results = trivy_json.get("Results") or []

    packages = [
        pkg
        for result in results
        if result.get("Class") == "os-pkgs"
        for pkg in result.get("Packages") or []
    ]
    package_names = sorted(package_nvra(pkg) for pkg in packages)
    vulnerabilities = sorted(
        (
            Vulnerability(
                id=vuln.get("VulnerabilityID", ""),
                package=vuln.get("PkgName", ""),
                installed=vuln.get("InstalledVersion", ""),
                fixed=vuln.get("FixedVersion", ""),
                severity=vuln.get("Severity", "UNKNOWN"),
                title=vuln.get("Title", ""),
            )
            for result in results
            for vuln in result.get("Vulnerabilities") or []
        ),
        key=lambda v: (SEVERITIES.index(v.severity) if v.severity in SEVERITIES else 9, v.id),
    )
    secrets = sorted(
        Secret(
            path=result.get("Target", ""),
            rule=secret.get("RuleID", ""),
            severity=secret.get("Severity", "UNKNOWN"),
            title=secret.get("Title", ""),
        )
        for result in results
        for secret in result.get("Secrets") or []
    )
    by_severity = Counter(v.severity for v in vulnerabilities)
    non_vendor = sorted(
        package_nvra(pkg)
        for pkg in packages
        if (pkg.get("Repository") or {}).get("Class") == "third-party" or not pkg.get("Maintainer")
    )

    warnings = trivy_warnings(trivy_log)
    failures: list[str] = []
    if check_os:
        failures = os_failures(target, os_family, os_name, os_eosl, warnings)
        failures += package_failures(target, package_names, rpmdb_packages)
    if non_vendor:
        warnings.append(
            f"{len(non_vendor)} package(s) without a distro vendor are listed but not matched "
            f"against OS advisories: {', '.join(non_vendor)}"
        )
    return ScanSummary(
        target=target,
        os_family=os_family,
        os_name=os_name,
        os_eosl=os_eosl,
        package_count=len(packages),
        rpmdb_package_count=len(rpmdb_packages),
        vulnerabilities_by_severity={s: by_severity.get(s, 0) for s in SEVERITIES},
        vulnerabilities=vulnerabilities,
        secrets=secrets,
        non_vendor_packages=non_vendor,
        failures=failures,
        warnings=warnings,
    )


def package_nvra(pkg: dict[str, Any]) -> str:
    release = f"-{pkg['Release']}" if pkg.get("Release") else ""
    arch = f".{pkg['Arch']}" if pkg.get("Arch") else ""
    return f"{pkg.get('Name', '')}-{pkg.get('Version', '')}{release}{arch}"


def trivy_warnings(trivy_log: str) -> list[str]:
    """Trivy's WARN lines, timestamp dropped."""
    found = []
    for line in trivy_log.splitlines():
        match = WARN_LINE.match(line.strip())
        if match:
            found.append("trivy: " + " ".join(match.group("text").split()))
    return found


def os_failures(target: str, family: str, name: str, eosl: bool, warnings: list[str]) -> list[str]:
    failures = []
    if family.lower() in UNKNOWN_FAMILIES:
        failures.append(
            f"trivy detected no OS in {target} (OS family empty): not an installed root, or its "
            f"etc/os-release is missing or unreadable"
        )
    unsupported = [w for w in warnings if UNSUPPORTED_OS.search(w)]
    if unsupported:
        failures.append(
            f"trivy reports unsupported os {family} {name}: no OS advisories were matched; use "
            f"a trivy that supports it ({unsupported[0]})"
        )
    end_of_life = [w for w in warnings if END_OF_LIFE.search(w)]
    if eosl or end_of_life:
        failures.append(
            f"OS {family} {name} is end-of-life (trivy EOSL): its vendor publishes no more "
            f"advisories, so a clean scan means nothing; move the product to a supported release"
        )
    return failures


def package_failures(
    target: str, trivy_packages: list[str], rpmdb_packages: list[str]
) -> list[str]:
    trivy_set = {p for p in trivy_packages if not p.startswith(NOT_SOFTWARE)}
    rpmdb_set = {p for p in rpmdb_packages if not p.startswith(NOT_SOFTWARE)}
    if not trivy_set:
        return [
            f"trivy found 0 OS packages in {target} (the rpmdb has {len(rpmdb_set)}): a scan of "
            f"nothing is not a pass; the rpm database must be at var/lib/rpm/rpmdb.sqlite"
        ]
    if trivy_set == rpmdb_set:
        return []
    only_rpmdb = sorted(rpmdb_set - trivy_set)
    only_trivy = sorted(trivy_set - rpmdb_set)
    return [
        f"trivy listed {len(trivy_set)} OS packages, the rpmdb has {len(rpmdb_set)}: only in "
        f"the rpmdb: {only_rpmdb or 'none'}; only in trivy's report: {only_trivy or 'none'}"
    ]
