"""Local-directory backend of the artifact store (the default that needs nothing)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from iso_assets.artifacts import HASH_CHUNK, BlobRef, sha256_file
from iso_assets.errors import IntegrityError, StoreError


class LocalBackend:
    """Blobs under `root/blobs/sha256/<ab>/<digest>`, JSON documents under their key.

    Every write goes to a temporary file in the destination folder and is renamed into place
    after fsync, so a crash never leaves a half-written object under its final name.
    """

    def __init__(self, root: Path):
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def put_file(self, source: Path, *, media_type: str) -> BlobRef:
        """Copy `source` in, hashing in the same pass; an existing blob is not rewritten."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while chunk := src.read(HASH_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            ref = BlobRef(sha256=digest.hexdigest(), size=size, media_type=media_type)
            final = self.path_of(ref.key)
            if final.is_file() and final.stat().st_size == size:
                return ref
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, final)
            return ref
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def blob_path(self, ref: BlobRef, *, verify: bool = False) -> Path:
        """The stored file of `ref` (read-only); with `verify`, re-hash it first."""
        path = self.path_of(ref.key)
        if not path.is_file():
            raise StoreError(f"blob {ref.sha256} is missing from the store at {path}")
        if verify:
            actual, _ = sha256_file(path)
            if actual != ref.sha256:
                raise IntegrityError(
                    f"stored blob {path} has sha256 {actual}, expected {ref.sha256}; the store "
                    f"is corrupt: delete the file and rebuild the asset that produced it"
                )
        return path

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        final = self.path_of(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(document, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, final)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def get_json(self, key: str) -> dict[str, Any] | None:
        path = self.path_of(key)
        if not path.is_file():
            return None
        return json.loads(path.read_text())

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)
