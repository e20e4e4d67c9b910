"""The whole asset graph, materialized in-process with the real tools on the demo product."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from iso_assets.checksum import verify_sha256sums
from iso_assets.iso.inspect import read_el_torito
from iso_assets.kickstart import validate_kickstart
from tests.pipeline_fixtures import DemoInputs, asset_metadata, make_store, run_build

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ASSETS = {"mirrored_repo", "repodata", "rootfs", "kickstart", "iso", "iso_checksum"}


@pytest.fixture(scope="module")
def first_build(demo_inputs: DemoInputs, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pipeline")
    store = make_store(root)
    result = run_build(store)
    assert result.success
    return store, asset_metadata(result)


def test_every_asset_is_materialized_and_stored(first_build) -> None:
    store, metadata = first_build
    assert set(metadata) == ASSETS
    for asset in ASSETS:
        manifest = store.read_manifest("acme-server", "1.0.0", asset)
        assert manifest is not None and manifest.files, asset
        for ref in manifest.files.values():
            store.blob_path(ref, verify=True)
    assert metadata["mirrored_repo"]["packages_downloaded"] > 0


def test_iso_is_hybrid_and_checksum_verifies(first_build, tmp_path: Path) -> None:
    store, metadata = first_build
    iso_manifest = store.read_manifest("acme-server", "1.0.0", "iso")
    name = "acme-server-1.0.0-x86_64.iso"
    iso_path = store.blob_path(iso_manifest.files[name])
    platforms = {entry.platform for entry in read_el_torito(iso_path)}
    assert platforms == {"BIOS", "UEFI"}
    sums = store.read_manifest("acme-server", "1.0.0", "iso_checksum")
    (tmp_path / name).symlink_to(iso_path)
    sums_path = tmp_path / "SHA256SUMS"
    sums_path.write_bytes(store.blob_path(sums.files["SHA256SUMS"]).read_bytes())
    verify_sha256sums(sums_path, tmp_path)
    assert sums_path.read_text() == f"{metadata['iso']['iso_sha256']}  {name}\n"


def test_kickstart_is_clean_for_rhel9(first_build) -> None:
    store, _ = first_build
    ks = store.read_manifest("acme-server", "1.0.0", "kickstart")
    text = store.blob_path(ks.files["ks.cfg"]).read_text()
    assert "rootpw --iscrypted $6$" in text and "selinux --enforcing" in text
    errors = [
        f for f in validate_kickstart(text, handler="RHEL9", media=None) if f.severity == "ERROR"
    ]
    assert errors == []


def test_rootfs_has_rpmdb_and_product(first_build) -> None:
    store, metadata = first_build
    rootfs = store.read_manifest("acme-server", "1.0.0", "rootfs")
    with tarfile.open(store.blob_path(rootfs.files["rootfs.tar.gz"])) as tar:
        names = set(tar.getnames())
    assert "var/lib/rpm/rpmdb.sqlite" in names
    assert "opt/acme-server/bin/start.sh" in names
    assert "usr/lib/systemd/system/acme-server.service" in names
    assert any(p.startswith("acme-server-1.0.0-1.el9") for p in metadata["rootfs"]["packages"])


def test_second_run_reuses_and_downloads_nothing(first_build) -> None:
    store, first = first_build
    result = run_build(store)
    assert result.success
    again = asset_metadata(result)
    assert again["mirrored_repo"]["packages_downloaded"] == 0
    for asset in ASSETS - {"mirrored_repo"}:
        assert again[asset]["reused"] is True, asset
    assert again["iso"]["iso_sha256"] == first["iso"]["iso_sha256"]


def test_rebuild_from_scratch_is_bit_identical(first_build, tmp_path: Path) -> None:
    _, first = first_build
    result = run_build(make_store(tmp_path))
    assert result.success
    assert asset_metadata(result)["iso"]["iso_sha256"] == first["iso"]["iso_sha256"]


def test_trivy_scan_of_the_demo_passes_the_gate(first_build) -> None:
    from iso_assets.assets import trivy_scan

    store, _ = first_build
    result = run_build(store, selection=[trivy_scan])
    assert result.success
    scan = asset_metadata(result)["trivy_scan"]
    assert scan["package_count"] == 4 and scan["os"] == "9.4"
    assert scan["policy_passed"] is True
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("trivy_scan_policy", True)]
    manifest = store.read_manifest("acme-server", "1.0.0", "trivy_scan")
    assert {"trivy-rootfs.json", "sbom.cdx.json", "trivy-iso.json"} <= set(manifest.files)


def test_release_gates_pass_on_the_demo(first_build) -> None:
    store, _ = first_build
    result = run_build(store)
    evaluations = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert evaluations == {
        "repodata_consistent": True,
        "kickstart_valid": True,
        "volume_id_valid": True,
        "iso_boot_entries": True,
        "iso_hybrid": True,
        "iso_labels": True,
        "iso_file_list": True,
    }


def test_a_failing_gate_blocks_downstream(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    """A BIOS-only image where the store's ISO should be: the gates read the stored bytes."""
    import os

    from iso_assets.process import run_tool

    store = make_store(tmp_path)
    assert run_build(store).success
    name = "acme-server-1.0.0-x86_64.iso"
    blob = store.blob_path(store.read_manifest("acme-server", "1.0.0", "iso").files[name])
    tree = tmp_path / "tree"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "isolinux/isolinux.bin").write_bytes(
        Path("/usr/lib/ISOLINUX/isolinux.bin").read_bytes()
    )
    (tree / "isolinux/isolinux.cfg").write_text("default linux\nlabel linux\n  kernel vmlinuz\n")
    bios_only = tmp_path / "bios-only.iso"
    # The uefi01 field failure: BIOS El Torito only, though the rest of the build is fine.
    run_tool(
        [
            "xorriso",
            "-as",
            "mkisofs",
            "-V",
            "ACME-1-0-0-X86_64",
            "-R",
            "-o",
            bios_only,
            "-isohybrid-mbr",
            "/usr/lib/ISOLINUX/isohdpfx.bin",
            "-c",
            "isolinux/boot.cat",
            "-b",
            "isolinux/isolinux.bin",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            tree,
        ]
    )
    os.chmod(blob, 0o644)
    blob.write_bytes(bios_only.read_bytes())

    result = run_build(store)
    assert not result.success
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not evaluations["iso_boot_entries"].passed
    assert "no UEFI El Torito entry" in evaluations["iso_boot_entries"].metadata["problems"].text
    assert not evaluations["iso_file_list"].passed
    materialized = {
        e.event_specific_data.materialization.asset_key.to_user_string()  # type: ignore[union-attr]
        for e in result.get_asset_materialization_events()
    }
    assert "iso" in materialized and "iso_checksum" not in materialized


def test_vm_test_of_the_demo_passes_every_cell(first_build) -> None:
    """All four cells (SeaBIOS/OVMF x CD/USB) boot the stored demo ISO under KVM or TCG."""
    from iso_assets.assets import vm_test_report

    store, _ = first_build
    result = run_build(store, selection=[vm_test_report])
    assert result.success
    report = asset_metadata(result)["vm_test_report"]
    assert report["passed"] is True and report["cells_passed"] == 4
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("vm_boot_passed", True)]
    manifest = store.read_manifest("acme-server", "1.0.0", "vm_test_report")
    screenshots = [path for path in manifest.files if path.startswith("screenshots/")]
    assert len(screenshots) == 4
    html = store.blob_path(manifest.files["vm-test-report.html"]).read_text()
    assert html.count("<img") == 4
