"""Asset `rootfs`: base runtime + product overlay + RPMs installed with a real rpmdb."""

from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import Manifest, sha256_file
from iso_assets.assets.inputs import product_rpm_inputs
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.assets.tree import link_tree
from iso_assets.errors import RootfsError
from iso_assets.partitions import product_version_partitions
from iso_assets.rootfs.assemble import assemble_rootfs
from iso_assets.rootfs.selection import select_newest
from iso_assets.spec.models import ProductSpec
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
TARBALL = "rootfs.tar.gz"


def base_tarball_of(spec: ProductSpec) -> Path:
    path = spec.resolve(spec.rootfs.base_tarball)
    if not path.is_file():
        raise RootfsError(
            f"rootfs.base_tarball {path} does not exist; build or copy the base runtime tarball "
            f"there (the demo's `make demo` writes one)"
        )
    return path


def assemble(step: StepContext) -> StepOutput:
    spec, store = step.spec, step.store
    media = upstream_manifest(store, spec, step.version, "repodata")
    upstream_rpms = {
        path: ref
        for path, ref in media.files.items()
        if path.endswith(".rpm") and not path.startswith("product/")
    }
    tree = link_tree(store, upstream_rpms, step.work_dir / "media")
    chosen = select_newest(sorted(tree.rglob("*.rpm")), spec.rootfs.packages)
    product_rpms, _ = product_rpm_inputs(spec, step.version)
    out = step.work_dir / TARBALL
    result = assemble_rootfs(
        spec,
        base_tarball=base_tarball_of(spec),
        rpms=[*chosen, *(rpm.path for rpm in product_rpms)],
        work_dir=step.work_dir / "tree",
        out_tarball=out,
    )
    output = StepOutput(files={TARBALL: out}, media_types={TARBALL: "application/gzip"})
    output.metadata.update(
        {
            "packages": result.packages,
            "package_count": len(result.packages),
            "tar_entries": result.entries,
            "overlay_files": result.overlay_files,
            "overlay_replaced": result.overlay_replaced,
        }
    )
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    ref = manifest.files[TARBALL]
    return {
        "package_count": manifest.metadata["package_count"],
        "packages": manifest.metadata["packages"],
        "rootfs_bytes": ref.size,
        "rootfs_sha256": ref.sha256,
    }


@asset(
    partitions_def=product_version_partitions,
    deps=["repodata"],
    code_version=CODE_VERSION,
    group_name="build",
    description="Reproducible rootfs tarball with the product installed (rpmdb at var/lib/rpm).",
)
def rootfs(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    media = upstream_manifest(store, spec, version, "repodata")
    _, rpm_digests = product_rpm_inputs(spec, version)
    inputs = {
        "repodata": media.output_digest,
        "product_rpms": rpm_digests,
        "base_tarball": sha256_file(base_tarball_of(spec))[0],
        "rootfs": spec.section_dump("rootfs"),
        "source_date_epoch": spec.source_date_epoch,
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="rootfs",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=assemble,
        describe=describe,
    )
