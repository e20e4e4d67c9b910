"""Pure pieces of the kickstart stage: crypt formats, boot options, sections, shell paths."""

from __future__ import annotations

import warnings

import pytest

from iso_assets.errors import KickstartError
from iso_assets.kickstart import lint_boot_args, raise_on_errors, validate_kickstart
from iso_assets.kickstart.findings import Finding, release_major
from iso_assets.kickstart.passwords import crypt_format, hash_length_ok, is_crypt_hash
from iso_assets.kickstart.scripts import written_paths
from iso_assets.kickstart.sections import split_sections
from iso_assets.process import run_tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt through Python 3.11's crypt module: bcrypt, yescrypt, scrypt


@pytest.mark.parametrize(
    ("flag", "name"), [("-1", "md5crypt"), ("-5", "sha256crypt"), ("-6", "sha512crypt")]
)
def test_openssl_hashes_are_recognised(flag: str, name: str) -> None:
    made = (
        run_tool(["openssl", "passwd", flag, "-salt", "saltsalt", "-stdin"], input_bytes=b"pw\n")
        .stdout.decode()
        .strip()
    )
    assert crypt_format(made) == name and hash_length_ok(made)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("$y$j9T$F5Jx5fExrKuPp53xLKQ..1", "yescrypt"),
        ("$gy$j9T$F5Jx5fExrKuPp53xLKQ..1", "gost-yescrypt"),
        ("$2b$05$abcdefghijklmnopqrstuu", "bcrypt"),
        ("$7$CU..../....abcdefghijklmnop", "scrypt"),
        ("$6$rounds=5000$abcdefgh", "sha512crypt"),
    ],
)
def test_libxcrypt_hashes_are_recognised(setting: str, name: str) -> None:
    made = crypt.crypt("pw", setting)
    assert made and not made.startswith("*"), f"libxcrypt cannot make {name} here"
    assert crypt_format(made) == name and hash_length_ok(made)


@pytest.mark.parametrize(
    "value",
    ["qweqwe", "locked", "$6$salt", "$6$salt$has spaces", "!!", "ab01234567890", "$9$x$y", ""],
)
def test_non_hashes_are_refused(value: str) -> None:
    assert not is_crypt_hash(value)


def test_truncated_hash_is_a_hash_of_wrong_length() -> None:
    made = run_tool(["openssl", "passwd", "-6", "-salt", "s", "-stdin"], input_bytes=b"pw\n")
    truncated = made.stdout.decode().strip()[:-1]
    assert is_crypt_hash(truncated) and not hash_length_ok(truncated)


@pytest.mark.parametrize(
    ("release", "severity"), [("el8", "WARN"), ("el9", "ERROR"), ("RHEL10", "ERROR")]
)
def test_unprefixed_boot_options(release: str, severity: str) -> None:
    args = [
        "console=ttyS0,115200",
        "ks=hd:LABEL=ACME:/ks.cfg",
        "inst.stage2=hd:LABEL=ACME",
        "stage2=hd:LABEL=ACME",
        "repo=hd:LABEL=ACME",
        "quiet",
    ]
    findings = lint_boot_args(args, release)
    assert [f.severity for f in findings] == [severity] * 3
    assert "use 'inst.ks=hd:LABEL=ACME:/ks.cfg'" in findings[0].message
    assert {f.rule for f in findings} == {"boot-arg-unprefixed"}


def test_prefixed_boot_options_pass() -> None:
    args = ["inst.stage2=hd:LABEL=ACME-9", "inst.ks=hd:LABEL=ACME-9:/ks.cfg", "inst.text"]
    assert lint_boot_args(args, "el9") == []


def test_boot_options_need_a_known_release() -> None:
    with pytest.raises(KickstartError, match="el<N>"):
        lint_boot_args(["ks=x"], "fedora")


def test_release_major() -> None:
    assert (release_major("el9"), release_major("RHEL10"), release_major("F40")) == (9, 10, None)


def test_sections_with_lines() -> None:
    text = "lang C\n%post --nochroot --log /tmp/x.log\n%foo is text here\necho\n%end\n"
    (post,) = split_sections(text)
    assert post.line == 2 and post.label == "%post --nochroot"
    assert post.option("--log") == "/tmp/x.log"
    assert post.body == [(3, "%foo is text here"), (4, "echo")]


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("cp -a /run/install/repo/x /etc/x", ["/etc/x"]),
        ('echo "a" >> /etc/motd && mkdir -p /opt/a /opt/b', ["/etc/motd", "/opt/a", "/opt/b"]),
        ("cat /proc/cmdline 2>/dev/null | tee /root/cmdline", ["/dev/null", "/root/cmdline"]),
        ("rpm -q bash", []),
    ],
)
def test_written_paths(line: str, paths: list[str]) -> None:
    assert written_paths(line) == paths


def test_unknown_handler_is_named() -> None:
    with pytest.raises(KickstartError, match="'RHEL99'"):
        validate_kickstart("lang C\n", handler="RHEL99", media=None)


def test_raise_on_errors_passes_warnings_only() -> None:
    warn = Finding("WARN", 3, None, "deprecated", "old")
    raise_on_errors([warn], "ks.cfg")
    error = Finding("ERROR", 4, "%packages", "package-missing", "'x': missing")
    with pytest.raises(KickstartError) as raised:
        raise_on_errors([warn, error], "ks.cfg")
    assert "ks.cfg" in str(raised.value) and "line 4 %packages [package-missing]" in str(
        raised.value
    )
    assert raised.value.findings == [warn, error]


def test_broken_section_stops_with_its_line() -> None:
    text = "lang C\nkeyboard us\n%packages\n@core\n"
    findings = validate_kickstart(text, handler="RHEL9", media=None)
    parse = [f for f in findings if f.rule == "parse-error"]
    assert len(parse) == 1 and parse[0].severity == "ERROR" and "%end" in parse[0].message


def test_every_bad_command_is_reported_not_only_the_first() -> None:
    text = "lang C\nnosuchcommand\nkeyboard us\ntimezone UTC --bogus\nrootpw --lock\n"
    findings = validate_kickstart(text, handler="RHEL9", media=None)
    assert [(f.line, f.rule) for f in findings] == [(2, "parse-error"), (4, "parse-error")]


def test_unbalanced_quote_is_a_finding_with_its_line() -> None:
    text = 'lang C\nkeyboard us\nbootloader --append="console=ttyS0\n%packages\n@core\n%end\n'
    findings = validate_kickstart(text, handler="RHEL9", media=None)
    assert [(f.line, f.rule, f.severity) for f in findings] == [(3, "parse-error", "ERROR")]
