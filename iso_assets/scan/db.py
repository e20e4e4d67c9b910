"""Check an air-gapped Trivy DB cache before Trivy runs (case trivy02).

Trivy itself answers a misplaced or stale offline DB with "--skip-db-update cannot be
specified on the first run" or an old-schema error, or, without --skip-db-update, tries to
download and hangs on network timeouts. So the cache is checked here first and every problem
is named: cache_dir pointing at the db/ folder itself, a missing metadata.json or trivy.db,
an empty or non-BoltDB trivy.db, a schema other than this Trivy's, a DB older than
scan.max_db_age_days. The facts found (schema, UpdatedAt, ...) go into the scan metadata so a
report says which DB it used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from iso_assets.scan.errors import TrivyDbError

log = logging.getLogger(__name__)

# The DB schema trivy 0.76 reads (trivy-db SchemaVersion); bump with the trivy pin.
TRIVY_DB_SCHEMA = 2
DB_FILE = "trivy.db"
METADATA_FILE = "metadata.json"
BOLT_MAGIC_OFFSET = 16  # after the 16-byte page header of meta page 0
BOLT_MAGIC = (0xED0CDAED).to_bytes(4, "little")


@dataclass(frozen=True)
class DbInfo:
    """What metadata.json says about the DB, and how old it is at scan time."""

    cache_dir: Path
    schema_version: int
    updated_at: datetime
    next_update: datetime | None
    downloaded_at: datetime | None
    age_days: float

    def metadata(self) -> dict[str, object]:
        return {
            "trivy_db_schema": self.schema_version,
            "trivy_db_updated_at": self.updated_at.isoformat(),
            "trivy_db_next_update": self.next_update.isoformat() if self.next_update else None,
            "trivy_db_downloaded_at": (
                self.downloaded_at.isoformat() if self.downloaded_at else None
            ),
            "trivy_db_age_days": round(self.age_days, 2),
        }


def check_db(cache_dir: Path, *, max_age_days: int, now: datetime) -> DbInfo:
    """Validate `cache_dir` as Trivy's --cache-dir holding db/trivy.db + db/metadata.json.

    Raises TrivyDbError naming the problem; returns the DB facts otherwise. `now` must be
    timezone-aware.
    """
    db_dir = cache_dir / "db"
    db_file = db_dir / DB_FILE
    metadata_file = db_dir / METADATA_FILE

    if (cache_dir / DB_FILE).is_file() and not db_file.is_file():
        raise TrivyDbError(
            f"trivy cache_dir {cache_dir} contains {DB_FILE} directly; cache_dir must be the "
            f"parent (expected <cache_dir>/db/{DB_FILE} and <cache_dir>/db/{METADATA_FILE})"
        )
    if not cache_dir.is_dir():
        raise TrivyDbError(
            f"trivy cache_dir {cache_dir} does not exist; copy the offline bundle to "
            f"{db_dir}/ ({DB_FILE} and {METADATA_FILE}) or unset scan.db"
        )
    if not metadata_file.is_file():
        raise TrivyDbError(f"{metadata_file} missing; copy both files from the offline bundle")
    if not db_file.is_file():
        raise TrivyDbError(f"{db_file} missing; copy both files from the offline bundle")
    check_bolt_file(db_file)

    metadata = read_metadata(metadata_file)
    schema = metadata.get("Version")
    if not isinstance(schema, int):
        raise TrivyDbError(
            f'{metadata_file} has no integer "Version" (the DB schema); copy metadata.json '
            f"again from the offline bundle"
        )
    if schema != TRIVY_DB_SCHEMA:
        hint = (
            "refresh the offline bundle"
            if schema < TRIVY_DB_SCHEMA
            else ("use an offline bundle made for this trivy, or upgrade trivy")
        )
        raise TrivyDbError(f"trivy DB schema {schema}, this trivy needs {TRIVY_DB_SCHEMA}; {hint}")

    updated_at = parse_time(metadata, "UpdatedAt", metadata_file)
    if updated_at is None:
        raise TrivyDbError(f"{metadata_file} has no UpdatedAt; the DB's age cannot be checked")
    age_days = (now - updated_at).total_seconds() / 86400
    if age_days > max_age_days:
        raise TrivyDbError(
            f"trivy DB built {updated_at:%Y-%m-%d} is older than max_db_age_days={max_age_days} "
            f"({age_days:.1f} days old); refresh the offline bundle"
        )
    info = DbInfo(
        cache_dir=cache_dir,
        schema_version=schema,
        updated_at=updated_at,
        next_update=parse_time(metadata, "NextUpdate", metadata_file),
        downloaded_at=parse_time(metadata, "DownloadedAt", metadata_file),
        age_days=age_days,
    )
    log.info(
        "trivy DB %s: schema %d, built %s (%.1f days old, limit %d)",
        db_file,
        schema,
        updated_at.isoformat(),
        age_days,
        max_age_days,
    )
    return info


def check_bolt_file(db_file: Path) -> None:
    """An empty or non-BoltDB trivy.db is refused here, before trivy reports it obscurely."""
    size = db_file.stat().st_size
    if size == 0:
        raise TrivyDbError(
            f"{db_file} is empty (0 bytes); copy trivy.db again from the offline bundle"
        )
    with db_file.open("rb") as stream:
        head = stream.read(BOLT_MAGIC_OFFSET + 4)
    if head[BOLT_MAGIC_OFFSET:] != BOLT_MAGIC:
        raise TrivyDbError(
            f"{db_file} is not a BoltDB file ({size} bytes, no bolt magic); copy trivy.db "
            f"again from the offline bundle (unpacked from db.tar.gz, not the archive itself)"
        )


def read_metadata(metadata_file: Path) -> dict[str, object]:
    try:
        metadata = json.loads(metadata_file.read_text())
    except (OSError, ValueError) as exc:
        raise TrivyDbError(
            f"{metadata_file} is not readable JSON ({exc}); copy it again from the offline bundle"
        ) from exc
    if not isinstance(metadata, dict):
        raise TrivyDbError(f"{metadata_file} is not a JSON object; copy it again")
    return metadata


def parse_time(metadata: Mapping[str, object], field: str, source: Path) -> datetime | None:
    """A metadata.json time (RFC 3339, Go's zero time meaning unset) as an aware datetime."""
    raw = metadata.get(field)
    if raw in (None, "", "0001-01-01T00:00:00Z"):
        return None
    if not isinstance(raw, str):
        raise TrivyDbError(f"{source}: {field} is not a time string: {raw!r}")
    text = raw.replace("Z", "+00:00")
    # Go writes up to 9 fractional digits; Python's fromisoformat takes at most 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TrivyDbError(f"{source}: {field} {raw!r} is not an RFC 3339 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
