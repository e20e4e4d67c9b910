"""The S3 backend against a real S3 server over HTTP on 127.0.0.1 (moto's server mode).

Where moto 5.2 differs from AWS, and what these tests therefore do not prove:
- it accepts a wrong `ChecksumSHA256` on PUT (AWS answers BadDigest), so a corrupted
  upload is not caught by the server here; our own sha256 (key, manifest, verified download)
  is what the corrupted-object test exercises;
- the checksum of a completed multipart upload has no `-N` part-count suffix;
- `head_object` returns no `ChecksumType`.
The emulator cannot fail on its own: the failed-upload test raises from a botocore
`before-call.s3.UploadPart` hook on the second part, which is what a dropped connection
after the retries looks like to s3transfer.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from iso_assets.artifacts import Manifest
from iso_assets.errors import IntegrityError, StoreError
from resources.s3_backend import MIB, S3Backend, S3Location
from resources.store import ArtifactStore, store_from_env
from tests.s3_fixtures import test_client

SMALL_PARTS = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4
)


def bucket_usage(endpoint: str, bucket: str, prefix: str = "") -> tuple[int, int]:
    """(objects, bytes) under `prefix`."""
    client = test_client(endpoint)
    count = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            count += 1
            size += item["Size"]
    return count, size


def make_backend(endpoint: str, bucket: str, cache: Path, *, max_bytes: int = 1 << 30) -> S3Backend:
    location = S3Location(bucket=bucket, prefix="store", endpoint_url=endpoint)
    return S3Backend(
        location, cache, cache_max_bytes=max_bytes, cache_grace_seconds=0, transfer=SMALL_PARTS
    )


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def count_calls(client, operation: str) -> list[int]:
    calls: list[int] = []
    client.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


def test_multipart_upload_records_full_file_sha256(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    backend = make_backend(endpoint, bucket, tmp_path / "cache")
    parts = count_calls(backend.client, "UploadPart")
    source = random_file(tmp_path / "big.iso", 17 * MIB)
    expected = hashlib.sha256(source.read_bytes()).hexdigest()

    ref = backend.put_file(source, media_type="application/x-iso9660-image")
    manifest = Manifest(
        asset="iso",
        product="p",
        version="1.0.0",
        input_digest="a" * 64,
        code_version="1",
        files={"big.iso": ref},
    )
    store = ArtifactStore(root=str(tmp_path / "c2"), work_dir=str(tmp_path / "w"))
    store._backend = backend
    store.write_manifest(manifest)

    assert len(parts) == 4  # 17 MiB in 5 MiB parts
    stored = store.read_manifest("p", "1.0.0", "iso")
    assert stored is not None and stored.files["big.iso"].sha256 == expected == ref.sha256
    head = backend.client.head_object(Bucket=bucket, Key=f"store/{ref.key}", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 17 * MIB
    assert head["Metadata"]["sha256"] == expected
    assert "ChecksumSHA256" in head  # per-part SHA-256 (AWS appends "-4"; moto does not)

    fresh = make_backend(endpoint, bucket, tmp_path / "fresh-cache")
    downloaded = fresh.blob_path(ref)
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == expected


def test_existing_blob_is_not_uploaded_again(endpoint: str, bucket: str, tmp_path: Path) -> None:
    source = random_file(tmp_path / "pkg.rpm", 300_000)
    make_backend(endpoint, bucket, tmp_path / "a").put_file(source, media_type="x")
    other = make_backend(endpoint, bucket, tmp_path / "b")  # new process, empty cache
    puts = count_calls(other.client, "PutObject")
    heads = count_calls(other.client, "HeadObject")
    other.put_file(source, media_type="x")
    assert puts == [] and len(heads) == 1


def test_failed_multipart_upload_leaves_no_blob_and_retry_succeeds(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    backend = make_backend(endpoint, bucket, tmp_path / "cache")
    source = random_file(tmp_path / "rootfs.tar.gz", 16 * MIB)
    lock = threading.Lock()
    seen: list[int] = []

    def fail_second_part(**_: object) -> None:
        with lock:
            seen.append(1)
            if len(seen) == 2:
                raise ConnectionError("injected: connection dropped during part 2")

    backend.client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
    with pytest.raises(StoreError, match="cannot upload s3://.*/store/blobs/sha256/"):
        backend.put_file(source, media_type="application/gzip")
    backend.client.meta.events.unregister("before-call.s3.UploadPart", fail_second_part)

    assert bucket_usage(endpoint, bucket, "store/blobs/") == (0, 0)
    pending = backend.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert pending == []  # s3transfer aborted it: no orphaned parts

    ref = backend.put_file(source, media_type="application/gzip")
    assert bucket_usage(endpoint, bucket, "store/blobs/") == (1, 16 * MIB)
    assert backend.has(ref.key)


def test_corrupted_object_fails_verification(endpoint: str, bucket: str, tmp_path: Path) -> None:
    source = random_file(tmp_path / "ks.cfg", 4096)
    ref = make_backend(endpoint, bucket, tmp_path / "writer").put_file(source, media_type="x")
    boto3.client("s3", endpoint_url=endpoint).put_object(
        Bucket=bucket, Key=f"store/{ref.key}", Body=os.urandom(4096)
    )

    reader = make_backend(endpoint, bucket, tmp_path / "reader")
    with pytest.raises(IntegrityError, match=f"store/{ref.key}"):
        reader.blob_path(ref)
    assert not reader.path_of(ref.key).exists()
    assert list((tmp_path / "reader" / "tmp").iterdir()) == []


def test_two_versions_share_blobs(endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = ArtifactStore(
        root=str(tmp_path / "cache"),
        work_dir=str(tmp_path / "work"),
        backend="s3",
        s3_bucket=bucket,
        s3_prefix="store",
        s3_endpoint_url=endpoint,
    )
    shared = [random_file(tmp_path / f"shared-{i}.rpm", 200_000) for i in range(3)]

    def release(version: str, own_size: int) -> None:
        own = random_file(tmp_path / f"product-{version}.rpm", own_size)
        files = {p.name: store.put_file(p, media_type="application/x-rpm") for p in shared}
        files[own.name] = store.put_file(own, media_type="application/x-rpm")
        store.write_manifest(
            Manifest(
                asset="mirrored_repo",
                product="acme",
                version=version,
                input_digest=hashlib.sha256(version.encode()).hexdigest(),
                code_version="1",
                files=files,
            )
        )

    release("1.0.0", 50_000)
    first = bucket_usage(endpoint, bucket, "store/blobs/")
    release("1.1.0", 70_000)
    second = bucket_usage(endpoint, bucket, "store/blobs/")

    assert first == (4, 3 * 200_000 + 50_000)
    assert (second[0] - first[0], second[1] - first[1]) == (1, 70_000)
    assert bucket_usage(endpoint, bucket, "store/products/acme/")[0] == 2
    v1 = store.read_manifest("acme", "1.0.0", "mirrored_repo")
    v2 = store.read_manifest("acme", "1.1.0", "mirrored_repo")
    assert v1 is not None and v2 is not None
    assert {r.sha256 for r in v1.files.values()} & {r.sha256 for r in v2.files.values()}


def test_reuse_refused_when_a_blob_vanished_from_the_bucket(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    store = ArtifactStore(
        root=str(tmp_path / "cache"),
        work_dir=str(tmp_path / "w"),
        backend="s3",
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
    )
    ref = store.put_file(random_file(tmp_path / "f", 1000))
    manifest = Manifest(
        asset="iso",
        product="p",
        version="1.0.0",
        input_digest="b" * 64,
        code_version="1",
        files={"f": ref},
    )
    store.write_manifest(manifest)
    assert store.find_by_input_digest("iso", "b" * 64) == manifest
    boto3.client("s3", endpoint_url=endpoint).delete_object(Bucket=bucket, Key=ref.key)
    reader = store.model_copy()  # a new process: nothing remembered
    reader._backend = None
    assert reader.find_by_input_digest("iso", "b" * 64) is None


def test_read_cache_bound_evicts_least_recently_used(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    backend = make_backend(endpoint, bucket, tmp_path / "cache", max_bytes=3 * MIB)
    refs = []
    for i in range(4):
        refs.append(backend.put_file(random_file(tmp_path / f"f{i}", MIB), media_type="x"))
        # Distinct mtimes: the cache orders by last use.
        os.utime(backend.path_of(refs[-1].key), (time.time() - 100 + i, time.time() - 100 + i))
    backend.blob_path(refs[0])  # used again: now the most recent
    backend.put_file(random_file(tmp_path / "f4", MIB), media_type="x")

    cached = sorted(p.name for p in (tmp_path / "cache" / "blobs").rglob("*") if p.is_file())
    assert len(cached) == 3
    assert refs[0].sha256 in cached and refs[1].sha256 not in cached
    again = backend.blob_path(refs[1])  # evicted: downloaded and verified again
    assert hashlib.sha256(again.read_bytes()).hexdigest() == refs[1].sha256


def test_store_from_env_selects_backend(tmp_path: Path) -> None:
    local = store_from_env(tmp_path / "s", tmp_path / "w", environ={})
    assert local.backend == "local" and local.root == str(tmp_path / "s")
    s3 = store_from_env(
        tmp_path / "s",
        tmp_path / "w",
        environ={
            "ISO_ASSETS_STORE": "s3",
            "ISO_ASSETS_S3_BUCKET": "releases",
            "ISO_ASSETS_S3_PREFIX": "iso-assets/",
            "ISO_ASSETS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_REGION": "eu-west-1",
            "ISO_ASSETS_CACHE_MAX_BYTES": "1000000",
        },
    )
    assert (s3.backend, s3.s3_bucket, s3.s3_prefix) == ("s3", "releases", "iso-assets/")
    assert (s3.s3_region, s3.s3_endpoint_url) == ("eu-west-1", "http://127.0.0.1:9000")
    assert s3.cache_max_bytes == 1_000_000
    assert (
        S3Location("releases", "iso-assets/").url("blobs/x") == "s3://releases/iso-assets/blobs/x"
    )
    with pytest.raises(StoreError, match="ISO_ASSETS_S3_BUCKET"):
        store_from_env(environ={"ISO_ASSETS_STORE": "s3"})
    with pytest.raises(StoreError, match="local or s3"):
        store_from_env(environ={"ISO_ASSETS_STORE": "gcs"})
    with pytest.raises(StoreError, match="s3_bucket"):
        ArtifactStore(root=str(tmp_path), backend="s3").has_blob("0" * 64)
