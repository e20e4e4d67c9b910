"""The code location: assets, resources, jobs, sensors and the schedule `workspace.yaml` loads."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from iso_assets.assets import ALL_ASSETS
from iso_assets.jobs import ALL_JOBS
from iso_assets.paths import iso_assets_home, product_spec_path
from iso_assets.schedules import nightly_build
from resources.product import ProductSpecResource
from resources.store import store_from_env
from sensors.new_rpms import new_product_rpms
from sensors.upstream import upstream_repo_changes


def default_resources() -> dict[str, object]:
    home = iso_assets_home()
    return {
        "product": ProductSpecResource(spec_path=str(product_spec_path())),
        "store": store_from_env(root=home / "store", work_dir=home / "work"),
    }


defs = Definitions(
    assets=ALL_ASSETS,
    resources=default_resources(),
    jobs=ALL_JOBS,
    sensors=[new_product_rpms, upstream_repo_changes],
    schedules=[nightly_build],
    # Build steps are tool-bound and the machine small: one process per run, steps in order.
    executor=in_process_executor,
)
