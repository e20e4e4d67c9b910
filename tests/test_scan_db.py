"""check_db: the air-gapped Trivy DB cache is checked before Trivy runs (case trivy02)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from iso_assets.scan.db import TRIVY_DB_SCHEMA, check_db, parse_time
from iso_assets.scan.errors import TrivyDbError
from iso_assets.scan.testing_db import FixtureAdvisory, write_trivy_db

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADVISORY = FixtureAdvisory("CVE-2099-0001", "openssl-libs", "3.0.7-25.el9")
CASE = "cases/trivy02-airgap-db-layout"


def write_bundle(
    db_dir: Path, files: set[str], *, schema: int = TRIVY_DB_SCHEMA, days_old: float = 1
) -> None:
    """An offline bundle's files in `db_dir` (a subset of trivy.db, metadata.json)."""
    staging = db_dir.parent / f".bundle-{db_dir.name}"
    made = write_trivy_db(
        staging, [ADVISORY], updated_at=NOW - timedelta(days=days_old), schema_version=schema
    )
    db_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        (made / name).rename(db_dir / name)


# --- the shared case: layouts.txt + expected.txt + config.yaml -------------------------------


@dataclass
class Layout:
    """One layout of layouts.txt: the files copied in, the --cache-dir used, schema and age."""

    files: set[str] = field(default_factory=set)
    cache_dir: str | None = None
    schema: int = TRIVY_DB_SCHEMA
    days_old: int = 1


def parse_layouts(text: str) -> dict[str, Layout]:
    """Layout letter -> Layout, as layouts.txt describes each."""
    layouts: dict[str, Layout] = {}
    current = Layout()
    for line in text.splitlines():
        header = re.match(r"^# ([A-Z]): (.*)$", line)
        if header:
            current = layouts.setdefault(header.group(1), Layout())
            ages = re.search(r"(\d+) days in the past", line)
            if ages:
                current.days_old = int(ages.group(1))
            continue
        stripped = line.strip()
        if stripped.startswith("/"):
            folder, _, names = stripped.split()[0].rpartition("/")
            current.files |= {f"{folder}/{name}" for name in names.strip("{}").split(",")}
            version = re.search(r'"Version": (\d+)', stripped)
            if version:
                current.schema = int(version.group(1))
        cache = re.search(r"--cache-dir (\S+)", stripped)
        if cache:
            current.cache_dir = cache.group(1)
    return layouts


def parse_expected(text: str) -> dict[str, str]:
    """Layout letter -> expected error text (wrapped lines joined)."""
    expected: dict[str, str] = {}
    letter = None
    for line in text.splitlines():
        start = re.match(r"^\s+([A-Z]): ERROR (.*)$", line)
        if start:
            letter = start.group(1)
            expected[letter] = start.group(2).strip()
        elif letter and line.startswith("     ") and line.strip():
            expected[letter] += " " + line.strip()
        else:
            letter = None
    return expected


def expected_pattern(text: str) -> str:
    """The expected text as a regex: <cache_dir> stands for itself or the configured path,
    <date> for a YYYY-MM-DD date."""
    pattern = re.escape(text)
    pattern = pattern.replace(re.escape("<cache_dir>"), r"(?:<cache_dir>|/srv/trivy-cache)")
    return pattern.replace(re.escape("<date>"), r"(?P<date>\d{4}-\d{2}-\d{2})")


def test_case_layouts_are_named_before_trivy_runs(shared_dir: Path, tmp_path: Path) -> None:
    case = shared_dir / CASE
    config = yaml.safe_load((case / "config.yaml").read_text())["scan"]["trivy"]
    max_age = config["max_db_age_days"]
    layouts = parse_layouts((case / "layouts.txt").read_text())
    expected = parse_expected((case / "expected.txt").read_text())
    assert set(layouts) == {"A", "B", "C", "D", "E"}
    assert set(expected) == {"B", "C", "D", "E"}

    for letter, layout in layouts.items():
        root = tmp_path / letter
        # E lists no files: it is layout A with an old DB.
        by_folder: dict[str, set[str]] = {}
        for path in layout.files or layouts["A"].files:
            folder, _, name = path.rpartition("/")
            by_folder.setdefault(folder, set()).add(name)
        for folder, names in by_folder.items():
            write_bundle(
                root / folder.lstrip("/"), names, schema=layout.schema, days_old=layout.days_old
            )
        cache_dir = root / (layout.cache_dir or config["cache_dir"]).lstrip("/")

        if letter == "A":
            info = check_db(cache_dir, max_age_days=max_age, now=NOW)
            assert info.schema_version == TRIVY_DB_SCHEMA
            assert info.updated_at == NOW - timedelta(days=1)
            continue
        with pytest.raises(TrivyDbError) as caught:
            check_db(cache_dir, max_age_days=max_age, now=NOW)
        message = str(caught.value).replace(str(root), "")
        match = re.search(expected_pattern(expected[letter]), message)
        assert match, f"layout {letter}: {message!r} does not say {expected[letter]!r}"
        if "date" in match.groupdict():
            assert match["date"] == f"{NOW - timedelta(days=layout.days_old):%Y-%m-%d}"


# --- the same layouts and more, self-made ---------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "cache", "message"),
    [
        (
            {"db": {"trivy.db", "metadata.json"}},
            "db",
            "trivy cache_dir {cache} contains trivy.db directly; cache_dir must be the parent "
            "(expected <cache_dir>/db/trivy.db and <cache_dir>/db/metadata.json)",
        ),
        (
            {"db": {"trivy.db"}},
            "",
            "{cache}/db/metadata.json missing; copy both files from the offline bundle",
        ),
        (
            {"db": {"metadata.json"}},
            "",
            "{cache}/db/trivy.db missing; copy both files from the offline bundle",
        ),
        ({}, "absent", "trivy cache_dir {cache} does not exist"),
    ],
)
def test_misplaced_or_incomplete_cache(
    tmp_path: Path, layout: dict[str, set[str]], cache: str, message: str
) -> None:
    for folder, names in layout.items():
        write_bundle(tmp_path / folder, names)
    cache_dir = tmp_path / cache if cache else tmp_path
    with pytest.raises(TrivyDbError) as caught:
        check_db(cache_dir, max_age_days=7, now=NOW)
    assert message.format(cache=cache_dir) in str(caught.value)


def test_old_and_newer_schema_are_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path / "old" / "db", {"trivy.db", "metadata.json"}, schema=1)
    with pytest.raises(TrivyDbError, match="trivy DB schema 1, this trivy needs 2; refresh"):
        check_db(tmp_path / "old", max_age_days=7, now=NOW)
    write_bundle(tmp_path / "new" / "db", {"trivy.db", "metadata.json"}, schema=3)
    with pytest.raises(TrivyDbError, match="schema 3, this trivy needs 2; use an offline bundle"):
        check_db(tmp_path / "new", max_age_days=7, now=NOW)


def test_db_older_than_max_age_is_refused_and_a_fresh_one_accepted(tmp_path: Path) -> None:
    write_bundle(tmp_path / "db", {"trivy.db", "metadata.json"}, days_old=30)
    with pytest.raises(TrivyDbError) as caught:
        check_db(tmp_path, max_age_days=7, now=NOW)
    built = f"{NOW - timedelta(days=30):%Y-%m-%d}"
    assert f"trivy DB built {built} is older than max_db_age_days=7 (30.0 days old)" in str(
        caught.value
    )
    info = check_db(tmp_path, max_age_days=31, now=NOW)
    assert round(info.age_days) == 30
    assert info.metadata()["trivy_db_schema"] == 2


def test_empty_or_foreign_trivy_db_is_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path / "db", {"trivy.db", "metadata.json"})
    (tmp_path / "db" / "trivy.db").write_bytes(b"")
    with pytest.raises(TrivyDbError, match=r"trivy.db is empty \(0 bytes\)"):
        check_db(tmp_path, max_age_days=7, now=NOW)
    (tmp_path / "db" / "trivy.db").write_bytes(b"\x1f\x8b" + bytes(4094))  # a gzip, not bolt
    with pytest.raises(TrivyDbError, match="is not a BoltDB file"):
        check_db(tmp_path, max_age_days=7, now=NOW)


def test_go_times_with_nanoseconds_parse() -> None:
    metadata = {"UpdatedAt": "2026-02-28T06:12:49.123456789Z", "NextUpdate": "0001-01-01T00:00:00Z"}
    parsed = parse_time(metadata, "UpdatedAt", Path("metadata.json"))
    assert parsed == datetime(2026, 2, 28, 6, 12, 49, 123456, tzinfo=UTC)
    assert parse_time(metadata, "NextUpdate", Path("metadata.json")) is None
