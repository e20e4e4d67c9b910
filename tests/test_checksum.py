"""SHA256SUMS writing and verification, cross-checked with coreutils sha256sum -c."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from iso_assets.checksum import (
    read_sha256sums,
    sha256sums_line,
    verify_sha256sums,
    write_sha256sums,
)
from iso_assets.errors import IntegrityError
from iso_assets.process import run_tool

NAMES = ["acme-9.4-x86_64.iso", "with space.iso", "back\\slash.iso"]


def make_files(directory: Path) -> list[tuple[str, str]]:
    entries = []
    for number, name in enumerate(NAMES):
        data = f"payload {number}\n".encode() * 1000
        (directory / name).write_bytes(data)
        entries.append((hashlib.sha256(data).hexdigest(), name))
    return entries


def test_line_format_matches_sha256sum() -> None:
    digest = hashlib.sha256(b"").hexdigest()
    assert sha256sums_line(digest, "out.iso") == f"{digest}  out.iso\n"
    assert sha256sums_line(digest, "a\\b") == f"\\{digest}  a\\\\b\n"


def test_bad_digest_is_rejected() -> None:
    with pytest.raises(IntegrityError, match="out.iso"):
        sha256sums_line("XYZ", "out.iso")


def test_written_file_passes_coreutils_and_our_verifier(tmp_path: Path) -> None:
    entries = make_files(tmp_path)
    sums = write_sha256sums(tmp_path / "SHA256SUMS", entries)

    result = run_tool(["sha256sum", "-c", "--strict", sums.name], cwd=tmp_path)
    assert result.stdout.decode().count(": OK") == len(NAMES)
    assert sorted(verify_sha256sums(sums, tmp_path)) == sorted(NAMES)


def test_reads_what_coreutils_writes(tmp_path: Path) -> None:
    entries = make_files(tmp_path)
    written = run_tool(["sha256sum", "--", *NAMES], cwd=tmp_path).stdout
    (tmp_path / "SUMS").write_bytes(written)
    assert sorted(read_sha256sums(tmp_path / "SUMS")) == sorted(entries)
    assert sorted(verify_sha256sums(tmp_path / "SUMS", tmp_path)) == sorted(NAMES)


def test_tampered_and_missing_files_are_all_named(tmp_path: Path) -> None:
    entries = make_files(tmp_path)
    sums = write_sha256sums(tmp_path / "SHA256SUMS", entries)
    (tmp_path / NAMES[0]).write_bytes(b"changed")
    (tmp_path / NAMES[1]).unlink()

    assert run_tool(["sha256sum", "-c", sums.name], cwd=tmp_path, check=False).returncode == 1
    with pytest.raises(IntegrityError) as caught:
        verify_sha256sums(sums, tmp_path)
    assert f"{NAMES[0]}: sha256" in str(caught.value)
    assert f"{NAMES[1]}: listed in SHA256SUMS but missing" in str(caught.value)


def test_names_outside_the_directory_are_refused(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    (tmp_path / "SHA256SUMS").write_text(sha256sums_line(digest, "../escape.iso"))
    with pytest.raises(IntegrityError, match="outside"):
        verify_sha256sums(tmp_path / "SHA256SUMS", tmp_path)
