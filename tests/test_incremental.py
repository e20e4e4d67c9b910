"""Incremental materialization on the demo product: what a rebuild reuses and what it redoes.

Each test starts from the same cold build (a local store) and checks `reused`, the mirror's
download counters and the Dagster data version (the output digest) of every asset.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from iso_assets.demo.product_rpms import SPEC_DIR, build_product_rpms
from iso_assets.paths import DEMO_SPEC
from iso_assets.rpm.header import read_rpm_header
from iso_assets.spec import load_product_spec
from tests.pipeline_fixtures import DemoInputs, asset_metadata, copy_spec, make_store, run_build

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ASSETS = ["mirrored_repo", "repodata", "rootfs", "kickstart", "iso", "iso_checksum"]
# The package re-exports the asset under the module's name; the module holds CODE_VERSION.
KICKSTART_MODULE = importlib.import_module("iso_assets.assets.kickstart")
INCOMING = "incoming: ${DEMO_BUILD_DIR:-../../build/demo}/incoming"


def data_versions(result: ExecuteInProcessResult) -> dict[str, str]:
    versions = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        tags = materialization.tags or {}
        versions[materialization.asset_key.to_user_string()] = tags["dagster/data_version"]
    return versions


def private_spec(demo_inputs: DemoInputs, folder: Path) -> Path:
    """A demo spec whose incoming folder is a private copy (tests may add RPMs to it)."""
    folder.mkdir(parents=True)
    incoming = folder / "incoming"
    shutil.copytree(demo_inputs.build_dir / "incoming", incoming)
    return copy_spec(folder, {INCOMING: f"incoming: {incoming}"})


@pytest.fixture(scope="module")
def cold(demo_inputs: DemoInputs, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("incremental")
    spec_path = private_spec(demo_inputs, root / "spec")
    store = make_store(root)
    instance = DagsterInstance.ephemeral()
    result = run_build(store, spec_path=spec_path, instance=instance)
    assert result.success
    meta = asset_metadata(result)
    assert not any(meta[asset]["reused"] for asset in ASSETS)
    return store, spec_path, instance, data_versions(result)


def test_noop_rebuild_reuses_everything_and_downloads_nothing(cold) -> None:
    store, spec_path, instance, first_versions = cold
    result = run_build(store, spec_path=spec_path, instance=instance)
    assert result.success
    meta = asset_metadata(result)

    # The mirror always asks upstream (repomd first) but fetches no package again.
    assert meta["mirrored_repo"]["reused"] is False
    assert meta["mirrored_repo"]["packages_downloaded"] == 0
    assert meta["mirrored_repo"]["bytes_downloaded"] == 0
    for asset in ASSETS[1:]:
        assert meta[asset]["reused"] is True, asset
    assert data_versions(result) == first_versions


def test_code_version_bump_rebuilds_that_asset_only(cold, monkeypatch) -> None:
    store, spec_path, instance, first_versions = cold
    monkeypatch.setattr(KICKSTART_MODULE, "CODE_VERSION", "incremental-test-bump")
    result = run_build(store, spec_path=spec_path, instance=instance)
    assert result.success
    meta = asset_metadata(result)

    assert meta["kickstart"]["reused"] is False
    for asset in ("repodata", "rootfs", "iso", "iso_checksum"):
        assert meta[asset]["reused"] is True, asset
    # Same ks.cfg bytes, so the same data version: downstream stays fresh and is reused.
    assert data_versions(result) == first_versions


def test_new_product_rpm_release_rebuilds_repodata_and_downstream(
    cold, demo_inputs: DemoInputs, tmp_path: Path
) -> None:
    store, _, instance, first_versions = cold
    spec_path = private_spec(demo_inputs, tmp_path / "spec")
    incoming = spec_path.parent / "incoming"
    # Release 2 of both product RPMs (acme-tools requires acme-server of its own release).
    specs = tmp_path / "release-2-specs"
    specs.mkdir()
    for spec_file in SPEC_DIR.glob("*.spec"):
        text = spec_file.read_text()
        assert "Release:        1%{?dist}" in text
        (specs / spec_file.name).write_text(
            text.replace("Release:        1%{?dist}", "Release:        2%{?dist}")
        )
    epoch = load_product_spec(DEMO_SPEC).source_date_epoch
    built = build_product_rpms(
        incoming / "release-2", version="1.0.0", source_date_epoch=epoch, spec_dir=specs
    )
    assert {read_rpm_header(path).release for path in built} == {"2.el9"}

    result = run_build(store, spec_path=spec_path, instance=instance)
    assert result.success
    meta = asset_metadata(result)
    versions = data_versions(result)

    assert meta["mirrored_repo"]["packages_downloaded"] == 0
    assert versions["mirrored_repo"] == first_versions["mirrored_repo"]
    for asset in ("repodata", "rootfs", "iso", "iso_checksum"):
        assert meta[asset]["reused"] is False, asset
        assert versions[asset] != first_versions[asset], asset
    repos: Any = meta["repodata"]["repos"]
    assert "acme-server-1.0.0-2.el9.x86_64" in repos["product"]["rpms"]
    # ks.cfg names packages, not builds: rebuilt (its input changed) to the same bytes.
    assert meta["kickstart"]["reused"] is False
    assert versions["kickstart"] == first_versions["kickstart"]
