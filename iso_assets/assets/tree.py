"""Present stored blobs as a folder of symlinks, for tools that want a directory tree."""

from __future__ import annotations

from pathlib import Path

from iso_assets.artifacts import BlobRef
from resources.store import ArtifactStore


def link_tree(store: ArtifactStore, files: dict[str, BlobRef], dest: Path) -> Path:
    """Symlink every logical path under `dest` to its blob; no bytes are copied."""
    for logical_path, ref in files.items():
        link = dest / logical_path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(store.blob_path(ref))
    return dest


def under(files: dict[str, BlobRef], prefix: str) -> dict[str, BlobRef]:
    """The entries below `prefix/`, with the prefix removed."""
    start = prefix.rstrip("/") + "/"
    return {path[len(start) :]: ref for path, ref in files.items() if path.startswith(start)}
