"""Local-directory backend of the artifact store (the default that needs nothing)."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iso_assets.artifacts import HASH_CHUNK, BlobRef, sha256_file
from iso_assets.errors import IntegrityError, StoreError

log = logging.getLogger(__name__)


class LocalBackend:
    """Blobs under `root/blobs/sha256/<ab>/<digest>`, JSON documents under their key.

    Every blob is written to a temporary file and renamed into place; blobs are made durable
    together by `flush()` (one syncfs of the store's filesystem instead of an fsync per file,
    which cost ~1 s per 300 small packages here), and the store calls it before writing any
    manifest, so a committed manifest never names bytes that a crash could lose. A blob left
    short by a crash before the flush has the wrong size and is rewritten by the next put.
    JSON documents are fsynced one by one. `durable=False` skips all of it; the S3 backend's
    read cache uses it, since S3 holds the authoritative copy.
    """

    def __init__(self, root: Path, *, durable: bool = True):
        self.root = root
        self.durable = durable
        self._unflushed = False

    def flush(self) -> None:
        """Make every blob stored so far durable (before a manifest names them)."""
        if not (self.durable and self._unflushed):
            return
        started = time.monotonic()
        sync_filesystem(self.root)
        self._unflushed = False
        log.debug("store %s: blobs flushed in %.2f s", self.root, time.monotonic() - started)

    def path_of(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys the store does not hold."""
        return [key for key in keys if not self.has(key)]

    def local_copy(self, sha256: str) -> Path | None:
        """The stored file with this sha256, or None."""
        path = self.path_of(BlobRef(sha256=sha256, size=0).key)
        return path if path.is_file() else None

    def put_file(self, source: Path, *, media_type: str, move: bool = False) -> BlobRef:
        """Store `source`, hashing in the same pass; an existing blob is not rewritten.

        `move=True` lets the store take the file (a rename within one filesystem): one read to
        hash, no second write. The caller must not use `source` afterwards. A symlink, a file
        on another filesystem or a file that is already the stored blob is never moved.
        """
        if move and not source.is_symlink():
            return self._move_in(source, media_type)
        return self._copy_in(source, media_type)

    def _copy_in(self, source: Path, media_type: str) -> BlobRef:
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
            ref = BlobRef(sha256=digest.hexdigest(), size=size, media_type=media_type)
            final = self.path_of(ref.key)
            if final.is_file() and final.stat().st_size == size:
                return ref
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, final)
            self._unflushed = True
            return ref
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _move_in(self, source: Path, media_type: str) -> BlobRef:
        sha256, size = sha256_file(source)
        ref = BlobRef(sha256=sha256, size=size, media_type=media_type)
        final = self.path_of(ref.key)
        if final.is_file() and final.stat().st_size == size:
            return ref
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(source, 0o444)
            os.replace(source, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another filesystem: a rename cannot take it, copy instead.
            return self._copy_in(source, media_type)
        self._unflushed = True
        return ref

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
                if self.durable:
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


def sync_filesystem(path: Path) -> None:
    """syncfs(2) on the filesystem holding `path` (Linux); os.sync() elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path} failed")
    finally:
        os.close(fd)
