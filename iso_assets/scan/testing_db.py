"""Write a small, real Trivy vulnerability DB: for tests and the offline demo, never for
production scanning (a production DB is Trivy's published bundle, copied in by an operator).

Why it lives in the package and not under tests/: the demo runs without internet, so it can
only show a vulnerability finding with a DB it makes itself; tests import the same writer.

No maintained PyPI library writes BoltDB files (the one `boltdb` upload is a 2020 0.0.2
port), so `boltdb_bytes` writes the format itself, the smallest valid subset:
- 4096-byte pages; every page starts with a 16-byte header: id u64, flags u16, count u16,
  overflow u32 (all little-endian), flags 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist.
- pages 0 and 1 are meta pages (magic 0xED0CDAED, version 2, page size, flags, root bucket
  {root page, sequence}, freelist page, page high-water mark, txid, FNV-1a 64 checksum of the
  56 bytes before it); bbolt opens the valid one with the higher txid.
- page 2 is an empty freelist.
- every bucket, the root bucket included, is ONE leaf page (spanning `overflow` extra pages
  when big): 16-byte elements {flags u32, pos u32, ksize u32, vsize u32}, `pos` counted from
  the element itself to its key, value right after the key; keys sorted bytewise (bbolt
  binary-searches them). A nested bucket is an element with flag 0x01 whose value is the
  16-byte bucket header {root page, sequence}.
Not written, because a reader does not need them: branch pages (a B+tree of depth one is
valid), inline buckets (a space optimisation of bbolt's writer), free pages.

Trivy DB layout (schema 2, as trivy-db's vulnsrc packages store it; read from trivy-db):
  "<platform>" (e.g. "rocky 9") -> package name -> vulnerability id -> {"FixedVersion": v}
  "vulnerability" -> vulnerability id -> {"Title", "Severity", "VendorSeverity", ...}
  "data-source" -> "<platform>" -> {"ID", "Name", "URL"}
plus db/metadata.json {"Version", "NextUpdate", "UpdatedAt", "DownloadedAt"}.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

PAGE_SIZE = 4096
PAGE_HEADER = struct.Struct("<QHHI")
LEAF_ELEMENT = struct.Struct("<IIII")
BUCKET_HEADER = struct.Struct("<QQ")
META_FIELDS = struct.Struct("<IIIIQQQQQ")  # magic..txid: the 56 checksummed bytes
BOLT_MAGIC = 0xED0CDAED
BOLT_VERSION = 2
FLAG_LEAF, FLAG_META, FLAG_FREELIST = 0x02, 0x04, 0x10
BUCKET_ELEMENT = 0x01
FIRST_DATA_PAGE = 3  # 0, 1: meta; 2: freelist

# A bucket is a mapping of key -> value bytes or -> nested bucket.
Bucket = Mapping[bytes, "bytes | Bucket"]

# Trivy's numeric severities in VendorSeverity (trivy-db types.Severity).
SEVERITY_NUMBERS = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
TRIVY_SCHEMA_VERSION = 2


def fnv1a_64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


class _PageWriter:
    """Hands out page ids in order and keeps the bytes of every data page."""

    def __init__(self) -> None:
        self.pages: list[bytes] = []
        self.next_id = FIRST_DATA_PAGE

    def write_bucket(self, bucket: Bucket) -> int:
        """Write `bucket` (children first) as one leaf node; return its page id."""
        elements: list[tuple[int, bytes, bytes]] = []
        for key in sorted(bucket):
            value = bucket[key]
            if isinstance(value, Mapping):
                child = self.write_bucket(value)
                elements.append((BUCKET_ELEMENT, key, BUCKET_HEADER.pack(child, 0)))
            else:
                elements.append((0, key, bytes(value)))

        headers_end = PAGE_HEADER.size + LEAF_ELEMENT.size * len(elements)
        body = bytearray()
        element_table = bytearray()
        for index, (flags, key, value) in enumerate(elements):
            element_offset = PAGE_HEADER.size + LEAF_ELEMENT.size * index
            data_offset = headers_end + len(body)
            element_table += LEAF_ELEMENT.pack(
                flags, data_offset - element_offset, len(key), len(value)
            )
            body += key + value
        size = headers_end + len(body)
        page_count = -(-size // PAGE_SIZE)
        page_id = self.next_id
        self.next_id += page_count
        header = PAGE_HEADER.pack(page_id, FLAG_LEAF, len(elements), page_count - 1)
        self.pages.append((header + element_table + body).ljust(page_count * PAGE_SIZE, b"\0"))
        return page_id


def meta_page(page_id: int, *, root: int, high_water_mark: int, txid: int) -> bytes:
    fields = META_FIELDS.pack(
        BOLT_MAGIC, BOLT_VERSION, PAGE_SIZE, 0, root, 0, 2, high_water_mark, txid
    )
    meta = fields + struct.pack("<Q", fnv1a_64(fields))
    return (PAGE_HEADER.pack(page_id, FLAG_META, 0, 0) + meta).ljust(PAGE_SIZE, b"\0")


def boltdb_bytes(root: Bucket) -> bytes:
    """A complete BoltDB file whose top-level buckets are `root`'s entries (all must be
    buckets: bbolt keeps no plain values at the top level)."""
    if any(not isinstance(value, Mapping) for value in root.values()):
        raise ValueError("top-level BoltDB entries must be buckets")
    writer = _PageWriter()
    root_page = writer.write_bucket(root)
    freelist = PAGE_HEADER.pack(2, FLAG_FREELIST, 0, 0).ljust(PAGE_SIZE, b"\0")
    metas = [
        meta_page(txid, root=root_page, high_water_mark=writer.next_id, txid=txid)
        for txid in (0, 1)
    ]
    return b"".join([*metas, freelist, *writer.pages])


@dataclass(frozen=True)
class FixtureAdvisory:
    """One advisory: `package` below `fixed_version` is affected by `vulnerability_id`."""

    vulnerability_id: str
    package: str
    fixed_version: str
    severity: str = "HIGH"
    title: str = "iso-assets fixture advisory"


def trivy_db_buckets(
    advisories: Iterable[FixtureAdvisory], *, platform: str = "rocky 9", source_id: str = "rocky"
) -> dict[bytes, Bucket]:
    """The buckets of a Trivy schema-2 DB holding `advisories` for one OS platform."""
    by_package: dict[bytes, dict[bytes, bytes]] = {}
    details: dict[bytes, bytes] = {}
    for advisory in advisories:
        vuln_id = advisory.vulnerability_id.encode()
        by_package.setdefault(advisory.package.encode(), {})[vuln_id] = json.dumps(
            {"FixedVersion": advisory.fixed_version}
        ).encode()
        details[vuln_id] = json.dumps(
            {
                "Title": advisory.title,
                "Description": f"{advisory.title} ({advisory.package})",
                "Severity": advisory.severity,
                "VendorSeverity": {source_id: SEVERITY_NUMBERS[advisory.severity]},
            }
        ).encode()
    source = json.dumps(
        {
            "ID": source_id,
            "Name": f"{source_id} fixture advisories",
            "URL": "https://example.invalid/",
        }
    ).encode()
    return {
        platform.encode(): by_package,
        b"vulnerability": details,
        b"data-source": {platform.encode(): source},
    }


def write_trivy_db(
    cache_dir: Path,
    advisories: Iterable[FixtureAdvisory],
    *,
    updated_at: datetime,
    platform: str = "rocky 9",
    schema_version: int = TRIVY_SCHEMA_VERSION,
    next_update: datetime | None = None,
    downloaded_at: datetime | None = None,
) -> Path:
    """Write `cache_dir`/db/trivy.db + metadata.json as an offline bundle has them; return
    the db folder. Datetimes must be timezone-aware."""
    db_dir = cache_dir / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    (db_dir / "trivy.db").write_bytes(boltdb_bytes(trivy_db_buckets(advisories, platform=platform)))
    metadata = {
        "Version": schema_version,
        "NextUpdate": rfc3339(next_update or updated_at + timedelta(hours=24)),
        "UpdatedAt": rfc3339(updated_at),
        "DownloadedAt": rfc3339(downloaded_at or updated_at),
    }
    (db_dir / "metadata.json").write_text(json.dumps(metadata) + "\n")
    return db_dir


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no timezone; Trivy metadata times are absolute")
    return moment.isoformat().replace("+00:00", "Z")
