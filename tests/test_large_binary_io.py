"""Case dag03-large-binary-io: ISO bytes never travel through Dagster's IO manager.

Assets return small references (manifest in the store, metadata in the event log); the bytes
stream into the artifact store. The contrast asset shows what returning bytes would cost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, FilesystemIOManager, asset, materialize

from iso_assets.assets import BUILD_ASSETS
from iso_assets.partitions import PARTITIONS_NAME
from iso_assets.paths import DEMO_SPEC
from resources.product import ProductSpecResource
from tests.pipeline_fixtures import DemoInputs, make_store

pytestmark = [pytest.mark.integration]
STAND_IN_BYTES = 32 * 2**20


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_bytes_output_would_fill_io_storage(tmp_path: Path) -> None:
    @asset
    def iso_as_bytes() -> bytes:
        return b"\0" * STAND_IN_BYTES

    io_dir = tmp_path / "io"
    result = materialize(
        [iso_as_bytes], resources={"io_manager": FilesystemIOManager(base_dir=str(io_dir))}
    )
    assert result.success
    assert folder_bytes(io_dir) >= STAND_IN_BYTES


def test_build_assets_keep_io_storage_tiny(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    io_dir = tmp_path / "io"
    store = make_store(tmp_path)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.0.0"])
    result = materialize(
        BUILD_ASSETS,
        partition_key="1.0.0",
        instance=instance,
        resources={
            "product": ProductSpecResource(spec_path=str(DEMO_SPEC)),
            "store": store,
            "io_manager": FilesystemIOManager(base_dir=str(io_dir)),
        },
    )
    assert result.success
    iso_manifest = store.read_manifest("acme-server", "1.0.0", "iso")
    iso_ref = iso_manifest.files["acme-server-1.0.0-x86_64.iso"]
    assert iso_ref.size > 10 * 2**20
    assert folder_bytes(io_dir) < 64 * 1024
