"""Verify RPM signatures against a repo's own keys, in a private rpm keyring.

The keys are imported into a temporary `--dbpath`, never the host's rpmdb, and the check
runs with `_pkgverify_level signature`: without it `rpmkeys --checksig` passes unsigned
packages (TOOLCHAIN-NOTES). Each package ends as ok, unsigned, signed by an unknown key, or
bad (a digest or signature that does not verify: corrupt or altered bytes).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from iso_assets.errors import SignatureError, ToolError
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

Status = Literal["ok", "unsigned", "unknown-key", "bad"]
CHECKSIG_BATCH = 200
RPM_ENV = {"LC_ALL": "C"}
_KEY_ID = re.compile(r"key ID ([0-9a-fA-F]+)", re.IGNORECASE)
_SIGNATURE_OK = re.compile(r"signature, key ID [0-9a-fA-F]+: OK$", re.IGNORECASE)


class RejectedPackagesError(SignatureError):
    """Raised when packages fail the repo's signature policy; `rejected` names them."""

    def __init__(self, message: str, *, rejected: list[str]) -> None:
        super().__init__(message)
        self.rejected = rejected


@dataclass(frozen=True)
class SignatureCheck:
    """What rpmkeys said about one package."""

    status: Status
    key_id: str | None
    detail: list[str]


def import_key_argv(dbpath: Path, key: Path) -> list[str]:
    return ["rpmkeys", "--dbpath", str(dbpath), "--import", str(key)]


def list_keys_argv(dbpath: Path) -> list[str]:
    return ["rpm", "--dbpath", str(dbpath), "-q", "gpg-pubkey", "--qf", "%{VERSION}\n"]


def checksig_argv(dbpath: Path, packages: Sequence[Path]) -> list[str]:
    return [
        "rpmkeys",
        "--dbpath",
        str(dbpath),
        "--define",
        "_pkgverify_level signature",
        "--checksig",
        "-v",
        *(str(p) for p in packages),
    ]


def signer_argv(dbpath: Path, package: Path) -> list[str]:
    """rpm -qp printing the header and legacy signatures (each "(none)" when absent)."""
    return [
        "rpm",
        "--dbpath",
        str(dbpath),
        "-qp",
        "--qf",
        "%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}|%{SIGPGP:pgpsig}|%{SIGGPG:pgpsig}\n",
        str(package),
    ]


def parse_checksig_output(text: str) -> dict[str, list[str]]:
    """`rpmkeys --checksig -v` output -> {package path as given: its indented result lines}."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            if current is not None:
                current.append(line.strip())
        elif line.endswith(":"):
            current = blocks.setdefault(line[:-1], [])
    return blocks


def classify_checksig(lines: list[str]) -> SignatureCheck:
    """Sort one package's result lines into ok / unsigned / unknown-key / bad."""
    bad = [line for line in lines if "BAD" in line]
    if bad:
        return SignatureCheck("bad", None, bad)
    nokey = [line for line in lines if line.endswith("NOKEY")]
    if nokey:
        match = _KEY_ID.search(nokey[0])
        return SignatureCheck("unknown-key", match.group(1) if match else None, nokey)
    if any(_SIGNATURE_OK.search(line) for line in lines):
        return SignatureCheck("ok", None, [])
    return SignatureCheck("unsigned", None, [line for line in lines if "ignature" in line])


class Keyring:
    """A private rpm keyring holding `keys`; use as a context manager."""

    def __init__(self, keys: Sequence[Path], *, repo_label: str) -> None:
        self.repo_label = repo_label
        self._tmp = tempfile.TemporaryDirectory(prefix="mirror-keyring-")
        self.dbpath = Path(self._tmp.name) / "rpmdb"
        self.dbpath.mkdir()
        self.env = {**RPM_ENV, "HOME": self._tmp.name}
        # key file name -> short key ids (an armored file may hold several keys)
        self.key_ids: dict[str, list[str]] = {}
        for key in keys:
            self._import(key)

    def __enter__(self) -> Keyring:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    @property
    def policy(self) -> str:
        names = [f"{name} ({', '.join(ids)})" for name, ids in self.key_ids.items()]
        return f"keys [{', '.join(names)}]"

    def _import(self, key: Path) -> None:
        if not key.is_file():
            raise SignatureError(
                f"mirror {self.repo_label}: gpg key file {key} does not exist; fix gpg_keys"
            )
        before = self._installed_key_ids()
        try:
            run_tool(import_key_argv(self.dbpath, key), env=self.env)
        except ToolError as exc:
            raise SignatureError(
                f"mirror {self.repo_label}: gpg key file {key} cannot be imported "
                f"(is it an armored public key?): {exc}"
            ) from exc
        self.key_ids[key.name] = sorted(set(self._installed_key_ids()) - set(before))

    def _installed_key_ids(self) -> list[str]:
        result = run_tool(list_keys_argv(self.dbpath), env=self.env, check=False)
        if result.returncode != 0:  # "package gpg-pubkey is not installed"
            return []
        return result.stdout.decode().split()

    def check(self, packages: Sequence[Path]) -> dict[Path, SignatureCheck]:
        """Check every package; a package rpmkeys did not report on counts as bad."""
        checks: dict[Path, SignatureCheck] = {}
        for start in range(0, len(packages), CHECKSIG_BATCH):
            batch = list(packages[start : start + CHECKSIG_BATCH])
            result = run_tool(checksig_argv(self.dbpath, batch), env=self.env, check=False)
            blocks = parse_checksig_output(result.stdout.decode(errors="replace"))
            for package in batch:
                lines = blocks.get(str(package))
                checks[package] = (
                    classify_checksig(lines)
                    if lines is not None
                    else SignatureCheck("bad", None, [result.stderr.decode(errors="replace")])
                )
        return checks

    def signer_key_id(self, package: Path) -> str | None:
        """The long key id of the package's signature, read from its header."""
        result = run_tool(signer_argv(self.dbpath, package), env=self.env, check=False)
        match = _KEY_ID.search(result.stdout.decode(errors="replace"))
        return match.group(1) if match else None


def verify_signatures(
    packages: Mapping[str, Path],
    *,
    repo_label: str,
    keys: Sequence[Path],
    allow_unsigned: bool,
) -> str:
    """Check `packages` (display name -> file) against `keys`; return the policy applied.

    Raises RejectedPackagesError listing every package that is unsigned, signed by a key not in
    `keys`, or fails its digest check, each with the policy. With `allow_unsigned` nothing is
    checked and the returned policy says so.
    """
    if allow_unsigned:
        log.warning(
            "mirror %s: signatures not checked (allow_unsigned: true) for %d packages",
            repo_label,
            len(packages),
        )
        return "allow_unsigned (signatures not checked)"

    started = time.monotonic()
    with Keyring(keys, repo_label=repo_label) as keyring:
        checks = keyring.check(list(packages.values()))
        problems, rejected = [], []
        for name, path in packages.items():
            check = checks[path]
            if check.status == "ok":
                continue
            if check.status == "unsigned":
                reason = "is not signed"
            elif check.status == "unknown-key":
                key_id = keyring.signer_key_id(path) or check.key_id or "?"
                reason = f"is signed by key {key_id}, which is not among the repo's keys"
            else:
                reason = f"fails its digest/signature check ({check.detail[0]})"
            rejected.append(name)
            problems.append(
                f"mirror {repo_label}: {name} {reason} (policy: {keyring.policy}); "
                f"package not published"
            )
        policy = keyring.policy
    if problems:
        raise RejectedPackagesError(
            "\n".join(problems) + "\nadd the signer's public key to gpg_keys only if you trust it, "
            "or set allow_unsigned: true on the repo to opt out (recorded)",
            rejected=rejected,
        )
    log.info(
        "mirror %s: %d package signatures verified against %s in %.2f s",
        repo_label,
        len(packages),
        policy,
        time.monotonic() - started,
    )
    return policy
