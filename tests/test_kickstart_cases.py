"""Kickstart validation against the field cases (shared/cases/ksv*, repo02) and self-made twins.

Each case is tested twice: from ../shared/cases via the `shared_dir` fixture, and from a small
input of our own under tests/data/kickstart/ with the same kind of fault, so a plain clone of
the repository still tests the rule.
"""

from __future__ import annotations

from pathlib import Path

import libcomps
import pytest

from iso_assets.errors import KickstartError
from iso_assets.kickstart import raise_on_errors, validate_kickstart
from iso_assets.kickstart.findings import PARSER_RULES, Finding
from iso_assets.process import run_tool
from iso_assets.repodata.facts import MediaFacts, RepoFacts
from iso_assets.repodata.read_facts import read_repo_facts

DATA = Path(__file__).parent / "data" / "kickstart"
SECRETS = ("qweqwe", "ChangeMe123", "hunter2hunter2", "NotAHashAtAll", "plaintext-secret-123")


def only(findings: list[Finding], rule: str, line: int | None = None) -> Finding:
    """The single finding of `rule` (on `line` when given); the assertion lists them all."""
    matches = [f for f in findings if f.rule == rule and (line is None or f.line == line)]
    listing = "\n".join(str(f) for f in findings)
    assert len(matches) == 1, f"want one {rule!r} on line {line}, got:\n{listing}"
    return matches[0]


def case_text(shared_dir: Path, case: str, name: str) -> str:
    return (shared_dir / "cases" / case / name).read_text()


def comps_facts(repo_id: str, comps_xml: Path, packages: set[str]) -> RepoFacts:
    comps = libcomps.Comps()
    assert comps.fromxml_f(str(comps_xml)) == 0, f"libcomps cannot parse {comps_xml}"
    return RepoFacts(
        repo_id=repo_id,
        packages=packages,
        groups={group.id for group in comps.groups},
        environments={env.id for env in comps.environments},
        has_group_metadata=True,
    )


# ksv01: removed and deprecated commands, per release ---------------------------------------


def test_ksv01_rhel9_install_error_others_warn(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv01-removed-commands", "legacy-el7.ks")
    findings = validate_kickstart(text, handler="RHEL9", media=None, release_version="9.4")

    install = only(findings, "removed-command", 1)
    assert install.severity == "ERROR" and "'install'" in install.message
    auth = only(findings, "deprecated", 5)
    assert auth.severity == "WARN" and "authselect" in auth.message
    utc = only(findings, "deprecated", 7)
    assert utc.severity == "WARN" and "--isUtc" in utc.message and "'--utc'" in utc.message
    anaconda = only(findings, "anaconda-section", 14)
    assert anaconda.severity == "WARN" and "pwpolicy" in anaconda.message
    assert anaconda.section == "%anaconda"
    # The only error for 9.x is `install`.
    assert [f.line for f in findings if f.severity == "ERROR"] == [1]


def test_ksv01_rhel8_only_warnings(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv01-removed-commands", "legacy-el7.ks")
    findings = validate_kickstart(text, handler="RHEL8", media=None, release_version="8.10")

    assert only(findings, "deprecated", 1).severity == "WARN"
    assert "authselect" in only(findings, "deprecated", 5).message
    assert not [f for f in findings if f.severity == "ERROR"]
    assert not [f for f in findings if f.rule == "anaconda-section"]


def test_ksv01_rhel10_all_errors(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv01-removed-commands", "legacy-el7.ks")
    findings = validate_kickstart(text, handler="RHEL10", media=None)

    assert only(findings, "removed-command", 1).severity == "ERROR"
    assert "authselect" in only(findings, "removed-command", 5).message
    assert "'--utc'" in only(findings, "removed-option", 7).message
    assert only(findings, "anaconda-section", 14).severity == "ERROR"
    with pytest.raises(KickstartError) as raised:
        raise_on_errors(findings, "legacy-el7.ks")
    for line in (1, 5, 7, 14):
        assert f"line {line} " in str(raised.value)


def test_self_made_legacy_commands() -> None:
    text = (DATA / "legacy-commands.ks").read_text()
    rhel9 = validate_kickstart(text, handler="RHEL9", media=None)
    assert only(rhel9, "removed-command", 2).severity == "ERROR"
    assert "authselect" in only(rhel9, "deprecated", 6).message
    assert "--isUtc" in only(rhel9, "deprecated", 7).message
    assert only(rhel9, "anaconda-section", 13).severity == "WARN"

    rhel10 = validate_kickstart(text, handler="RHEL10", media=None)
    assert {f.line for f in rhel10 if f.severity == "ERROR"} == {2, 6, 7, 13}


# ksv03: --iscrypted values that are not hashes, plaintext passwords --------------------------


def test_ksv03_bad_values_named_by_line_never_by_value(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv03-iscrypted-not-a-hash", "bad.ks")
    findings = validate_kickstart(text, handler="RHEL9", media=None)

    root = only(findings, "iscrypted-not-a-hash", 4)
    assert root.severity == "ERROR" and root.message.startswith("rootpw --iscrypted")
    user = only(findings, "iscrypted-not-a-hash", 5)
    assert user.severity == "ERROR" and user.message.startswith("user admin --iscrypted")
    rendered = "\n".join(str(f) for f in findings)
    assert not any(secret in rendered for secret in SECRETS)


def test_ksv03_good_passes(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv03-iscrypted-not-a-hash", "good.ks")
    assert validate_kickstart(text, handler="RHEL9", media=None) == []


def test_self_made_password_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    text = (DATA / "password-values.ks").read_text()
    findings = validate_kickstart(text, handler="RHEL9", media=None)

    assert "rootpw" in only(findings, "iscrypted-not-a-hash", 4).message
    assert "user ops" in only(findings, "iscrypted-not-a-hash", 5).message
    assert "user svc" in only(findings, "plaintext-password", 6).message
    assert "sshpw installer" in only(findings, "plaintext-password", 7).message
    with pytest.raises(KickstartError) as raised:
        raise_on_errors(findings, "password-values.ks")
    shown = str(raised.value) + caplog.text
    assert not any(secret in shown for secret in SECRETS)


def test_self_made_hashed_passwords_pass() -> None:
    text = (DATA / "password-hashed.ks").read_text()
    assert validate_kickstart(text, handler="RHEL9", media=None) == []


# ksv04: %packages resolved against the media even with --ignoremissing ------------------------


def test_ksv04_group_that_is_a_package(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv04-group-vs-package-ignoremissing", "pkgs.ks")
    # repo-facts.txt: groups [core], environments [minimal-environment], package acme-agent.
    media = MediaFacts(
        [
            RepoFacts("baseos", {"bash"}, {"core"}, {"minimal-environment"}, True),
            RepoFacts("product", {"acme-agent"}),
        ]
    )
    findings = validate_kickstart(text, handler="RHEL9", media=media, release_version="9.4")

    agent = only(findings, "group-is-package", 7)
    assert agent.severity == "ERROR"
    assert "no group 'acme-agent'; a package of that name exists - drop the '@'" in agent.message
    excluded = only(findings, "exclude-unresolved", 9)
    assert excluded.severity == "WARN" and "environments cannot be excluded" in excluded.message
    hidden = only(findings, "ignoremissing", 5)
    assert hidden.severity == "WARN" and "[@acme-agent]" in hidden.message
    assert [f.line for f in findings if f.severity == "ERROR"] == [7]


def test_self_made_package_items() -> None:
    text = (DATA / "package-items.ks").read_text()
    media = MediaFacts(
        [
            comps_facts("baseos", DATA / "comps-core.xml", {"bash", "widget-base"}),
            RepoFacts("product", {"widget-daemon", "widget-cli"}),
        ]
    )
    findings = validate_kickstart(text, handler="RHEL9", media=media, release_version="2.0")

    assert "drop the '@'" in only(findings, "group-is-package", 7).message
    assert "'nosuch-package'" in only(findings, "package-missing", 10).message
    assert "cannot be excluded" in only(findings, "exclude-unresolved", 11).message
    hidden = only(findings, "ignoremissing", 5).message
    assert "[@widget-daemon, nosuch-package]" in hidden
    assert {f.line for f in findings if f.severity == "ERROR"} == {7, 10}


# ksv05: %post --nochroot and chroot path rules ------------------------------------------------


def test_ksv05_post_paths(shared_dir: Path) -> None:
    text = case_text(shared_dir, "ksv05-post-nochroot-paths", "post.ks")
    findings = validate_kickstart(text, handler="RHEL9", media=None)

    target = only(findings, "nochroot-target-path", 11)
    assert target.severity == "ERROR" and target.section == "%post --nochroot"
    assert (
        "/etc/agent.conf" in target.message and "$ANA_INSTALL_PATH/etc/agent.conf" in target.message
    )
    unset = only(findings, "unset-variable", 12)
    assert unset.severity == "ERROR" and "$TARGET" in unset.message
    chroot = only(findings, "chroot-path", 16)
    assert chroot.severity == "ERROR" and chroot.section == "%post (chroot)"
    assert "/mnt/sysimage" in chroot.message and "/run/install/repo" in chroot.message
    log_path = only(findings, "post-log-path", 15)
    assert log_path.severity == "WARN" and "--log=/root/ks-post.log" in log_path.message
    # The --nochroot section's own --log under /mnt/sysimage (line 9) is correct there.
    assert not [f for f in findings if f.line == 9]


def test_self_made_post_paths() -> None:
    text = (DATA / "post-paths.ks").read_text()
    findings = validate_kickstart(text, handler="RHEL9", media=None)

    # Lines 10-11 use $ANA_INSTALL_PATH correctly; line 17 has '$5' inside single quotes.
    assert {f.line for f in findings} == {12, 13, 16, 18}
    assert "/root/widget-stamp" in only(findings, "nochroot-target-path", 12).message
    assert "$DEST_ROOT" in only(findings, "unset-variable", 13).message
    assert only(findings, "post-log-path", 16).severity == "WARN"
    assert "/run/install/repo" in only(findings, "chroot-path", 18).message


def test_self_made_hardening_off() -> None:
    findings = validate_kickstart(
        (DATA / "hardening-off.ks").read_text(), handler="RHEL9", media=None
    )
    assert only(findings, "selinux-not-enforcing", 5).severity == "ERROR"
    assert only(findings, "firewall-disabled", 6).severity == "ERROR"


# repo02: environment whose comps were lost while mirroring ------------------------------------


def _repo02_findings(media: MediaFacts) -> list[Finding]:
    packages_only = "lang en_US.UTF-8\nkeyboard us\ntimezone UTC --utc\nrootpw --lock\n"
    text = packages_only + "%packages\n@^minimal-environment\n%end\n"
    return validate_kickstart(text, handler="RHEL9", media=media, release_version="9.4")


def test_repo02_comps_lost_names_repo(shared_dir: Path) -> None:
    case = shared_dir / "cases" / "repo02-comps-lost"
    body = (case / "ks-packages.cfg").read_text()
    bad_mirror = MediaFacts([RepoFacts("baseos", {"foo"})])
    findings = validate_kickstart(body, handler="RHEL9", media=bad_mirror, release_version="9.4")

    missing = only(findings, "environment-missing", 2)
    assert missing.severity == "ERROR"
    assert "environment 'minimal-environment' not found in any repo for 9.4" in missing.message
    assert "repo 'baseos' has no group metadata" in missing.message
    assert "comps dropped during mirroring" in missing.message

    good_mirror = MediaFacts([comps_facts("baseos", case / "comps.xml", {"foo"})])
    assert _repo02_findings(good_mirror) == []


@pytest.mark.integration
def test_repo02_real_repodata_with_and_without_comps(
    tmp_path: Path, make_rpm, shared_dir: Path
) -> None:
    """createrepo_c with and without -g, facts read from the repodata, then validation."""
    comps = shared_dir / "cases" / "repo02-comps-lost" / "comps.xml"
    upstream, mirror = tmp_path / "upstream", tmp_path / "mirror-bad"
    for repo in (upstream, mirror):
        make_rpm("foo", "1.0", repo)
    run_tool(["createrepo_c", "-q", "-g", str(comps), str(upstream)])
    run_tool(["createrepo_c", "-q", str(mirror)])

    assert _repo02_findings(MediaFacts([read_repo_facts(upstream, "baseos")])) == []
    lost = _repo02_findings(MediaFacts([read_repo_facts(mirror, "baseos")]))
    assert "repo 'baseos' has no group metadata" in only(lost, "environment-missing").message


def test_self_made_comps_lost() -> None:
    kept = MediaFacts([comps_facts("baseos", DATA / "comps-core.xml", {"bash", "widget-base"})])
    assert _repo02_findings(kept) == []
    lost = MediaFacts([RepoFacts("baseos", {"bash"}), RepoFacts("appstream", {"vim"})])
    message = only(_repo02_findings(lost), "environment-missing").message
    assert "repos 'baseos', 'appstream' have no group metadata" in message


def test_parser_rules_are_the_pykickstart_layer() -> None:
    # The fixtures test relies on this split: lint rules never use a parser rule id.
    findings = validate_kickstart(
        (DATA / "legacy-commands.ks").read_text(), handler="RHEL9", media=None
    )
    assert {f.rule for f in findings} - PARSER_RULES == {"anaconda-section"}
