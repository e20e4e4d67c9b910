"""The code location: assets, resources and jobs that `workspace.yaml` loads."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from iso_assets.assets import BUILD_ASSETS
from iso_assets.partitions import product_version_partitions
from iso_assets.paths import iso_assets_home, product_spec_path
from resources.product import ProductSpecResource
from resources.store import ArtifactStore


def default_resources() -> dict[str, object]:
    home = iso_assets_home()
    return {
        "product": ProductSpecResource(spec_path=str(product_spec_path())),
        "store": ArtifactStore(root=str(home / "store"), work_dir=str(home / "work")),
    }


build_iso_job = define_asset_job(
    "build_iso",
    selection=AssetSelection.assets(*BUILD_ASSETS),
    partitions_def=product_version_partitions,
    description="Mirror, repodata, rootfs, kickstart, ISO and checksum of one product version.",
)

defs = Definitions(
    assets=BUILD_ASSETS,
    resources=default_resources(),
    jobs=[build_iso_job],
    # Build steps are tool-bound and the machine small: one process per run, steps in order.
    executor=in_process_executor,
)
