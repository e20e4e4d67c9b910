"""Asset `trivy_scan`: packages, vulnerabilities, secrets and SBOM of the rootfs and the ISO.

The scan's findings are an artifact (stored even when they fail the policy); the release gate
is the blocking check `trivy_scan_policy`, evaluated against the policy of the spec on the
day of the scan.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    asset,
)

from iso_assets.artifacts import Manifest
from iso_assets.assets.iso import iso_file_name
from iso_assets.assets.rootfs import TARBALL
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.partitions import product_version_partitions
from iso_assets.paths import iso_assets_home
from iso_assets.process import run_tool, tool_version
from iso_assets.scan.db_fetch import fetch_db
from iso_assets.scan.policy import evaluate
from iso_assets.scan.scan import scan_iso_contents, scan_rootfs
from iso_assets.scan.trivy import trivy_binary
from iso_assets.spec.models import ProductSpec
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
ROOTFS_REPORT, SBOM, ISO_REPORT = "trivy-rootfs.json", "sbom.cdx.json", "trivy-iso.json"
POLICY_CHECK = "trivy_scan_policy"


def db_cache_dir(spec: ProductSpec) -> Path | None:
    """The local offline DB cache: scan.db itself, or a synced copy of an s3:// prefix."""
    if spec.scan.db is None:
        return None
    if spec.scan.db.startswith("s3://"):
        # Kept outside the per-step scratch space, so an unchanged DB is not downloaded again.
        return fetch_db(spec.scan.db, iso_assets_home() / "trivy-db")
    return spec.resolve(spec.scan.db)


def db_fingerprint(spec: ProductSpec) -> str | None:
    cache_dir = db_cache_dir(spec)
    metadata = cache_dir / "db" / "metadata.json" if cache_dir else None
    return metadata.read_text() if metadata and metadata.is_file() else None


def scan(step: StepContext) -> StepOutput:
    spec, store = step.spec, step.store
    rootfs = upstream_manifest(store, spec, step.version, "rootfs")
    tree = step.work_dir / "rootfs"
    tree.mkdir()
    # tar(1), not tarfile: the rootfs holds absolute symlinks that tarfile's safe filter refuses.
    run_tool(["tar", "-xzf", store.blob_path(rootfs.files[TARBALL]), "-C", tree])
    now = datetime.now(UTC)
    result = scan_rootfs(
        tree,
        scan_spec=spec.scan,
        work_dir=step.work_dir / "trivy",
        now=now,
        cache_dir=db_cache_dir(spec),
    )
    output = StepOutput(
        files={ROOTFS_REPORT: result.json_report, SBOM: result.sbom},
        media_types={
            ROOTFS_REPORT: "application/json",
            SBOM: "application/vnd.cyclonedx+json",
        },
    )
    summary = result.summary.metadata()
    output.metadata["rootfs"] = {
        key: summary.get(key)
        for key in (
            "os_family",
            "os_name",
            "package_count",
            "rpmdb_package_count",
            "vulnerabilities_by_severity",
            "non_vendor_packages",
            "failures",
            "warnings",
        )
    }
    output.metadata["rootfs"]["secrets"] = [
        f"{secret.path}: {secret.rule}" for secret in result.summary.secrets
    ]
    output.metadata["trivy_db"] = result.db_info.metadata() if result.db_info else None
    output.metadata["trivy_version"] = result.trivy_version
    output.metadata["rootfs_seconds"] = round(result.seconds, 2)
    output.metadata["policy"] = evaluate(
        result.summary, spec.scan.policy, today=now.date()
    ).metadata()

    if spec.scan.scan_iso:
        iso_manifest = upstream_manifest(store, spec, step.version, "iso")
        iso_ref = iso_manifest.files[iso_file_name(spec, step.version)]
        iso_scan = scan_iso_contents(
            store.blob_path(iso_ref),
            work_dir=step.work_dir / "iso",
            timeout=spec.scan.timeout_seconds,
        )
        output.files[ISO_REPORT] = iso_scan.json_report
        output.media_types[ISO_REPORT] = "application/json"
        iso_secrets = [f"{s.path}: {s.title}" for s in iso_scan.summary.secrets]
        output.metadata["iso"] = {
            "packages_on_media": len(iso_scan.packages),
            "secrets": iso_secrets,
            "seconds": round(iso_scan.seconds, 2),
        }
        if iso_secrets:
            output.metadata["policy"]["passed"] = False
            output.metadata["policy"]["failures"].append(f"secrets on the ISO media: {iso_secrets}")
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    rootfs = manifest.metadata["rootfs"]
    by_severity = rootfs["vulnerabilities_by_severity"] or {}
    return {
        "os": rootfs["os_name"],
        "package_count": rootfs["package_count"],
        **{f"vulnerabilities_{sev.lower()}": n for sev, n in sorted(by_severity.items())},
        "secrets_found": len(rootfs["secrets"])
        + len(manifest.metadata.get("iso", {}).get("secrets", [])),
        "non_vendor_packages": rootfs["non_vendor_packages"],
        "trivy_db": manifest.metadata["trivy_db"] or "none (packages, secrets, SBOM only)",
        "trivy_version": manifest.metadata["trivy_version"],
        "policy_passed": manifest.metadata["policy"]["passed"],
        "policy_failures": manifest.metadata["policy"]["failures"],
        "allowed": manifest.metadata["policy"]["allowed"],
    }


def policy_check(manifest: Manifest) -> list[AssetCheckResult]:
    policy = manifest.metadata["policy"]
    return [
        AssetCheckResult(
            check_name=POLICY_CHECK,
            passed=bool(policy["passed"]),
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "failures": json.dumps(policy["failures"]),
                "allowed": json.dumps(policy["allowed"], default=str),
            },
        )
    ]


@asset(
    partitions_def=product_version_partitions,
    deps=["rootfs", "iso"],
    code_version=CODE_VERSION,
    group_name="release",
    description="Trivy (offline) on the installed rootfs and the ISO contents: packages, "
    "vulnerabilities, secrets, CycloneDX SBOM; policy gate as a blocking check.",
    check_specs=[
        AssetCheckSpec(
            POLICY_CHECK,
            asset="trivy_scan",
            blocking=True,
            description="Severities in scan.policy.fail_on, any secret, zero OS packages or an "
            "unsupported OS fail the release; allow-listed CVEs pass until they expire.",
        )
    ],
)
def trivy_scan(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    inputs = {
        "rootfs": upstream_manifest(store, spec, version, "rootfs").output_digest,
        "iso": upstream_manifest(store, spec, version, "iso").output_digest
        if spec.scan.scan_iso
        else None,
        "scan": spec.section_dump("scan"),
        "trivy": tool_version([trivy_binary(), "--version"]),
        "db": db_fingerprint(spec),
        # Policy expiry dates and DB age are judged per day: a new day scans again.
        "day": datetime.now(UTC).date().isoformat(),
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="trivy_scan",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=scan,
        describe=describe,
        checks=policy_check,
    )
