"""Installer boot options: the legacy spellings without `inst.` are ignored from RHEL 9 on.

RHEL 8 still honoured `ks=`, `stage2=`, `repo=` (with a deprecation notice); RHEL 9's dracut
and Anaconda ignore them, so an ISO whose boot entry says `ks=hd:LABEL=...:/ks.cfg` boots into
an interactive install instead of the kickstart.
"""

from __future__ import annotations

from iso_assets.errors import KickstartError
from iso_assets.kickstart.findings import Finding, Severity, release_major

# Anaconda options that exist only with the `inst.` prefix on RHEL 9 and later.
PREFIXED_ONLY = frozenset(
    {
        "ks",
        "ksdevice",
        "kssendmac",
        "kssendsn",
        "stage2",
        "repo",
        "method",
        "updates",
        "proxy",
        "noverifyssl",
        "vnc",
        "vncpassword",
        "vncconnect",
        "lang",
        "keymap",
        "sshd",
        "syslog",
        "virtiolog",
    }
)


def lint_boot_args(args: list[str], release: str) -> list[Finding]:
    """Findings for kernel command line words of an installer boot entry.

    `release` is the product's target (`el8`, `el9`, `el10`, or a handler name like `RHEL9`).
    Unprefixed Anaconda options are ERRORs on el9+ (ignored there) and WARNs on el8.
    """
    major = release_major(release)
    if major is None:
        raise KickstartError(f"release {release!r} is not an el<N>/RHEL<N> name (e.g. el9)")
    severity: Severity = "ERROR" if major >= 9 else "WARN"
    effect = f"RHEL {major} ignores it" if major >= 9 else "deprecated in RHEL 8"

    findings: list[Finding] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if key not in PREFIXED_ONLY:
            continue
        replacement = f"inst.repo={value}" if key == "method" else f"inst.{key}{sep}{value}"
        findings.append(
            Finding(
                severity,
                None,
                "boot args",
                "boot-arg-unprefixed",
                f"'{key}{sep}' without the 'inst.' prefix: {effect}; use '{replacement}'",
            )
        )
    return findings
