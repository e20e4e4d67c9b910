"""What a kickstart check reports: one `Finding` per problem, and the release policy.

A finding names the line (when there is one), the section it sits in, a stable rule id and a
message that says what to do. Secrets never go into a message: rules that look at password
values report the line and the command only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from iso_assets.errors import KickstartError

Severity = Literal["ERROR", "WARN"]

# Rules that come from pykickstart's own parser; every other rule is this project's lint.
PARSER_RULES = frozenset({"parse-error", "removed-command", "removed-option", "deprecated"})

_RELEASE = re.compile(r"^(?:el|rhel)(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    line: int | None
    section: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"line {self.line}" if self.line is not None else "",
                self.section or "",
            )
            if part
        )
        return f"{self.severity} {where + ' ' if where else ''}[{self.rule}] {self.message}"


def errors_of(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == "ERROR"]


def raise_on_errors(findings: list[Finding], source: str) -> None:
    """Raise KickstartError listing every ERROR in `findings` (warnings alone pass)."""
    errors = errors_of(findings)
    if not errors:
        return
    listing = "\n".join(f"  {finding}" for finding in errors)
    raise KickstartError(
        f"{source}: kickstart validation found {len(errors)} error(s); fix them in the "
        f"kickstart (or in product.yaml's kickstart section when it was rendered):\n{listing}",
        findings=list(findings),
    )


def release_major(release: str) -> int | None:
    """The RHEL major of an `el9`/`RHEL9` name; None for Fedora/DEVEL handlers (newest rules)."""
    match = _RELEASE.match(release.strip())
    return int(match.group(1)) if match else None


def is_at_least(release: str, major: int) -> bool:
    """True when `release` is RHEL `major` or newer; non-RHEL handlers count as newest."""
    found = release_major(release)
    return found is None or found >= major
