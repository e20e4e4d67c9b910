"""Asset `mirrored_repo`: a verified snapshot of every upstream repo of the product."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import BlobRef, Manifest
from iso_assets.assets.step import StepContext, StepOutput, run_step
from iso_assets.mirror.sync import sync_repo
from iso_assets.partitions import product_version_partitions
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
MEDIA_TYPES = {"package": "application/x-rpm", "installer": "application/octet-stream"}


def mirror_all(step: StepContext) -> StepOutput:
    output = StepOutput()
    repos: dict[str, dict[str, object]] = {}
    for repo in step.spec.upstream:
        snapshot = sync_repo(
            repo,
            step.work_dir / repo.id,
            allowed_arches=step.spec.allowed_arches,
            known_blob=step.store.local_blob,
            spec_dir=step.spec.spec_dir,
            label=f"{repo.id}/{step.version}",
        )
        for mirrored in snapshot.files:
            logical = f"{repo.id}/{mirrored.path}"
            media_type = MEDIA_TYPES.get(mirrored.kind, "application/xml")
            stored_copy = step.store.local_blob(mirrored.sha256) == mirrored.local
            if stored_copy and step.store.has_blob(mirrored.sha256):
                # Already stored (asked of the backend itself, not just the read cache) and
                # verified against upstream's checksum by the sync: no re-hash, no upload.
                output.stored[logical] = BlobRef(
                    sha256=mirrored.sha256, size=mirrored.size, media_type=media_type
                )
            else:
                output.files[logical] = mirrored.local
                output.media_types[logical] = media_type
        repos[repo.id] = {
            "baseurl": repo.baseurl,
            "revision": snapshot.revision,
            "filtered": snapshot.filtered,
            "skipped": snapshot.skipped,
            "signature_policy": snapshot.signature_policy,
            "installer_tree": repo.installer_tree,
            "packages_downloaded": snapshot.stats.downloaded_packages,
            "bytes_downloaded": snapshot.stats.downloaded_bytes,
            "packages_reused": snapshot.stats.reused_packages,
            "installer_files": sorted(f.path for f in snapshot.files if f.kind == "installer"),
        }
    output.metadata["repos"] = repos
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    repos = manifest.metadata["repos"]
    return {
        "repos": repos,
        "packages": sum(1 for path in manifest.files if path.endswith(".rpm")),
        "packages_downloaded": sum(r["packages_downloaded"] for r in repos.values()),
        "bytes_downloaded": sum(r["bytes_downloaded"] for r in repos.values()),
    }


@asset(
    partitions_def=product_version_partitions,
    code_version=CODE_VERSION,
    group_name="build",
    description="Upstream repos (metadata, comps, modules, packages, installer tree), verified.",
)
def mirrored_repo(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    # The mirror always asks upstream (repomd.xml first); unchanged packages are not fetched
    # again, so this input digest only says "this spec at this moment".
    inputs = {"upstream": spec.section_dump("upstream"), "run": context.run_id}
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="mirrored_repo",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=mirror_all,
        describe=describe,
    )
