"""Validate a kickstart for a target release: pykickstart's parser plus this project's lint.

Layers, in the order they report:
1. pykickstart with the handler of the release (RHEL8/9/10): syntax, removed commands and
   options (ERROR), deprecations (WARN), each with its line (see parse.py);
2. lint: `%anaconda`/`pwpolicy` (pykickstart does not flag it), passwords (hashed only,
   `--iscrypted` values really hashes), hardening (SELinux enforcing, firewall on),
   `%packages` resolved against the media, %post path rules, `%include` not checked.

The result is a list of findings; `raise_on_errors` turns ERRORs into a KickstartError.
"""

from __future__ import annotations

import logging
import time

from pykickstart.constants import SELINUX_ENFORCING

from iso_assets.kickstart.findings import (
    Finding,
    Severity,
    errors_of,
    is_at_least,
    release_major,
)
from iso_assets.kickstart.packages import lint_packages
from iso_assets.kickstart.parse import ParsedKickstart, parse_kickstart
from iso_assets.kickstart.passwords import lint_passwords
from iso_assets.kickstart.scripts import lint_post_scripts
from iso_assets.kickstart.sections import Section, directive_lines, split_sections
from iso_assets.repodata.facts import MediaFacts

log = logging.getLogger(__name__)


def _lint_anaconda_section(section: Section, handler: str) -> list[Finding]:
    # Anaconda deprecated %anaconda/pwpolicy in RHEL 9 and dropped it in RHEL 10; pykickstart
    # 3.78 still accepts the section silently for every handler.
    major = release_major(handler)
    if major is not None and major < 9:
        return []
    severity: Severity = "ERROR" if is_at_least(handler, 10) else "WARN"
    state = "removed" if severity == "ERROR" else "deprecated"
    uses_pwpolicy = any(raw.split()[:1] == ["pwpolicy"] for _line, raw in section.body)
    what = "'%anaconda' / 'pwpolicy'" if uses_pwpolicy else "'%anaconda'"
    return [
        Finding(
            severity,
            section.line,
            section.name,
            "anaconda-section",
            f"{what} is {state} in {handler} (pykickstart does not flag it, Anaconda does at "
            f"install time); remove the section and set password policy with PAM in %post",
        )
    ]


def _lint_hardening(parsed: ParsedKickstart) -> list[Finding]:
    findings: list[Finding] = []
    selinux = parsed.last("selinux")
    if selinux is not None and parsed.handler.selinux.selinux != SELINUX_ENFORCING:
        findings.append(
            Finding(
                "ERROR",
                selinux.line,
                None,
                "selinux-not-enforcing",
                f"'{' '.join(selinux.args)}': hardening requires 'selinux --enforcing'",
            )
        )
    firewall = parsed.last("firewall")
    if firewall is not None and parsed.handler.firewall.enabled is False:
        findings.append(
            Finding(
                "ERROR",
                firewall.line,
                None,
                "firewall-disabled",
                "'firewall --disabled': hardening requires 'firewall --enabled' "
                "(open what the product needs with --service= / --port=)",
            )
        )
    return findings


INCLUDE_NOTES = {
    "%include": "the included file (often written by %pre inside the installer)",
    "%ksappend": "the appended file (read by Anaconda before parsing)",
}


def _lint_includes(text: str) -> list[Finding]:
    return [
        Finding(
            "WARN",
            line,
            None,
            "include-not-checked",
            f"{directive} is not followed: {note} is not validated",
        )
        for directive, note in INCLUDE_NOTES.items()
        for line in directive_lines(text, directive)
    ]


def validate_kickstart(
    text: str,
    *,
    handler: str,
    media: MediaFacts | None,
    release_version: str | None = None,
) -> list[Finding]:
    """Every finding for kickstart `text` under pykickstart `handler` (e.g. "RHEL9").

    `media`: the package/comps facts of the repos on the ISO; when None, `%packages` items are
    not resolved. `release_version`: the product version, named in messages.
    Raises KickstartError only for an unknown handler name.
    """
    started = time.monotonic()
    parsed = parse_kickstart(text, handler)
    findings = list(parsed.findings)

    for section in split_sections(text):
        if section.name == "%anaconda":
            findings.extend(_lint_anaconda_section(section, handler))
        elif section.name == "%packages":
            findings.extend(lint_packages(section, media, release_version))
        elif section.name == "%post":
            findings.extend(lint_post_scripts(section))
    findings.extend(lint_passwords(parsed))
    findings.extend(_lint_hardening(parsed))
    findings.extend(_lint_includes(text))

    findings.sort(key=lambda f: (f.line if f.line is not None else 0, f.rule))
    log.info(
        "validated kickstart with %s%s: %d error(s), %d warning(s) in %.2fs",
        handler,
        f" for {release_version}" if release_version else "",
        len(errors_of(findings)),
        len(findings) - len(errors_of(findings)),
        time.monotonic() - started,
    )
    return findings
