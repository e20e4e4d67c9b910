"""Password rules: hashed passwords only, and every `--iscrypted` value really is a hash.

pykickstart accepts any text behind `--iscrypted`; Anaconda then writes it to /etc/shadow as
is, and the account cannot log in (or newer shadow-utils refuses it during the install). The
checks here look at the shape of the value and never put the value into a message or log.
"""

from __future__ import annotations

import re

from iso_assets.kickstart.findings import Finding, Severity
from iso_assets.kickstart.parse import CommandRecord, ParsedKickstart

_B64 = r"[./0-9A-Za-z]"
# crypt(3) formats with a `$id$`: salt and hash alphabets, and the hash length each produces.
CRYPT_FORMATS: dict[str, tuple[re.Pattern[str], int | None]] = {
    "md5crypt": (re.compile(rf"^\$1\${_B64}{{0,8}}\$({_B64}+)$"), 22),
    "sha256crypt": (re.compile(rf"^\$5\$(?:rounds=\d+\$)?{_B64}{{0,16}}\$({_B64}+)$"), 43),
    "sha512crypt": (re.compile(rf"^\$6\$(?:rounds=\d+\$)?{_B64}{{0,16}}\$({_B64}+)$"), 86),
    "bcrypt": (re.compile(rf"^\$2[abxy]?\$\d\d\${_B64}{{22}}({_B64}+)$"), 31),
    "yescrypt": (re.compile(rf"^\$y\${_B64}+\${_B64}+\$({_B64}+)$"), 43),
    "gost-yescrypt": (re.compile(rf"^\$gy\${_B64}+\${_B64}+\$({_B64}+)$"), 43),
    "scrypt": (re.compile(rf"^\$7\${_B64}{{11,}}\$({_B64}+)$"), 43),
    "sm3crypt": (re.compile(rf"^\$sm3\$(?:rounds=\d+\$)?{_B64}{{0,16}}\$({_B64}+)$"), 43),
}
WEAK_FORMATS = frozenset({"md5crypt"})
GRUB_PBKDF2 = re.compile(r"^grub\.pbkdf2\.sha512\.\d+\.[0-9A-F]+\.[0-9A-F]+$")
PASSWORD_COMMANDS = frozenset({"rootpw", "user", "sshpw", "bootloader"})
HASH_HINT = "generate one with `openssl passwd -6` or `mkpasswd -m yescrypt`"


def crypt_format(value: str) -> str | None:
    """The crypt(3) format of `value` (e.g. 'sha512crypt'), or None if it is not a hash."""
    for name, (pattern, _length) in CRYPT_FORMATS.items():
        if pattern.match(value):
            return name
    return None


def is_crypt_hash(value: str) -> bool:
    return crypt_format(value) is not None


def hash_length_ok(value: str) -> bool:
    """False when the hash part is shorter or longer than its format always produces."""
    name = crypt_format(value)
    if name is None:
        return False
    pattern, length = CRYPT_FORMATS[name]
    match = pattern.match(value)
    return length is None or (match is not None and len(match.group(1)) == length)


def _account_label(command: str, data: object) -> str:
    if command == "user":
        return f"user {getattr(data, 'name', '?')}"
    if command == "sshpw":
        return f"sshpw {getattr(data, 'username', '?')}"
    return command


def _value_problem(record: CommandRecord, label: str) -> tuple[Severity, str, str] | None:
    """(severity, rule, message) for one password-bearing command, or None when it is fine."""
    data = record.data
    password = getattr(data, "password", "") or ""
    if not password:
        return None
    if not getattr(data, "isCrypted", False):
        return (
            "ERROR",
            "plaintext-password",
            f"{label}: plaintext password (value not shown); hardening allows hashed passwords "
            f"only: use --iscrypted with a crypt(3) hash ({HASH_HINT})",
        )
    if record.name == "bootloader":
        if GRUB_PBKDF2.match(password):
            return None
        return (
            "ERROR",
            "iscrypted-not-a-hash",
            "bootloader --iscrypted: value (not shown) is not a GRUB PBKDF2 hash; generate one "
            "with `grub2-mkpasswd-pbkdf2`",
        )
    if not is_crypt_hash(password):
        # A locked account never uses the value, so it cannot lock anyone out.
        if getattr(data, "lock", False):
            return (
                "WARN",
                "iscrypted-not-a-hash",
                f"{label} --iscrypted: value (not shown) is not a crypt(3) hash; the account is "
                f"locked, so drop --iscrypted and the value",
            )
        return (
            "ERROR",
            "iscrypted-not-a-hash",
            f"{label} --iscrypted: value (not shown) is not a crypt(3) hash ($6$, $y$, $5$, ...); "
            f"no one could log in with it; {HASH_HINT}",
        )
    if not hash_length_ok(password):
        return (
            "WARN",
            "hash-length",
            f"{label} --iscrypted: the {crypt_format(password)} hash (not shown) has a hash part "
            f"of the wrong length; it was probably truncated or hand-edited",
        )
    if crypt_format(password) in WEAK_FORMATS:
        return (
            "WARN",
            "weak-hash",
            f"{label} --iscrypted: md5crypt is weak; use sha512crypt or yescrypt",
        )
    return None


def lint_passwords(parsed: ParsedKickstart) -> list[Finding]:
    """Findings for plaintext passwords and `--iscrypted` values that are not hashes."""
    findings: list[Finding] = []
    for record in parsed.commands:
        if record.name not in PASSWORD_COMMANDS or record.data is None:
            continue
        problem = _value_problem(record, _account_label(record.name, record.data))
        if problem is not None:
            severity, rule, message = problem
            findings.append(Finding(severity, record.line, None, rule, message))
    return findings
