"""Real third-party kickstarts (shared/fixtures/kickstarts) under the RHEL9 handler.

They are all valid RHEL 9 syntax, so the pykickstart layer reports no error; the project's
lint still has things to say about them (hardening, passwords), and those are pinned here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.kickstart import validate_kickstart
from iso_assets.kickstart.findings import PARSER_RULES, Finding
from iso_assets.repodata.facts import MediaFacts, RepoFacts

KICKSTARTS = [
    "almalinux-9-gencloud-x86_64.ks",
    "burrito-rocky9-offline-iso.ks.tpl",
    "kstests-packages-and-groups-1.ks",
    "rocky-9-container-base.ks",
    "rocky-9-container-minimal.ks",
    "rocky-9-genericcloud-base.ks",
]


def findings_for(shared_dir: Path, name: str) -> list[Finding]:
    text = (shared_dir / "fixtures" / "kickstarts" / name).read_text()
    return validate_kickstart(text, handler="RHEL9", media=None)


def by_rule(findings: list[Finding]) -> dict[str, list[tuple[int | None, str]]]:
    table: dict[str, list[tuple[int | None, str]]] = {}
    for finding in findings:
        table.setdefault(finding.rule, []).append((finding.line, finding.severity))
    return table


@pytest.mark.parametrize("name", KICKSTARTS)
def test_parser_layer_has_no_error(shared_dir: Path, name: str) -> None:
    findings = findings_for(shared_dir, name)
    parser_errors = [f for f in findings if f.rule in PARSER_RULES and f.severity == "ERROR"]
    assert parser_errors == [], "\n".join(str(f) for f in parser_errors)


def test_almalinux_gencloud(shared_dir: Path) -> None:
    rules = by_rule(findings_for(shared_dir, "almalinux-9-gencloud-x86_64.ks"))
    assert rules["firewall-disabled"] == [(9, "ERROR")]
    assert rules["plaintext-password"] == [(38, "ERROR")]  # rootpw --plaintext
    assert rules["include-not-checked"] == [(36, "WARN")]  # %include /tmp/partitions.ks


def test_burrito_template(shared_dir: Path) -> None:
    findings = findings_for(shared_dir, "burrito-rocky9-offline-iso.ks.tpl")
    rules = by_rule(findings)
    assert rules["selinux-not-enforcing"] == [(10, "ERROR")]
    # Template placeholders (%%ROOTPW_ENC%%) behind --iscrypted are not hashes.
    assert rules["iscrypted-not-a-hash"] == [(136, "ERROR"), (137, "ERROR")]
    assert rules["anaconda-section"] == [(171, "WARN")]
    deprecated = {f.line: f.message for f in findings if f.rule == "deprecated"}
    assert "timesource --ntp-disable" in deprecated[11]
    assert "'--inst-langs'" in deprecated[139]  # from the %packages header, line in the text


def test_kickstart_tests_packages_and_groups(shared_dir: Path) -> None:
    findings = findings_for(shared_dir, "kstests-packages-and-groups-1.ks")
    assert by_rule(findings) == {"include-not-checked": [(4, "WARN"), (5, "WARN"), (70, "WARN")]}


@pytest.mark.parametrize(
    ("name", "rootpw_line", "selinux_line"),
    [("rocky-9-container-base.ks", 12, 13), ("rocky-9-container-minimal.ks", 11, 12)],
)
def test_rocky_container(shared_dir: Path, name: str, rootpw_line: int, selinux_line: int) -> None:
    rules = by_rule(findings_for(shared_dir, name))
    # `rootpw --lock --iscrypted locked`: not a hash, but the account is locked.
    assert rules["iscrypted-not-a-hash"] == [(rootpw_line, "WARN")]
    assert rules["selinux-not-enforcing"] == [(selinux_line, "ERROR")]


def test_rocky_genericcloud(shared_dir: Path) -> None:
    rules = by_rule(findings_for(shared_dir, "rocky-9-genericcloud-base.ks"))
    assert rules == {
        "deprecated": [(7, "WARN")],  # auth --enableshadow
        "iscrypted-not-a-hash": [(15, "ERROR")],  # "thereisnopasswordanditslocked"
    }


def test_media_resolution_of_real_package_list(shared_dir: Path) -> None:
    text = (shared_dir / "fixtures" / "kickstarts" / "kstests-packages-and-groups-1.ks").read_text()
    media = MediaFacts(
        [
            RepoFacts(
                "appstream",
                {"podman", "google-noto-sans-fonts", "libblockdev-loop", "buildah", "tmux"},
                {"container-management"},
                set(),
                True,
            )
        ]
    )
    findings = validate_kickstart(text, handler="RHEL9", media=media, release_version="9.4")
    env = [f for f in findings if f.rule == "environment-missing"]
    assert [f.line for f in env] == [8]  # @^server-product-environment
    # The glob google-noto* matches a package; excludes of absent packages only warn.
    assert not [f for f in findings if f.rule == "package-missing"]
    assert {f.line for f in findings if f.rule == "exclude-unresolved"} == {28, 29, 32, 33, 34}
