"""Dagster assets, one module per asset, in pipeline order."""

from iso_assets.assets.iso import iso
from iso_assets.assets.iso_checksum import iso_checksum
from iso_assets.assets.kickstart import kickstart
from iso_assets.assets.mirrored_repo import mirrored_repo
from iso_assets.assets.repodata import repodata
from iso_assets.assets.rootfs import rootfs
from iso_assets.assets.trivy_scan import trivy_scan
from iso_assets.assets.vm_test_report import vm_test_report

BUILD_ASSETS = [mirrored_repo, repodata, rootfs, kickstart, iso, iso_checksum]
RELEASE_ASSETS = [vm_test_report, trivy_scan]
ALL_ASSETS = [*BUILD_ASSETS, *RELEASE_ASSETS]

__all__ = ["ALL_ASSETS", "BUILD_ASSETS", "RELEASE_ASSETS", "trivy_scan", "vm_test_report"]
