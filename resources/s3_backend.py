"""S3 backend of the artifact store: content-addressed blobs in a bucket, a local read cache.

Same keys and contract as LocalBackend (blobs/sha256/<ab>/<digest>, JSON documents under
their key), under an optional key prefix. Works with AWS and S3-compatible servers
(`endpoint_url`); credentials come only from boto3's standard chain (environment, shared
config/credentials files, instance or container roles), never from the product spec.

Storing a file (`put_file`) is one read of the source: the bytes are hashed while they are
written into the local read cache (or, with `move=True`, hashed and renamed into it), which
gives the content address before anything is sent. A HEAD on that key decides whether to
upload at all; the upload then goes straight to the final key from the cache file through
boto3's transfer manager. Multipart uploads become visible only when completed, and
s3transfer aborts a failed one, so a failed upload never leaves an object under its final
key. The alternative (hash while streaming to a temporary key, then server-side copy to the
content address) avoids the local cache write but pays a second full copy on the server and
needs cleanup of orphaned temporary keys; a read cache is needed anyway, because every later
step reads blobs as local files (xorriso graft points, rpm, createrepo_c).

Integrity: a small object (below the multipart threshold) is sent with its full-object
`ChecksumSHA256`, which S3 verifies; a multipart upload carries a SHA-256 per part
(`ChecksumAlgorithm="SHA256"`, S3 verifies each part and keeps a checksum of the part
checksums, "…-N"). The full-file sha256 is ours: the key, our manifest and the object's
`x-amz-meta-sha256`. Downloads are hashed while they are written to the cache and rejected
(IntegrityError naming the key, cached file removed) when they do not match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import S3UploadFailedError, TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from iso_assets.artifacts import HASH_CHUNK, BlobRef, sha256_file
from iso_assets.errors import IntegrityError, StoreError
from iso_assets.s3 import make_client
from resources.local_backend import LocalBackend

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_CACHE_MAX_BYTES = 20 * 1024 * MIB
# Files used this recently are never evicted: a step's working set (graft points, symlink
# trees) must stay on disk while its tool runs, so the bound can be exceeded by that much.
DEFAULT_CACHE_GRACE_SECONDS = 600.0
DEFAULT_TRANSFER = TransferConfig(
    multipart_threshold=64 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4
)
HEAD_THREADS = 8
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    """Where the store lives: a bucket, a key prefix, a region, an optional endpoint."""

    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None

    def object_key(self, key: str) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/{key}" if prefix else key

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"


def make_s3_client(location: S3Location) -> Any:
    """The store's client: more pooled connections for its parallel HEADs and transfers."""
    return make_client(
        endpoint_url=location.endpoint_url, region=location.region, max_pool_connections=16
    )


class ReadCache:
    """Local copies of blobs, keyed by sha256 like the local store, bounded in size.

    Least recently used files go first (mtime is refreshed on every use, atime is unreliable
    under relatime/noatime). Eviction runs when an insertion pushes the total over the bound.
    """

    def __init__(self, root: Path, *, max_bytes: int, grace_seconds: float):
        self.files = LocalBackend(root, durable=False)
        self.max_bytes = max_bytes
        self.grace_seconds = grace_seconds
        self._total: int | None = None
        self._lock = threading.Lock()

    def path_of(self, ref: BlobRef) -> Path:
        return self.files.path_of(ref.key)

    def lookup(self, ref: BlobRef) -> Path | None:
        """The cached file of `ref` (marked as just used), or None."""
        path = self.path_of(ref)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def ingest(self, source: Path, *, media_type: str, move: bool) -> BlobRef:
        """Hash `source` into the cache in one read (or rename it in); return its ref."""
        ref = self.files.put_file(source, media_type=media_type, move=move)
        os.utime(self.path_of(ref))
        self._added(ref)
        return ref

    def admit(self, downloaded: Path, ref: BlobRef) -> Path:
        """Rename a verified download into place."""
        final = self.path_of(ref)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(downloaded, 0o444)
        os.replace(downloaded, final)
        self._added(ref)
        return final

    def tmp_dir(self) -> Path:
        path = self.files.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self, ref: BlobRef) -> None:
        self.path_of(ref).unlink(missing_ok=True)
        with self._lock:
            self._total = None

    def _added(self, ref: BlobRef) -> None:
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            else:
                # May count a blob that was already cached; the eviction scan corrects it.
                self._total += ref.size
            if self._total > self.max_bytes:
                self._evict(keep=self.path_of(ref))

    def _blob_files(self) -> list[tuple[Path, os.stat_result]]:
        root = self.files.root / "blobs"
        found = []
        for path in root.rglob("*") if root.is_dir() else ():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file():
                found.append((path, stat))
        return found

    def _scan_total(self) -> int:
        return sum(stat.st_size for _, stat in self._blob_files())

    def _evict(self, *, keep: Path) -> None:
        files = sorted(self._blob_files(), key=lambda item: item[1].st_mtime)
        total = sum(stat.st_size for _, stat in files)
        young = time.time() - self.grace_seconds
        evicted = 0
        for path, stat in files:
            if total <= self.max_bytes:
                break
            if path == keep or stat.st_mtime > young:
                continue
            path.unlink(missing_ok=True)
            total -= stat.st_size
            evicted += stat.st_size
        self._total = total
        log.info(
            "read cache %s: evicted %d bytes (least recently used), %d bytes kept, bound %d",
            self.files.root,
            evicted,
            total,
            self.max_bytes,
        )


class S3Backend:
    """Blobs and JSON documents in S3; blob reads through a verified local cache."""

    def __init__(
        self,
        location: S3Location,
        cache_dir: Path,
        *,
        cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
        cache_grace_seconds: float = DEFAULT_CACHE_GRACE_SECONDS,
        transfer: TransferConfig = DEFAULT_TRANSFER,
        client: Any = None,
    ):
        self.location = location
        self.client = client if client is not None else make_s3_client(location)
        self.cache = ReadCache(
            cache_dir, max_bytes=cache_max_bytes, grace_seconds=cache_grace_seconds
        )
        self.transfer = transfer
        # Blob keys seen in the bucket by this process: blobs are immutable, so one HEAD each.
        self._present: set[str] = set()

    def path_of(self, key: str) -> Path:
        """The local cache path of a key (present only once fetched or stored)."""
        return self.cache.files.path_of(key)

    def has(self, key: str) -> bool:
        if key in self._present:
            return True
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self.location.object_key(key))
        except ClientError as exc:
            if _error_code(exc) in NOT_FOUND:
                return False
            raise self._error("check", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from exc
        if key.startswith("blobs/"):
            self._present.add(key)
        return True

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys the bucket does not hold (HEADs in parallel)."""
        wanted = list(keys)
        with ThreadPoolExecutor(max_workers=HEAD_THREADS) as pool:
            present = list(pool.map(self.has, wanted))
        return [key for key, found in zip(wanted, present, strict=True) if not found]

    def local_copy(self, sha256: str) -> Path | None:
        """A local file with this sha256 (cached, else downloaded), or None if S3 lacks it.

        A cached copy is returned without asking the bucket: if the bucket lost the object,
        storing the output again (put_file) uploads it from that copy.
        """
        ref = BlobRef(sha256=sha256, size=0)
        cached = self.cache.lookup(ref)
        if cached is not None:
            return cached
        try:
            head = self.client.head_object(
                Bucket=self.location.bucket, Key=self.location.object_key(ref.key)
            )
        except ClientError as exc:
            if _error_code(exc) in NOT_FOUND:
                return None
            raise self._error("check", ref.key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("check", ref.key, exc) from exc
        self._present.add(ref.key)
        return self._download(ref.model_copy(update={"size": head["ContentLength"]}))

    def put_file(self, source: Path, *, media_type: str, move: bool = False) -> BlobRef:
        """Hash `source` into the read cache, then upload it unless the bucket has it."""
        started = time.monotonic()
        ref = self.cache.ingest(source, media_type=media_type, move=move)
        if self.has(ref.key):
            log.debug("blob %s already in %s: not uploaded", ref.sha256[:12], self.location.bucket)
            return ref
        self._upload(self.cache.path_of(ref), ref)
        log.info(
            "stored %s (%d bytes) as %s in %.2f s",
            source.name,
            ref.size,
            self.location.url(ref.key),
            time.monotonic() - started,
        )
        return ref

    def _upload(self, path: Path, ref: BlobRef) -> None:
        extra: dict[str, Any] = {"ContentType": ref.media_type, "Metadata": {"sha256": ref.sha256}}
        if ref.size < self.transfer.multipart_threshold:
            # One PUT: S3 verifies the whole object against our own sha256.
            extra["ChecksumSHA256"] = _b64(ref.sha256)
        else:
            extra["ChecksumAlgorithm"] = "SHA256"
        key = self.location.object_key(ref.key)
        try:
            self.client.upload_file(
                str(path), self.location.bucket, key, ExtraArgs=extra, Config=self.transfer
            )
            head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        except (BotoCoreError, ClientError, S3UploadFailedError, OSError) as exc:
            # s3transfer re-raises what failed a part (after aborting the multipart upload).

            raise self._error("upload", ref.key, exc) from exc
        if head["ContentLength"] != ref.size:
            raise IntegrityError(
                f"{self.location.url(ref.key)} holds {head['ContentLength']} bytes after upload, "
                f"expected {ref.size}; delete the object and store the file again"
            )
        self._present.add(ref.key)

    def blob_path(self, ref: BlobRef, *, verify: bool = False) -> Path:
        """A local, read-only file of the blob: from the cache, else downloaded and verified."""
        cached = self.cache.lookup(ref)
        if cached is not None:
            if verify:
                actual, _ = sha256_file(cached)
                if actual != ref.sha256:
                    self.cache.remove(ref)
                    raise IntegrityError(
                        f"cached copy {cached} of {self.location.url(ref.key)} has sha256 "
                        f"{actual}, expected {ref.sha256}; it was removed, read it again"
                    )
            return cached
        return self._download(ref)

    def _download(self, ref: BlobRef) -> Path:
        started = time.monotonic()
        key = self.location.object_key(ref.key)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.cache.tmp_dir(), prefix="download-")
        try:
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=key)
                with os.fdopen(fd, "wb") as out:
                    # One stream, hashed as it is written: a ranged parallel download would
                    # need a second read to hash.
                    for chunk in response["Body"].iter_chunks(HASH_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            except ClientError as exc:
                if _error_code(exc) in NOT_FOUND:
                    raise StoreError(
                        f"blob {ref.sha256} is missing from {self.location.url(ref.key)}; "
                        f"rebuild the asset that produced it"
                    ) from exc
                raise self._error("download", ref.key, exc) from exc
            except BotoCoreError as exc:
                raise self._error("download", ref.key, exc) from exc
            if digest.hexdigest() != ref.sha256 or size != ref.size:
                raise IntegrityError(
                    f"{self.location.url(ref.key)} downloaded as {size} bytes with sha256 "
                    f"{digest.hexdigest()}, expected {ref.size} bytes with sha256 {ref.sha256}; "
                    f"the object is corrupt: delete it and rebuild the asset that produced it"
                )
            path = self.cache.admit(Path(tmp_name), ref)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        log.info(
            "fetched %s (%d bytes) into the read cache in %.2f s",
            self.location.url(ref.key),
            size,
            time.monotonic() - started,
        )
        return path

    def flush(self) -> None:
        """Nothing to do: an upload is complete (and durable in S3) when put_file returns."""

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, indent=2, sort_keys=True).encode()
        try:
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.object_key(key),
                Body=body,
                ContentType="application/json",
                ChecksumSHA256=_b64(hashlib.sha256(body).hexdigest()),
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error("write", key, exc) from exc

    def get_json(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_object(
                Bucket=self.location.bucket, Key=self.location.object_key(key)
            )
            return json.loads(response["Body"].read())
        except ClientError as exc:
            if _error_code(exc) in NOT_FOUND:
                return None
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(
                Bucket=self.location.bucket, Key=self.location.object_key(key)
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error("delete", key, exc) from exc
        self._present.discard(key)
        self.path_of(key).unlink(missing_ok=True)

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot {action} {self.location.url(key)}"
            f"{' at ' + self.location.endpoint_url if self.location.endpoint_url else ''}: "
            f"{exc}; check the bucket, the endpoint and the AWS credentials (standard chain)"
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
