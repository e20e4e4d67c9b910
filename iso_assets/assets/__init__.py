"""Dagster assets, one module per asset, in pipeline order."""

from iso_assets.assets.iso import iso
from iso_assets.assets.iso_checksum import iso_checksum
from iso_assets.assets.kickstart import kickstart
from iso_assets.assets.mirrored_repo import mirrored_repo
from iso_assets.assets.repodata import repodata
from iso_assets.assets.rootfs import rootfs

BUILD_ASSETS = [mirrored_repo, repodata, rootfs, kickstart, iso, iso_checksum]

__all__ = ["BUILD_ASSETS"]
