"""Mirror the product RPMs under an `s3://bucket/prefix` incoming location into a local folder.

The build and the sensor both read incoming RPMs as local files (headers, stat, ctime), so an
S3 incoming prefix is synced into `cache_root/<digest of endpoint, bucket, prefix>/` first:
object keys below the prefix become relative paths. One sync lists the prefix (paginated
list_objects_v2, no per-object requests) and GETs only the objects whose ETag or size differ
from the state file of the last sync; each GET is pinned to the listed ETag (If-Match), streamed
into a hidden temporary name and renamed into place, so no partial RPM ever has its final name
and the recorded state always describes the bytes on disk. Local RPMs whose object disappeared
are deleted. A lock file serialises syncs of one folder (the sensor and a build may overlap).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from iso_assets.artifacts import HASH_CHUNK, digest_of
from iso_assets.errors import IsoAssetsError
from iso_assets.s3 import endpoint_from_env, make_client, region_from_env, split_s3_url

log = logging.getLogger(__name__)

STATE_FILE = ".s3-state.json"
LOCK_FILE = ".s3-sync.lock"
TEMP_PREFIX = ".sync-"
MAX_ATTEMPTS = 5
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
NO_BUCKET = {"NoSuchBucket"}
DENIED = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled"}
CHANGED = {"412", "PreconditionFailed"}


class IncomingSyncError(IsoAssetsError):
    """Raised when an S3 incoming prefix cannot be listed or downloaded."""


@dataclass(frozen=True)
class RemoteRpm:
    key: str
    etag: str
    size: int

    def state(self) -> dict[str, Any]:
        return {"etag": self.etag, "size": self.size}


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without surrounding slashes) of an s3://bucket/prefix URL."""
    parts = split_s3_url(url)
    if parts is None:
        raise IncomingSyncError(f"product_rpms.incoming {url!r} is not an s3://bucket/prefix URL")
    return parts


def sync_incoming(url: str, cache_root: Path, *, endpoint_url: str | None = None) -> Path:
    """Mirror the `*.rpm` objects under `url` into a folder below `cache_root`; return it.

    Endpoint: the argument, else ISO_ASSETS_S3_ENDPOINT_URL; region: AWS_REGION, else
    AWS_DEFAULT_REGION; credentials: boto3's standard chain. Raises IncomingSyncError naming
    the URL and what to do when the bucket is missing, access is denied or S3 is unreachable.
    """
    started = time.monotonic()
    bucket, prefix = parse_s3_url(url)
    endpoint_url = endpoint_from_env(endpoint_url)
    folder = cache_root / digest_of([endpoint_url, bucket, prefix])[:24]
    folder.mkdir(parents=True, exist_ok=True)
    client = make_incoming_client(endpoint_url)
    with locked(folder / LOCK_FILE):
        remote = list_remote_rpms(client, bucket, prefix, url)
        recorded = read_state(folder / STATE_FILE)
        removed = remove_vanished(folder, set(remote))
        state = {path: recorded[path] for path in remote if path in recorded}
        changed = [
            path
            for path, item in sorted(remote.items())
            if state.get(path) != item.state() or not is_size(folder / path, item.size)
        ]
        try:
            for path in changed:
                item = remote[path]
                state.pop(path, None)
                download(client, bucket, item, folder / path, f"s3://{bucket}/{item.key}")
                state[path] = item.state()
        finally:
            # Written also after a failed download, so what came through is not fetched again.
            write_state(folder / STATE_FILE, state)
    log.info(
        "incoming %s: %d RPM(s) listed, %d downloaded, %d removed, into %s in %.2f s",
        url,
        len(remote),
        len(changed),
        removed,
        folder,
        time.monotonic() - started,
    )
    return folder


def make_incoming_client(endpoint_url: str | None) -> Any:
    """The client sync_incoming uses (a module function, so tests can hook its requests)."""
    return make_client(
        endpoint_url=endpoint_url, region=region_from_env(), max_attempts=MAX_ATTEMPTS
    )


def local_path_of(key: str, prefix: str) -> str | None:
    """The relative local path of an object key, or None for keys not mirrored.

    Only `*.rpm` keys are kept; keys with empty, `.`/`..` or hidden segments are refused, so a
    key can neither escape the folder nor collide with the state, lock or temporary files.
    """
    relative = key[len(prefix) + 1 :] if prefix else key
    parts = relative.split("/")
    if not relative.endswith(".rpm") or any(not p or p.startswith(".") for p in parts):
        return None
    return str(PurePosixPath(*parts))


def list_remote_rpms(client: Any, bucket: str, prefix: str, url: str) -> dict[str, RemoteRpm]:
    """Relative path → listed object, for every mirrored key under the prefix."""
    found: dict[str, RemoteRpm] = {}
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
    )
    try:
        for page in pages:
            for item in page.get("Contents", []):
                path = local_path_of(item["Key"], prefix)
                if path is None:
                    if item["Key"].endswith(".rpm"):
                        log.warning("skipping s3://%s/%s: unsafe key", bucket, item["Key"])
                    continue
                found[path] = RemoteRpm(item["Key"], item["ETag"], int(item["Size"]))
    except (ClientError, BotoCoreError) as exc:
        raise sync_error(url, "list", exc) from exc
    return found


def download(client: Any, bucket: str, item: RemoteRpm, target: Path, source: str) -> None:
    """GET the listed version of `item` into a temporary name, then rename it to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=".part")
    try:
        try:
            response = client.get_object(Bucket=bucket, Key=item.key, IfMatch=item.etag)
            with os.fdopen(handle, "wb") as stream:
                for chunk in response["Body"].iter_chunks(HASH_CHUNK):
                    stream.write(chunk)
        except (ClientError, BotoCoreError) as exc:
            raise sync_error(source, "download", exc) from exc
        size = os.path.getsize(temp_name)
        if size != item.size:
            raise IncomingSyncError(
                f"{source} downloaded as {size} bytes, listed as {item.size}; run again"
            )
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def remove_vanished(folder: Path, keep: set[str]) -> int:
    """Delete local RPMs (and orphaned temporary files) with no object behind them."""
    removed = 0
    for path in sorted(folder.rglob("*"), reverse=True):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        # Under the lock, a temporary file can only be left over from an interrupted sync.
        vanished = relative.endswith(".rpm") and relative not in keep
        if vanished or path.name.startswith(TEMP_PREFIX):
            path.unlink(missing_ok=True)
            removed += vanished
            log.info("removed %s: its object is gone from the incoming prefix", path)
    return removed


def is_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # no or unreadable state: every object is downloaded again
    return data if isinstance(data, dict) else {}


def write_state(path: Path, state: dict[str, Any]) -> None:
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}")
    temp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(temp, path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sync_error(source: str, action: str, exc: Exception) -> IncomingSyncError:
    """An S3 failure as an IncomingSyncError naming `source` and what to do."""
    if isinstance(exc, BotoCoreError):
        return IncomingSyncError(
            f"cannot {action} {source}: S3 not reachable ({exc}); check "
            f"ISO_ASSETS_S3_ENDPOINT_URL, AWS_REGION and the AWS credentials (standard chain)"
        )
    assert isinstance(exc, ClientError)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in NO_BUCKET:
        return IncomingSyncError(
            f"cannot {action} {source}: the bucket does not exist; create it or fix "
            f"product_rpms.incoming"
        )
    if code in DENIED:
        return IncomingSyncError(
            f"cannot {action} {source}: access denied; grant s3:ListBucket and s3:GetObject "
            f"on it to the credentials of the standard AWS chain"
        )
    if code in CHANGED or code in NOT_FOUND:
        return IncomingSyncError(f"{source} changed during the sync; run it again")
    return IncomingSyncError(
        f"cannot {action} {source}: S3 error {code} ({error.get('Message', exc)})"
    )
