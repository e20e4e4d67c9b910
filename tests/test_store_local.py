"""The local ArtifactStore backend: content addressing, manifests last, integrity."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from iso_assets.artifacts import Manifest
from iso_assets.errors import IntegrityError, StoreError
from resources.store import ArtifactStore


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(root=str(tmp_path / "store"), work_dir=str(tmp_path / "work"))


def test_blob_is_content_addressed_and_stored_once(store: ArtifactStore, tmp_path: Path) -> None:
    first = tmp_path / "a.rpm"
    second = tmp_path / "b.rpm"
    first.write_bytes(b"same bytes")
    second.write_bytes(b"same bytes")
    ref_a = store.put_file(first, media_type="application/x-rpm")
    ref_b = store.put_file(second)
    assert ref_a.sha256 == ref_b.sha256 == hashlib.sha256(b"same bytes").hexdigest()
    assert ref_a.size == 10
    blobs = list((Path(store.root) / "blobs").rglob("*"))
    assert [p.name for p in blobs if p.is_file()] == [ref_a.sha256]
    assert store.blob_path(ref_a).read_bytes() == b"same bytes"
    assert not list((Path(store.root) / "tmp").iterdir())


def test_corrupted_blob_is_detected(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "iso"
    source.write_bytes(b"x" * 4096)
    ref = store.put_file(source)
    path = store.blob_path(ref)
    os.chmod(path, 0o644)
    path.write_bytes(b"y" * 4096)
    with pytest.raises(IntegrityError, match=ref.sha256):
        store.blob_path(ref, verify=True)


def test_manifest_round_trip_and_digest_index(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "ks.cfg"
    source.write_text("text\n")
    ref = store.put_file(source, media_type="text/plain")
    manifest = Manifest(
        asset="kickstart",
        product="acme",
        version="1.0.0",
        input_digest="d" * 64,
        code_version="1",
        files={"ks.cfg": ref},
    )
    assert store.read_manifest("acme", "1.0.0", "kickstart") is None
    store.write_manifest(manifest)
    assert store.read_manifest("acme", "1.0.0", "kickstart") == manifest
    assert store.find_by_input_digest("kickstart", "d" * 64) == manifest
    assert store.find_by_input_digest("kickstart", "e" * 64) is None


def test_reuse_refused_when_a_blob_vanished(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_text("data")
    ref = store.put_file(source)
    manifest = Manifest(
        asset="iso",
        product="p",
        version="1.0.0",
        input_digest="a" * 64,
        code_version="1",
        files={"f": ref},
    )
    store.write_manifest(manifest)
    store.blob_path(ref).unlink()
    assert store.find_by_input_digest("iso", "a" * 64) is None
    with pytest.raises(StoreError, match="missing from the store"):
        store.blob_path(ref)


def test_scratch_dir_starts_empty(store: ArtifactStore) -> None:
    first = store.scratch_dir("iso", "acme", "1.0.0")
    (first / "leftover").write_text("x")
    again = store.scratch_dir("iso", "acme", "1.0.0")
    assert again == first and not list(again.iterdir())
