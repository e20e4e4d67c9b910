"""The code location's jobs, all partitioned by product version.

- `build_iso`: the whole graph of a version (build assets, then VM test and scan).
- `retest`: boot-test and scan the stored ISO again, no rebuild.
- `preflight`: the cheap gates only (spec, mirror, repodata consistency, kickstart and label),
  for fast feedback in the UI before an ISO is built.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from iso_assets.partitions import product_version_partitions

BUILD_JOB, RETEST_JOB, PREFLIGHT_JOB = "build_iso", "retest", "preflight"

build_iso_job = define_asset_job(
    BUILD_JOB,
    selection=AssetSelection.groups("build", "release"),
    partitions_def=product_version_partitions,
    description="Mirror, repodata, rootfs, kickstart, ISO and checksum of one product version, "
    "then its VM boot test and vulnerability scan.",
    tags={"iso_assets/job": BUILD_JOB},
)

retest_job = define_asset_job(
    RETEST_JOB,
    selection=AssetSelection.groups("release"),
    partitions_def=product_version_partitions,
    description="Boot-test and scan the stored ISO of a version again, no rebuild.",
    tags={"iso_assets/job": RETEST_JOB},
)

preflight_job = define_asset_job(
    PREFLIGHT_JOB,
    selection=AssetSelection.assets("mirrored_repo", "repodata", "kickstart"),
    partitions_def=product_version_partitions,
    description="Cheap gates without building the ISO: spec, signatures and checksums of the "
    "mirror, repodata consistency, kickstart validation and the volume label.",
    tags={"iso_assets/job": PREFLIGHT_JOB},
)

ALL_JOBS = [build_iso_job, retest_job, preflight_job]
