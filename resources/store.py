"""The ArtifactStore resource: content-addressed blobs plus per-version manifests.

Layout (same keys on every backend):
  blobs/sha256/<ab>/<digest>                       file contents, stored once
  products/<product>/<version>/<asset>.json        manifest, written last (the commit point)
  digests/<asset>/<input_digest>.json              the manifest an input digest produced

A failed run writes no manifest, so nothing half-built is ever registered.

Backends: `local` (a directory, the default that needs nothing) or `s3` (a bucket, with
`root` as the local read cache). Select one in the resource config or, through
`store_from_env`, with these environment variables:
  ISO_ASSETS_STORE             local | s3 (default local)
  ISO_ASSETS_S3_BUCKET         bucket name (required for s3)
  ISO_ASSETS_S3_PREFIX         key prefix inside the bucket (default none)
  ISO_ASSETS_S3_ENDPOINT_URL   S3-compatible server (MinIO, Ceph RGW); unset for AWS
  AWS_REGION / AWS_DEFAULT_REGION   region (first one set wins)
  ISO_ASSETS_CACHE_MAX_BYTES   bound of the S3 read cache (default 20 GiB)
Credentials always come from the standard AWS chain, never from this configuration.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from iso_assets.artifacts import BlobRef, Manifest
from iso_assets.errors import StoreError
from iso_assets.s3 import endpoint_from_env, region_from_env
from resources.local_backend import LocalBackend
from resources.s3_backend import DEFAULT_CACHE_MAX_BYTES, S3Backend, S3Location

log = logging.getLogger(__name__)

Backend = LocalBackend | S3Backend


class ArtifactStore(ConfigurableResource):
    """Where every artifact lives. `root` is the local store (or the S3 read cache)."""

    root: str = Field(default=".iso-assets/store", description="local store, or S3 read cache")
    work_dir: str = Field(default=".iso-assets/work", description="scratch space for builds")
    backend: Literal["local", "s3"] = Field(default="local", description="where blobs live")
    s3_bucket: str | None = Field(default=None, description="bucket (backend s3)")
    s3_prefix: str = Field(default="", description="key prefix inside the bucket")
    s3_region: str | None = Field(default=None, description="region; default: the AWS chain")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph); unset for AWS"
    )
    cache_max_bytes: int = Field(
        default=DEFAULT_CACHE_MAX_BYTES, description="size bound of the S3 read cache"
    )

    _backend: Backend | None = PrivateAttr(default=None)

    @property
    def blobs(self) -> Backend:
        """The backend object, created on first use."""
        if self._backend is None:
            self._backend = self._make_backend()
        return self._backend

    def _make_backend(self) -> Backend:
        root = Path(self.root).resolve()
        if self.backend == "local":
            return LocalBackend(root)
        if not self.s3_bucket:
            raise StoreError(
                "store backend is s3 but no bucket is set; set s3_bucket in the store "
                "resource config or ISO_ASSETS_S3_BUCKET"
            )
        location = S3Location(
            bucket=self.s3_bucket,
            prefix=self.s3_prefix,
            region=self.s3_region,
            endpoint_url=self.s3_endpoint_url,
        )
        log.info(
            "artifact store: %s%s, read cache %s (bound %d bytes)",
            location.url(""),
            f" at {location.endpoint_url}" if location.endpoint_url else "",
            root,
            self.cache_max_bytes,
        )
        return S3Backend(location, root, cache_max_bytes=self.cache_max_bytes)

    def scratch_dir(self, *parts: str) -> Path:
        """A fresh scratch folder for one build step (emptied if it exists)."""
        path = Path(self.work_dir).resolve().joinpath(*parts)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def put_file(
        self, path: Path, *, media_type: str = "application/octet-stream", move: bool = False
    ) -> BlobRef:
        """Store a file by content. `move=True` lets the store take a scratch file (renamed
        in, read once to hash) instead of copying it; the caller must not use it afterwards."""
        return self.blobs.put_file(path, media_type=media_type, move=move)

    def has_blob(self, sha256: str) -> bool:
        return self.blobs.has(BlobRef(sha256=sha256, size=0).key)

    def local_blob(self, sha256: str) -> Path | None:
        """A local file of a stored blob, or None when the store does not hold it."""
        return self.blobs.local_copy(sha256)

    def blob_path(self, ref: BlobRef, *, verify: bool = False) -> Path:
        """A local, read-only path holding the blob's bytes."""
        return self.blobs.blob_path(ref, verify=verify)

    def manifest_key(self, product: str, version: str, asset: str) -> str:
        return f"products/{product}/{version}/{asset}.json"

    def write_manifest(self, manifest: Manifest) -> None:
        """Commit an asset's output: the digest index first, the version's manifest last."""
        document = manifest.model_dump(mode="json")
        self.blobs.flush()
        self.blobs.put_json(f"digests/{manifest.asset}/{manifest.input_digest}.json", document)
        self.blobs.put_json(
            self.manifest_key(manifest.product, manifest.version, manifest.asset), document
        )

    def read_manifest(self, product: str, version: str, asset: str) -> Manifest | None:
        document = self.blobs.get_json(self.manifest_key(product, version, asset))
        return Manifest.model_validate(document) if document else None

    def find_by_input_digest(self, asset: str, input_digest: str) -> Manifest | None:
        """A stored output for these exact inputs, if every blob it names is still present."""
        document = self.blobs.get_json(f"digests/{asset}/{input_digest}.json")
        if not document:
            return None
        manifest = Manifest.model_validate(document)
        missing = self.blobs.missing(sorted({ref.key for ref in manifest.files.values()}))
        if missing:
            log.info(
                "not reusing %s output %s: %d blobs missing", asset, input_digest, len(missing)
            )
            return None
        return manifest


def store_from_env(
    root: Path | None = None,
    work_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ArtifactStore:
    """The ArtifactStore the environment selects (see the module docstring for the names).

    `root` and `work_dir` default to `store` and `work` under ISO_ASSETS_HOME. Raises
    StoreError for an unknown ISO_ASSETS_STORE or an s3 store without a bucket.
    """
    from iso_assets.paths import iso_assets_home

    env = os.environ if environ is None else environ
    home = iso_assets_home()
    kind = env.get("ISO_ASSETS_STORE", "local").strip().lower() or "local"
    root_dir = str(root or home / "store")
    work = str(work_dir or home / "work")
    if kind == "local":
        return ArtifactStore(root=root_dir, work_dir=work)
    if kind != "s3":
        raise StoreError(f"ISO_ASSETS_STORE={kind!r} is not a store backend; use local or s3")
    bucket = env.get("ISO_ASSETS_S3_BUCKET", "").strip()
    if not bucket:
        raise StoreError("ISO_ASSETS_STORE=s3 needs ISO_ASSETS_S3_BUCKET (the bucket name)")
    cache_bound = env.get("ISO_ASSETS_CACHE_MAX_BYTES", "").strip()
    return ArtifactStore(
        root=root_dir,
        work_dir=work,
        backend="s3",
        s3_bucket=bucket,
        s3_prefix=env.get("ISO_ASSETS_S3_PREFIX", ""),
        s3_region=region_from_env(env),
        s3_endpoint_url=endpoint_from_env(env=env),
        cache_max_bytes=int(cache_bound) if cache_bound else DEFAULT_CACHE_MAX_BYTES,
    )
