"""Small typed references that assets pass between each other instead of bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HASH_CHUNK = 1024 * 1024


class BlobRef(BaseModel):
    """A content-addressed object: where it is, what it is, its sha256 and size."""

    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = "application/octet-stream"

    @property
    def key(self) -> str:
        return f"blobs/sha256/{self.sha256[:2]}/{self.sha256}"


class Manifest(BaseModel):
    """What one asset produced for one product version; written last, as the commit point."""

    asset: str
    product: str
    version: str
    input_digest: str
    code_version: str
    files: dict[str, BlobRef] = Field(default_factory=dict, description="logical path -> blob")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def output_digest(self) -> str:
        """sha256 over the file list: the Dagster data_version of this output."""
        listing = {path: ref.sha256 for path, ref in sorted(self.files.items())}
        return digest_of(listing)


def digest_of(value: Any) -> str:
    """sha256 of a JSON-serialisable value in canonical form."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
