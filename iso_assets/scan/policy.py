"""The release gate over a scan summary: which findings fail the release.

- a vulnerability whose severity is in scan.policy.fail_on fails, unless an allow-list entry
  for its id has not expired; the entry's reason is carried into the result so the report
  shows why it was let through. An entry applies up to the day before `expires` (on that
  day it has expired, like Trivy's own ignore-file `expired_at`), and an expired entry fails
  and says so;
- every secret fails: a private key or token in the image is never acceptable;
- the summary's own failures (no OS, EOL, zero packages, count mismatch) fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from iso_assets.scan.summary import ScanSummary, Vulnerability
from iso_assets.spec.models import AllowedVulnerability, ScanPolicy


@dataclass(frozen=True)
class AllowedFinding:
    id: str
    reason: str
    expires: date
    packages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyResult:
    passed: bool
    failures: list[str]
    allowed: list[AllowedFinding]

    def metadata(self) -> dict[str, object]:
        return asdict(self)


def evaluate(summary: ScanSummary, policy: ScanPolicy, *, today: date) -> PolicyResult:
    """Apply `policy` to `summary` on `today`; `passed` is True only without any failure."""
    failures = list(summary.failures)
    entries = {entry.id: entry for entry in policy.allow}
    allowed: dict[str, AllowedFinding] = {}

    for vuln in summary.vulnerabilities:
        if vuln.severity not in policy.fail_on:
            continue
        entry = entries.get(vuln.id)
        if entry is None:
            failures.append(f"{vuln.id} {vuln.severity} in {describe(vuln)}")
        elif today >= entry.expires:
            failures.append(
                f"{vuln.id} {vuln.severity} in {describe(vuln)}: its allow-list entry expired "
                f"on {entry.expires.isoformat()} (reason was: {entry.reason}); fix the package "
                f"or renew the entry in scan.policy.allow"
            )
        else:
            record = allowed.setdefault(vuln.id, allowed_finding(entry))
            record.packages.append(vuln.package)

    for secret in summary.secrets:
        failures.append(
            f"secret in {secret.path}: {secret.rule} ({secret.severity}, {secret.title}); "
            f"remove it from the image (secrets cannot be allow-listed)"
        )
    return PolicyResult(passed=not failures, failures=failures, allowed=list(allowed.values()))


def describe(vuln: Vulnerability) -> str:
    fixed = f", fixed in {vuln.fixed}" if vuln.fixed else ", no fix released"
    return f"{vuln.package} {vuln.installed}{fixed}"


def allowed_finding(entry: AllowedVulnerability) -> AllowedFinding:
    return AllowedFinding(id=entry.id, reason=entry.reason, expires=entry.expires)
