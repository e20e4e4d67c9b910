"""Asset `iso_checksum`: SHA256SUMS for the ISO, re-verified against the stored object."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import Manifest, sha256_file
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.checksum import sha256sums_line
from iso_assets.errors import IntegrityError
from iso_assets.partitions import product_version_partitions
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
SUMS_FILE = "SHA256SUMS"


def write_sums(step: StepContext) -> StepOutput:
    iso_manifest = upstream_manifest(step.store, step.spec, step.version, "iso")
    name = iso_manifest.metadata["iso_name"]
    ref = iso_manifest.files[name]
    # The sha256 was computed while the ISO was stored; hash the stored bytes again so the
    # checksum file vouches for what is in the store, not for what was written.
    stored_sha, stored_size = sha256_file(step.store.blob_path(ref))
    if (stored_sha, stored_size) != (ref.sha256, ref.size):
        raise IntegrityError(
            f"stored ISO {name} has sha256 {stored_sha} ({stored_size} bytes) but its manifest "
            f"says {ref.sha256} ({ref.size} bytes); rebuild the iso asset"
        )
    path = step.work_dir / SUMS_FILE
    path.write_text(sha256sums_line(ref.sha256, name))
    output = StepOutput(files={SUMS_FILE: path}, media_types={SUMS_FILE: "text/plain"})
    output.metadata.update({"iso_name": name, "iso_sha256": ref.sha256, "verified": True})
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    return {
        "iso_name": manifest.metadata["iso_name"],
        "iso_sha256": manifest.metadata["iso_sha256"],
    }


@asset(
    partitions_def=product_version_partitions,
    deps=["iso"],
    code_version=CODE_VERSION,
    group_name="build",
    description="sha256sum-format checksum of the ISO, verified against the stored object.",
)
def iso_checksum(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    iso_manifest = upstream_manifest(store, spec, context.partition_key, "iso")
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="iso_checksum",
        code_version=CODE_VERSION,
        inputs={"iso": iso_manifest.output_digest},
        build=write_sums,
        describe=describe,
    )
