"""Fetch an offline Trivy DB bundle kept in S3 into a local cache dir that check_db validates.

`s3://bucket/prefix` is a Trivy cache dir: `prefix/db/trivy.db` and `prefix/db/metadata.json`.
Each object is HEADed first and fetched only when its ETag or size differs from what the last
fetch recorded; the GET is pinned to the HEADed ETag (If-Match), so the recorded state always
describes the bytes on disk. Downloads go to temporary names and are renamed into place only
after every changed object arrived; the state file is removed before the renames and written
after them, so an interrupted swap is fetched again next time instead of being trusted.
Concurrent fetches of the same URL may both download; the last rename wins with whole files.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from iso_assets.artifacts import HASH_CHUNK, digest_of
from iso_assets.s3 import endpoint_from_env, make_client, region_from_env, split_s3_url
from iso_assets.scan.errors import ScanError

log = logging.getLogger(__name__)

DB_KEYS = ("db/trivy.db", "db/metadata.json")
STATE_FILE = "s3-state.json"
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
DENIED = {"403", "AccessDenied", "Forbidden"}


def fetch_db(url: str, cache_root: Path, *, endpoint_url: str | None = None) -> Path:
    """Sync `url` (s3://bucket/prefix holding db/trivy.db + db/metadata.json) into a cache
    dir under `cache_root` named by a digest of the URL and endpoint; return that dir.

    Endpoint: the argument, else ISO_ASSETS_S3_ENDPOINT_URL; region: AWS_REGION, else
    AWS_DEFAULT_REGION; credentials: boto3's standard chain. Raises ScanError naming the
    object when it is missing, not readable or changes during the download.
    """
    started = time.monotonic()
    parts = split_s3_url(url)
    if parts is None:
        raise ScanError(f"scan.db {url!r} is not an s3://bucket/prefix URL")
    bucket, prefix = parts
    endpoint_url = endpoint_from_env(endpoint_url)
    cache_dir = cache_root / digest_of([endpoint_url, bucket, prefix])[:24]
    client = make_db_client(endpoint_url)
    object_keys = {key: f"{prefix}/{key}" if prefix else key for key in DB_KEYS}
    source = {key: f"s3://{bucket}/{object_key}" for key, object_key in object_keys.items()}

    state_file = cache_dir / STATE_FILE
    try:
        recorded = json.loads(state_file.read_text())
    except (OSError, ValueError):
        recorded = {}  # no or unreadable state: fetch everything again
    remote: dict[str, dict[str, Any]] = {}
    for key, object_key in object_keys.items():
        head = call_s3(client.head_object, source[key], Bucket=bucket, Key=object_key)
        remote[key] = {"etag": head["ETag"], "size": head["ContentLength"]}
    changed = [
        key
        for key in DB_KEYS
        if recorded.get(key) != remote[key] or not (cache_dir / key).is_file()
    ]
    if not changed:
        log.info("trivy DB %s unchanged (ETag and size as recorded); reusing %s", url, cache_dir)
        return cache_dir

    (cache_dir / "db").mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    try:
        for key in changed:
            handle, temp_name = tempfile.mkstemp(dir=cache_dir / "db", prefix=".fetch-")
            os.close(handle)
            staged[key] = Path(temp_name)
            params = {"Bucket": bucket, "Key": object_keys[key], "IfMatch": remote[key]["etag"]}
            call_s3(download_object, source[key], client=client, target=staged[key], **params)
        state_file.unlink(missing_ok=True)
        for key, temp_path in staged.items():
            temp_path.replace(cache_dir / key)
    finally:
        for temp_path in staged.values():
            temp_path.unlink(missing_ok=True)
    state_file.write_text(json.dumps(remote, indent=1, sort_keys=True) + "\n")
    log.info(
        "trivy DB %s: fetched %s into %s in %.2fs",
        url,
        ", ".join(changed),
        cache_dir,
        time.monotonic() - started,
    )
    return cache_dir


def download_object(*, client: Any, target: Path, **params: Any) -> None:
    # Streamed, so a dropped connection (IncompleteReadError) surfaces inside call_s3.
    body = client.get_object(**params)["Body"]
    with target.open("wb") as stream:
        while chunk := body.read(HASH_CHUNK):
            stream.write(chunk)


def make_db_client(endpoint_url: str | None) -> Any:
    """The client fetch_db uses (a module function, so tests can hook its requests)."""
    return make_client(endpoint_url=endpoint_url, region=region_from_env())


def call_s3(operation: Any, source: str, **params: Any) -> Any:
    """One S3 call, its failures turned into a ScanError naming `source` and what to do."""
    try:
        return operation(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in NOT_FOUND:
            raise ScanError(
                f"{source} not found; upload both files of the offline bundle "
                f"({', '.join(DB_KEYS)}) under that prefix"
            ) from exc
        if code in DENIED:
            raise ScanError(
                f"{source}: access denied; grant s3:GetObject on it to the credentials "
                f"of the standard AWS chain"
            ) from exc
        if code in {"412", "PreconditionFailed"}:
            raise ScanError(f"{source} changed during the download; run the scan again") from exc
        raise ScanError(f"{source}: S3 error {code} ({error.get('Message', exc)})") from exc
    except BotoCoreError as exc:
        raise ScanError(
            f"{source}: S3 not reachable ({exc}); check ISO_ASSETS_S3_ENDPOINT_URL, "
            f"AWS_REGION and credentials"
        ) from exc
