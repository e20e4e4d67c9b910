"""The ArtifactStore resource: content-addressed blobs plus per-version manifests.

Layout (same keys on every backend):
  blobs/sha256/<ab>/<digest>                       file contents, stored once
  products/<product>/<version>/<asset>.json        manifest, written last (the commit point)
  digests/<asset>/<input_digest>.json              the manifest an input digest produced

A failed run writes no manifest, so nothing half-built is ever registered.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from iso_assets.artifacts import BlobRef, Manifest
from resources.local_backend import LocalBackend

log = logging.getLogger(__name__)


class ArtifactStore(ConfigurableResource):
    """Where every artifact lives. `root` is the local store (or the S3 read cache)."""

    root: str = Field(default=".iso-assets/store", description="local store directory")
    work_dir: str = Field(default=".iso-assets/work", description="scratch space for builds")

    _backend: LocalBackend | None = PrivateAttr(default=None)

    @property
    def backend(self) -> LocalBackend:
        if self._backend is None:
            self._backend = LocalBackend(Path(self.root).resolve())
        return self._backend

    def scratch_dir(self, *parts: str) -> Path:
        """A fresh scratch folder for one build step (emptied if it exists)."""
        import shutil

        path = Path(self.work_dir).resolve().joinpath(*parts)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def put_file(self, path: Path, *, media_type: str = "application/octet-stream") -> BlobRef:
        return self.backend.put_file(path, media_type=media_type)

    def has_blob(self, sha256: str) -> bool:
        return self.backend.has(BlobRef(sha256=sha256, size=0).key)

    def local_blob(self, sha256: str) -> Path | None:
        """The local file of a stored blob, or None when the store does not hold it."""
        ref = BlobRef(sha256=sha256, size=0)
        return self.backend.path_of(ref.key) if self.backend.has(ref.key) else None

    def blob_path(self, ref: BlobRef, *, verify: bool = False) -> Path:
        """A local, read-only path holding the blob's bytes."""
        return self.backend.blob_path(ref, verify=verify)

    def manifest_key(self, product: str, version: str, asset: str) -> str:
        return f"products/{product}/{version}/{asset}.json"

    def write_manifest(self, manifest: Manifest) -> None:
        """Commit an asset's output: the digest index first, the version's manifest last."""
        document = manifest.model_dump(mode="json")
        self.backend.put_json(f"digests/{manifest.asset}/{manifest.input_digest}.json", document)
        self.backend.put_json(
            self.manifest_key(manifest.product, manifest.version, manifest.asset), document
        )

    def read_manifest(self, product: str, version: str, asset: str) -> Manifest | None:
        document = self.backend.get_json(self.manifest_key(product, version, asset))
        return Manifest.model_validate(document) if document else None

    def find_by_input_digest(self, asset: str, input_digest: str) -> Manifest | None:
        """A stored output for these exact inputs, if every blob it names is still present."""
        document = self.backend.get_json(f"digests/{asset}/{input_digest}.json")
        if not document:
            return None
        manifest = Manifest.model_validate(document)
        missing = [p for p, ref in manifest.files.items() if not self.backend.has(ref.key)]
        if missing:
            log.info(
                "not reusing %s output %s: %d blobs missing", asset, input_digest, len(missing)
            )
            return None
        return manifest
