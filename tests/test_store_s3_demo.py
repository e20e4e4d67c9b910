"""The demo product built with the S3 backend against a local S3 server; a second version
stores only its new blobs. Emulator caveats: see tests/test_store_s3.py."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from iso_assets.artifacts import BlobRef
from iso_assets.demo.product_rpms import build_product_rpms
from iso_assets.paths import DEMO_SPEC
from iso_assets.spec import load_product_spec
from resources.store import ArtifactStore
from tests.pipeline_fixtures import DemoInputs, asset_metadata, copy_spec, run_build
from tests.s3_fixtures import new_bucket
from tests.test_store_s3 import bucket_usage

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)
INCOMING = "incoming: ${DEMO_BUILD_DIR:-../../build/demo}/incoming"


def s3_store(tmp_path: Path, endpoint: str, bucket: str) -> ArtifactStore:
    return ArtifactStore(
        root=str(tmp_path / "cache"),
        work_dir=str(tmp_path / "work"),
        backend="s3",
        s3_bucket=bucket,
        s3_prefix="iso-assets",
        s3_endpoint_url=endpoint,
    )


def test_demo_on_s3_second_version_stores_only_new_blobs(
    demo_inputs: DemoInputs, endpoint: str, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    shutil.copytree(demo_inputs.build_dir / "incoming", incoming)
    spec_path = copy_spec(tmp_path, {INCOMING: f"incoming: {incoming}"})
    bucket = new_bucket(endpoint)
    store = s3_store(tmp_path, endpoint, bucket)

    first = run_build(store, "1.0.0", spec_path=spec_path)
    assert first.success
    v1_blobs = bucket_usage(endpoint, bucket, "iso-assets/blobs/")
    v1_all = bucket_usage(endpoint, bucket, "iso-assets/")

    epoch = load_product_spec(DEMO_SPEC).source_date_epoch
    build_product_rpms(incoming / "1.1.0", version="1.1.0", source_date_epoch=epoch)
    second = run_build(store, "1.1.0", spec_path=spec_path)
    assert second.success
    v2_blobs = bucket_usage(endpoint, bucket, "iso-assets/blobs/")
    v2_all = bucket_usage(endpoint, bucket, "iso-assets/")

    new_objects, new_bytes = v2_blobs[0] - v1_blobs[0], v2_blobs[1] - v1_blobs[1]
    report = (
        f"S3 demo: 1.0.0 stored {v1_blobs[0]} blobs / {v1_blobs[1]} bytes "
        f"({v1_all[0]} objects / {v1_all[1]} bytes with manifests); 1.1.0 added {new_objects} "
        f"blobs / {new_bytes} bytes ({v2_all[0] - v1_all[0]} objects / "
        f"{v2_all[1] - v1_all[1]} bytes with manifests)"
    )
    log.warning(report)
    print(report)

    meta = asset_metadata(second)
    assert meta["mirrored_repo"]["packages_downloaded"] == 0
    v1_refs = manifest_refs(store, "1.0.0")
    new_paths = {
        path
        for path, ref in manifest_files(store, "1.1.0").items()
        if (ref.sha256, ref.size) not in v1_refs
    }
    new_refs = {
        (ref.sha256, ref.size)
        for p, ref in manifest_files(store, "1.1.0").items()
        if p in new_paths
    }
    # Exactly the blobs 1.0.0 lacked were uploaded, and they all come from the new product
    # RPMs: the product repo, media facts, rootfs, kickstart (version in it), ISO, checksum.
    assert (new_objects, new_bytes) == (len(new_refs), sum(size for _, size in new_refs))
    assert all(not p.split(":", 1)[1].startswith(("BaseOS/", "AppStream/")) for p in new_paths), (
        new_paths
    )
    assert {p.split("/")[-1] for p in new_paths if p.endswith(".rpm")} == {
        "acme-server-1.1.0-1.el9.x86_64.rpm",
        "acme-tools-1.1.0-1.el9.noarch.rpm",
    }

    # Everything the second version names can be read back, verified, with an empty cache.
    reader = s3_store(tmp_path / "reader", endpoint, bucket)
    iso = reader.read_manifest("acme-server", "1.1.0", "iso")
    assert iso is not None
    for ref in iso.files.values():
        reader.blob_path(ref, verify=True)


def manifest_files(store: ArtifactStore, version: str) -> dict[str, BlobRef]:
    """Every file the version's manifests name, as "<asset>:<path>" -> ref."""
    files = {}
    for asset in ("mirrored_repo", "repodata", "rootfs", "kickstart", "iso", "iso_checksum"):
        manifest = store.read_manifest("acme-server", version, asset)
        assert manifest is not None, asset
        files.update({f"{asset}:{path}": ref for path, ref in manifest.files.items()})
    return files


def manifest_refs(store: ArtifactStore, version: str) -> set[tuple[str, int]]:
    return {(ref.sha256, ref.size) for ref in manifest_files(store, version).values()}
