"""Asset `repodata`: the repos that go on the media, mirrored ones plus the product repo."""

import json
import shutil

from dagster import AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import Manifest
from iso_assets.assets.checks import REPODATA_CHECK, repodata_gate, specs_for
from iso_assets.assets.inputs import product_rpm_inputs
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.assets.tree import link_tree, under
from iso_assets.partitions import product_version_partitions
from iso_assets.repodata.consistency import check_repo_consistency
from iso_assets.repodata.createrepo import build_repo
from iso_assets.repodata.facts import MediaFacts, media_facts_to_json
from iso_assets.repodata.read_facts import read_repo_facts
from iso_assets.repodata.regenerate import regenerate_filtered_repo
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
PRODUCT_REPO = "product"
FACTS_FILE = "media-facts.json"


def build_media_repos(step: StepContext) -> StepOutput:
    spec, store = step.spec, step.store
    mirror = upstream_manifest(store, spec, step.version, "mirrored_repo")
    output = StepOutput()
    media = MediaFacts()
    repo_metadata: dict[str, object] = {}

    for repo in spec.upstream:
        label = f"{repo.id}/{step.version}"
        info = mirror.metadata["repos"][repo.id]
        installer = set(info["installer_files"])
        repo_files = {
            p: ref for p, ref in under(mirror.files, repo.id).items() if p not in installer
        }
        repo_dir = step.work_dir / repo.id
        if info["filtered"]:
            # Upstream metadata lists packages the mirror dropped: regenerate for what is kept,
            # carrying comps and modules over.
            packages = {p: ref for p, ref in repo_files.items() if not p.startswith("repodata/")}
            link_tree(store, packages, repo_dir)
            upstream_md = link_tree(
                store, under(repo_files, "repodata"), step.work_dir / f".{repo.id}-upstream"
            )
            result = regenerate_filtered_repo(
                repo_dir,
                upstream_md,
                release=spec.release,
                source_date_epoch=spec.source_date_epoch,
                repo_label=label,
            )
            output.stored.update({f"{repo.id}/{p}": ref for p, ref in packages.items()})
            for path in sorted((repo_dir / "repodata").iterdir()):
                output.files[f"{repo.id}/repodata/{path.name}"] = path
            repo_metadata[repo.id] = {"regenerated": True, **result.metadata()}
        else:
            link_tree(store, repo_files, repo_dir)
            output.stored.update({f"{repo.id}/{p}": ref for p, ref in repo_files.items()})
            repo_metadata[repo.id] = {"regenerated": False, "revision": info["revision"]}
        check_repo_consistency(repo_dir, label)
        media.repos.append(read_repo_facts(repo_dir, repo.id))

    product_rpms, _ = product_rpm_inputs(spec, step.version)
    product_dir = step.work_dir / PRODUCT_REPO
    (product_dir / "Packages").mkdir(parents=True)
    for rpm in product_rpms:
        shutil.copy2(rpm.path, product_dir / "Packages" / rpm.path.name)
    result = build_repo(
        product_dir,
        release=spec.release,
        source_date_epoch=spec.source_date_epoch,
        repo_label=f"{PRODUCT_REPO}/{step.version}",
    )
    check_repo_consistency(product_dir, f"{PRODUCT_REPO}/{step.version}")
    media.repos.append(read_repo_facts(product_dir, PRODUCT_REPO))
    for path in sorted(p for p in product_dir.rglob("*") if p.is_file()):
        output.files[f"{PRODUCT_REPO}/{path.relative_to(product_dir)}"] = path
    repo_metadata[PRODUCT_REPO] = {
        "regenerated": True,
        "rpms": [rpm.header.nevra for rpm in product_rpms],
        **result.metadata(),
    }

    facts_path = step.work_dir / FACTS_FILE
    facts_path.write_text(json.dumps(media_facts_to_json(media), indent=1, sort_keys=True))
    output.files[FACTS_FILE] = facts_path
    output.media_types[FACTS_FILE] = "application/json"
    output.metadata["repos"] = repo_metadata
    output.metadata["package_count"] = sum(len(r.packages) for r in media.repos)
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    return {
        "repos": manifest.metadata["repos"],
        "package_count": manifest.metadata["package_count"],
    }


@asset(
    partitions_def=product_version_partitions,
    deps=["mirrored_repo"],
    code_version=CODE_VERSION,
    group_name="build",
    description="On-media repos: mirrored repos (regenerated when filtered) + the product repo.",
    check_specs=specs_for(
        "repodata",
        {
            REPODATA_CHECK: "metadata lists exactly the RPMs present, checksums match, "
            "compression readable by the target release"
        },
    ),
)
def repodata(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    mirror = upstream_manifest(store, spec, version, "mirrored_repo")
    _, rpm_digests = product_rpm_inputs(spec, version)
    inputs = {
        "mirror": mirror.output_digest,
        "product_rpms": rpm_digests,
        "release": spec.release,
        "source_date_epoch": spec.source_date_epoch,
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="repodata",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=build_media_repos,
        describe=describe,
        checks=repodata_gate(
            store,
            release=spec.release,
            repo_ids=[*(repo.id for repo in spec.upstream), PRODUCT_REPO],
        ),
    )
