"""fetch_db against a real S3 server over HTTP on 127.0.0.1 (moto's server mode).

Failures the emulator cannot produce on its own (a connection dropped mid-download, an
object replaced between HEAD and GET) are injected with botocore `before-parameter-build`
hooks on the client fetch_db makes; the requests themselves still go to the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from iso_assets.scan import db_fetch
from iso_assets.scan.db import check_db
from iso_assets.scan.db_fetch import STATE_FILE, fetch_db
from iso_assets.scan.errors import ScanError
from iso_assets.scan.testing_db import FixtureAdvisory, write_trivy_db
from tests.s3_fixtures import count_get_objects

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADVISORY = FixtureAdvisory("CVE-2099-0001", "openssl-libs", "3.0.7-25.el9")
LATER_ADVISORY = FixtureAdvisory("CVE-2099-0002", "bash", "5.1.8-9.el9")
DB_KEYS = ("db/trivy.db", "db/metadata.json")


@pytest.fixture
def get_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys of every GetObject fetch_db sends; a test may append a hook to HOOKS."""
    HOOKS.clear()
    return count_get_objects(monkeypatch, db_fetch, "make_db_client", HOOKS)


HOOKS: list[Callable[..., None]] = []


def upload_bundle(
    s3: Any,
    bucket: str,
    prefix: str,
    folder: Path,
    *,
    days_old: float = 1,
    advisories: tuple[FixtureAdvisory, ...] = (ADVISORY,),
) -> dict[str, bytes]:
    """Write a fixture DB under `folder`, upload its two files under `prefix`; their bytes."""
    write_trivy_db(folder, advisories, updated_at=NOW - timedelta(days=days_old))
    uploaded = {key: (folder / key).read_bytes() for key in DB_KEYS}
    for key, data in uploaded.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)
    return uploaded


def file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_fetch_gives_a_cache_dir_check_db_accepts(
    s3: Any, bucket: str, endpoint: str, get_calls: list[str], tmp_path: Path
) -> None:
    uploaded = upload_bundle(s3, bucket, "offline/trivy", tmp_path / "bundle")

    cache_dir = fetch_db(f"s3://{bucket}/offline/trivy", tmp_path / "cache", endpoint_url=endpoint)

    assert cache_dir.parent == tmp_path / "cache"
    assert {key: (cache_dir / key).read_bytes() for key in DB_KEYS} == uploaded
    info = check_db(cache_dir, max_age_days=7, now=NOW)
    assert info.schema_version == 2
    assert len(get_calls) == 2
    assert sorted(path.name for path in (cache_dir / "db").iterdir()) == [
        "metadata.json",
        "trivy.db",
    ]
    state = json.loads((cache_dir / STATE_FILE).read_text())
    assert state["db/trivy.db"]["size"] == len(uploaded["db/trivy.db"])


def test_unchanged_objects_are_not_downloaded_again(
    s3: Any, bucket: str, endpoint: str, get_calls: list[str], tmp_path: Path
) -> None:
    upload_bundle(s3, bucket, "p", tmp_path / "bundle")
    url = f"s3://{bucket}/p"
    first = fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)
    before = {key: file_identity(first / key) for key in DB_KEYS}
    get_calls.clear()

    second = fetch_db(url + "/", tmp_path / "cache", endpoint_url=endpoint)

    assert second == first
    assert get_calls == []
    assert {key: file_identity(second / key) for key in DB_KEYS} == before


def test_changed_metadata_is_downloaded_again_alone(
    s3: Any, bucket: str, endpoint: str, get_calls: list[str], tmp_path: Path
) -> None:
    upload_bundle(s3, bucket, "p", tmp_path / "bundle")
    url = f"s3://{bucket}/p"
    cache_dir = fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)
    db_identity = file_identity(cache_dir / "db/trivy.db")
    # A refreshed bundle whose metadata.json differs (another UpdatedAt), same trivy.db bytes.
    metadata = json.loads((cache_dir / "db/metadata.json").read_text())
    metadata["UpdatedAt"] = "2026-02-28T06:00:00Z"
    new_metadata = json.dumps(metadata).encode()
    s3.put_object(Bucket=bucket, Key="p/db/metadata.json", Body=new_metadata)
    get_calls.clear()

    again = fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)

    assert again == cache_dir
    assert get_calls == ["p/db/metadata.json"]
    assert (cache_dir / "db/metadata.json").read_bytes() == new_metadata
    assert file_identity(cache_dir / "db/trivy.db") == db_identity
    assert check_db(cache_dir, max_age_days=7, now=NOW).updated_at.day == 28


def test_missing_metadata_names_the_object_and_the_fix(
    s3: Any, bucket: str, endpoint: str, tmp_path: Path
) -> None:
    upload_bundle(s3, bucket, "p", tmp_path / "bundle")
    s3.delete_object(Bucket=bucket, Key="p/db/metadata.json")

    with pytest.raises(ScanError) as raised:
        fetch_db(f"s3://{bucket}/p", tmp_path / "cache", endpoint_url=endpoint)

    assert str(raised.value) == (
        f"s3://{bucket}/p/db/metadata.json not found; upload both files of the offline bundle "
        f"(db/trivy.db, db/metadata.json) under that prefix"
    )
    assert not (tmp_path / "cache").exists()


def test_missing_bucket_and_bad_url_are_scan_errors(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ScanError, match=r"s3://no-such-bucket-x/p/db/trivy.db not found"):
        fetch_db("s3://no-such-bucket-x/p", tmp_path, endpoint_url=endpoint)
    with pytest.raises(ScanError, match="is not an s3://bucket/prefix URL"):
        fetch_db("/srv/trivy", tmp_path, endpoint_url=endpoint)


def test_failed_download_leaves_the_previous_db_whole(
    s3: Any, bucket: str, endpoint: str, get_calls: list[str], tmp_path: Path
) -> None:
    old = upload_bundle(s3, bucket, "p", tmp_path / "old", days_old=3)
    url = f"s3://{bucket}/p"
    cache_dir = fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)
    new = upload_bundle(
        s3, bucket, "p", tmp_path / "new", days_old=1, advisories=(ADVISORY, LATER_ADVISORY)
    )
    assert all(new[key] != old[key] for key in DB_KEYS)
    get_calls.clear()

    def drop_second_download(**_: Any) -> None:
        if len(get_calls) == 2:  # trivy.db came through, metadata.json does not
            raise EndpointConnectionError(endpoint_url=endpoint)

    HOOKS.append(drop_second_download)
    with pytest.raises(ScanError, match=rf"s3://{bucket}/p/db/metadata.json: S3 not reachable"):
        fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)

    assert {key: (cache_dir / key).read_bytes() for key in DB_KEYS} == old
    assert sorted(path.name for path in (cache_dir / "db").iterdir()) == [
        "metadata.json",
        "trivy.db",
    ]
    HOOKS.clear()
    fetch_db(url, tmp_path / "cache", endpoint_url=endpoint)
    assert {key: (cache_dir / key).read_bytes() for key in DB_KEYS} == new


def test_object_replaced_between_head_and_get_is_refused(
    s3: Any, bucket: str, endpoint: str, get_calls: list[str], tmp_path: Path
) -> None:
    upload_bundle(s3, bucket, "p", tmp_path / "bundle")

    def replace_before_get(**_: Any) -> None:
        if len(get_calls) == 1:
            s3.put_object(Bucket=bucket, Key="p/db/trivy.db", Body=b"a newer upload")

    HOOKS.append(replace_before_get)
    with pytest.raises(ScanError, match=r"p/db/trivy.db changed during the download"):
        fetch_db(f"s3://{bucket}/p", tmp_path / "cache", endpoint_url=endpoint)

    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [path for path in leftovers if path.is_file()] == []
