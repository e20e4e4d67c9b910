"""Volume label policy: length, character set, d-character warnings (case ks02)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.errors import IsoBuildError
from iso_assets.iso.label import unescape_label, validate_volume_id
from iso_assets.process import run_tool

DATA = Path(__file__).parent / "data" / "iso"


def read_label_table(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            label, verdict, _why = line.split("\t")
            rows.append((label, verdict))
    return rows


def verdict_of(label: str) -> str:
    try:
        warnings = validate_volume_id(label, field="iso.volid")
    except IsoBuildError:
        return "reject"
    return "warn" if warnings else "ok"


# labels.tsv marks this one "ok, exactly 32 characters", but it has 33: xorriso 1.5.4 aborts
# with "-volid: Text too long (33 > 32)", so the policy must reject it.
CASE_ERRATUM = "ACME_9_4_X86_64_ABCDEFGHIJKLMNOPQ"


def test_case_ks02_every_label_gets_its_verdict(shared_dir: Path) -> None:
    rows = read_label_table(shared_dir / "cases/ks02-volid-policy/labels.tsv")
    assert len(rows) == 6
    expected = [(label, "reject" if label == CASE_ERRATUM else verdict) for label, verdict in rows]
    assert [(label, verdict_of(label)) for label, _ in rows] == expected


def test_case_ks02_erratum_label_really_is_too_long_for_xorriso(tmp_path: Path) -> None:
    assert len(CASE_ERRATUM) == 33
    (tmp_path / "tree").mkdir()
    result = run_tool(
        [
            "xorriso",
            "-as",
            "mkisofs",
            "-V",
            CASE_ERRATUM,
            "-o",
            tmp_path / "x.iso",
            tmp_path / "tree",
        ],
        check=False,
    )
    assert result.returncode != 0
    assert b"Text too long (33 > 32)" in result.stderr
    assert not (tmp_path / "x.iso").exists()


def test_self_made_label_table() -> None:
    rows = read_label_table(DATA / "labels.tsv")
    assert [(label, verdict_of(label)) for label, _ in rows] == rows


def test_case_ks02_too_long_message_names_field_length_and_rule(shared_dir: Path) -> None:
    expected = (shared_dir / "cases/ks02-volid-policy/expected.txt").read_text()
    with pytest.raises(IsoBuildError) as caught:
        validate_volume_id("ACME-Server-Installer-9.4-x86_64-2024Q3", field="iso.volid")
    message = str(caught.value)
    assert message == (
        "iso.volid 'ACME-Server-Installer-9.4-x86_64-2024Q3' is 39 characters; ISO 9660 volume "
        "IDs are at most 32 and the same string is used in inst.stage2/inst.ks hd:LABEL="
    )
    # The case text wraps the same sentence over two lines.
    assert " ".join(message.split()) in " ".join(expected.split())


def test_space_is_rejected_with_the_field_name() -> None:
    with pytest.raises(IsoBuildError, match=r"iso.volume_id 'GNOME Next' contains space"):
        validate_volume_id("GNOME Next")


def test_warning_names_the_odd_characters() -> None:
    (warning,) = validate_volume_id("acme-9.4")
    assert "iso.volume_id 'acme-9.4'" in warning
    assert "'.'" in warning and "'a'" in warning


def test_empty_label_is_rejected() -> None:
    with pytest.raises(IsoBuildError, match="empty"):
        validate_volume_id("")


def test_unescape_label_turns_hex_escapes_back() -> None:
    assert unescape_label(r"GNOME\x20Next") == "GNOME Next"
    assert unescape_label("ACME-9-4-X86_64") == "ACME-9-4-X86_64"
