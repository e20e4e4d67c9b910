"""Asset `kickstart`: ks.cfg rendered from the spec, validated for the target release."""

import hashlib
import json
from collections.abc import Callable

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import Manifest
from iso_assets.assets.checks import KICKSTART_CHECK, LABEL_CHECK, gate, problems_of, specs_for
from iso_assets.assets.repodata import FACTS_FILE, PRODUCT_REPO
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.iso.label import validate_volume_id
from iso_assets.kickstart import (
    lint_boot_args,
    raise_on_errors,
    render_kickstart,
    root_password_hash_from_env,
    validate_kickstart,
)
from iso_assets.partitions import product_version_partitions
from iso_assets.repodata.facts import media_facts_from_json
from iso_assets.spec.models import ProductSpec
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
KS_FILE = "ks.cfg"
ROOTFS_ON_MEDIA = "images/rootfs.tar.gz"


def media_repo_ids(spec: ProductSpec) -> list[str]:
    """Repo folders on the media, the installer-tree repo first (it is the `url` source)."""
    installer = [repo.id for repo in spec.upstream if repo.installer_tree]
    others = [repo.id for repo in spec.upstream if not repo.installer_tree]
    return [*installer, *others, PRODUCT_REPO]


def render_and_validate(step: StepContext) -> StepOutput:
    spec, store = step.spec, step.store
    media_manifest = upstream_manifest(store, spec, step.version, "repodata")
    facts_path = store.blob_path(media_manifest.files[FACTS_FILE])
    media = media_facts_from_json(json.loads(facts_path.read_text()))
    # The label goes into inst.stage2/inst.ks; a bad one fails here, before any ISO is built.
    volume_id = spec.volume_id_for(step.version)
    label_warnings = validate_volume_id(volume_id)
    text = render_kickstart(
        spec,
        version=step.version,
        volume_id=volume_id,
        repo_ids=media_repo_ids(spec),
        root_password_hash=root_password_hash_from_env(spec),
        rootfs_image=ROOTFS_ON_MEDIA if spec.kickstart.install_source == "liveimg" else None,
    )
    findings = validate_kickstart(
        text, handler=spec.kickstart_handler, media=media, release_version=step.version
    )
    findings += lint_boot_args(spec.iso.boot_args, spec.release)
    raise_on_errors(findings, f"{KS_FILE} of {spec.name} {step.version}")

    path = step.work_dir / KS_FILE
    path.write_text(text)
    output = StepOutput(files={KS_FILE: path}, media_types={KS_FILE: "text/plain"})
    output.metadata["handler"] = spec.kickstart_handler
    output.metadata["warnings"] = [str(finding) for finding in findings] + label_warnings
    output.metadata["volume_id"] = volume_id
    return output


def kickstart_gate(
    store: ArtifactStore, spec: ProductSpec, version: str
) -> Callable[[Manifest], list[AssetCheckResult]]:
    """Validate the STORED ks.cfg again against the media it will be installed from."""

    def evaluate(manifest: Manifest) -> list[AssetCheckResult]:
        media_manifest = upstream_manifest(store, spec, version, "repodata")
        facts = json.loads(store.blob_path(media_manifest.files[FACTS_FILE]).read_text())
        text = store.blob_path(manifest.files[KS_FILE]).read_text()
        findings = validate_kickstart(
            text,
            handler=spec.kickstart_handler,
            media=media_facts_from_json(facts),
            release_version=version,
        )
        errors = [str(finding) for finding in findings if finding.severity == "ERROR"]
        volume_id = spec.volume_id_for(version)
        return [
            gate(KICKSTART_CHECK, errors, handler=spec.kickstart_handler, findings=len(findings)),
            gate(
                LABEL_CHECK,
                problems_of(lambda: validate_volume_id(volume_id)),
                volume_id=volume_id,
            ),
        ]

    return evaluate


def describe(manifest: Manifest) -> dict[str, object]:
    return {
        "handler": manifest.metadata["handler"],
        "warnings": manifest.metadata["warnings"],
        "warning_count": len(manifest.metadata["warnings"]),
    }


@asset(
    partitions_def=product_version_partitions,
    deps=["repodata"],
    code_version=CODE_VERSION,
    group_name="build",
    description="Hardened ks.cfg, validated with pykickstart and resolved against the media.",
    check_specs=specs_for(
        "kickstart",
        {
            KICKSTART_CHECK: "pykickstart for the target release + lint: removed commands, "
            "crypt hashes only, %packages resolved against the media, %post paths, hardening",
            LABEL_CHECK: "volume id of at most 32 characters of [A-Za-z0-9._-], as used by "
            "inst.stage2/inst.ks hd:LABEL=",
        },
    ),
)
def kickstart(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    media = upstream_manifest(store, spec, version, "repodata")
    password_hash = root_password_hash_from_env(spec)
    inputs = {
        "repodata": media.output_digest,
        "kickstart": spec.section_dump("kickstart"),
        "product_rpms": spec.section_dump("product_rpms"),
        "boot_args": spec.iso.boot_args,
        "handler": spec.kickstart_handler,
        # A digest of the hash, never the hash itself, goes into the stored input digest.
        "root_password": hashlib.sha256(password_hash.encode()).hexdigest(),
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="kickstart",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=render_and_validate,
        describe=describe,
        checks=kickstart_gate(store, spec, version),
    )
