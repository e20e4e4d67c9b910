"""The one partition-key validator (case dag04-partition-key-commas)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iso_assets.errors import PartitionKeyError
from iso_assets.partitions import version_key, version_sort_key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("1.0.0", "1.0.0"),
        ("9.4", "9.4"),
        ("8.10", "8.10"),
        ("9.4-eus", "9.4-eus"),
        ("v2.1.3", "2.1.3"),
    ],
)
def test_valid_versions_become_keys(raw: str, key: str) -> None:
    assert version_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("9.4,eus", "','"),
        ('{"major":9,"minor":4}', "JSON"),
        ("9.4 beta", "whitespace"),
        ("9", "not a valid"),
        ("1.0.0-Beta", "not a valid"),
        ("9." + "1" * 70, "at most 64"),
        ("", "empty"),
    ],
)
def test_bad_versions_are_rejected_with_the_rule(raw: str, words: str) -> None:
    with pytest.raises(PartitionKeyError) as error:
        version_key(raw)
    assert words in str(error.value)


def test_nine_ten_is_not_nine_one() -> None:
    assert version_key("9.10") != version_key("9.1")
    assert sorted(["9.10", "9.2", "9.1"], key=version_sort_key) == ["9.1", "9.2", "9.10"]


def test_distribution_prefix_maps_to_one_key() -> None:
    assert version_key("RHEL-9.4") == version_key("9.4") == "9.4"


def test_shared_case_keys_table(shared_dir: Path) -> None:
    rows = (shared_dir / "cases/dag04-partition-key-commas/keys.tsv").read_text().splitlines()
    checked = 0
    for row in rows:
        if row.startswith("#") or not row.strip():
            continue
        raw, expected = row.split("\t", 1)
        if expected.startswith("ERROR or normalise"):
            assert version_key(raw) == re.search(r"normalise to (\S+)", expected).group(1)
        elif expected.startswith("ERROR"):
            with pytest.raises(PartitionKeyError):
                version_key(raw)
        else:
            assert version_key(raw) == expected.split()[0]
        checked += 1
    assert checked == 7
