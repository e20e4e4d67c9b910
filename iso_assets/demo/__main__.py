"""`python -m iso_assets.demo`: build the demo product's ISO end to end, offline.

Builds the demo inputs (boot tree from Debian's kernel, a signed upstream repo, the product
RPMs, the base runtime tarball), serves the upstream on 127.0.0.1, registers the version as a
`product_version` partition in the local Dagster instance and materializes every build asset
in-process. The same runs then show in the Dagster UI (`make ui`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from iso_assets.assets import ALL_ASSETS
from iso_assets.checksum import verify_sha256sums
from iso_assets.definitions import default_resources
from iso_assets.demo.base_runtime import build_base_runtime
from iso_assets.demo.boottree import build_boot_tree
from iso_assets.demo.product_rpms import build_product_rpms
from iso_assets.demo.serve import serve_directory
from iso_assets.demo.upstream import build_upstream
from iso_assets.errors import IsoAssetsError
from iso_assets.partitions import PARTITIONS_NAME, version_key
from iso_assets.paths import DEMO_SPEC, REPO_ROOT, iso_assets_home
from iso_assets.spec import load_product_spec
from resources.store import ArtifactStore

log = logging.getLogger("iso_assets.demo")

# Hash of the documented demo password "acme-demo" (demo only; set your own hash in production).
DEMO_ROOT_HASH = (
    "$6$isoassetsdemo01$KamRdjzUlrx677t9KF9N2RS1V7yMsMQ3kLHeViczCzgwijRmP8ggEKLhxEZeMR5Lu7UcE"
    "ppl/S1iStH47b0OW."
)
DEMO_PORT = 8731


@contextlib.contextmanager
def timed(label: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.monotonic()
    yield
    timings[label] = time.monotonic() - started
    log.info("[DONE ] %s in %.1f s", label, timings[label])


def free_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else 0 (any free port)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            log.info("port %d is taken; serving the upstream on another port", preferred)
            return 0
    return preferred


def build_inputs(build_dir: Path, cache_dir: Path, version: str, epoch: int) -> dict[str, float]:
    """The demo's inputs, each cached by its own input digest."""
    timings: dict[str, float] = {}
    with timed("input: boot tree (Debian kernel + busybox initramfs)", timings):
        boot = build_boot_tree(build_dir / "boot", cache_dir=cache_dir, source_date_epoch=epoch)
    with timed("input: signed upstream repos", timings):
        build_upstream(build_dir / "upstream", source_date_epoch=epoch, boot_tree=boot)
    with timed("input: product RPMs (rpmbuild)", timings):
        build_product_rpms(build_dir / "incoming", version=version, source_date_epoch=epoch)
    with timed("input: base runtime tarball", timings):
        build_base_runtime(build_dir / "base-runtime.tar.gz", source_date_epoch=epoch)
    return timings


def dagster_instance() -> DagsterInstance:
    home = iso_assets_home() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def materialize_version(version: str) -> dict[str, dict[str, object]]:
    """Materialize every build asset for `version`; return each asset's metadata."""
    instance = dagster_instance()
    if not instance.has_dynamic_partition(PARTITIONS_NAME, version):
        instance.add_dynamic_partitions(PARTITIONS_NAME, [version])
    result = materialize(
        ALL_ASSETS,
        partition_key=version,
        instance=instance,
        resources=default_resources(),
        # Step lines and our own log at INFO; Dagster's DEBUG event stream stays in the UI.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    return materialization_metadata(result)


def materialization_metadata(result: ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    """Each materialized asset's metadata as plain values, by asset name."""
    report: dict[str, dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        report[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return report


def export_outputs(version: str, out_dir: Path) -> dict[str, Path]:
    """Hard-link the ISO, SHA256SUMS and ks.cfg out of the store under their real names."""
    spec = load_product_spec(DEMO_SPEC)
    resources = default_resources()
    store = resources["store"]
    assert isinstance(store, ArtifactStore)
    out_dir.mkdir(parents=True, exist_ok=True)
    exported: dict[str, Path] = {}
    for asset_name in ("iso", "iso_checksum", "kickstart", "vm_test_report", "trivy_scan"):
        manifest = store.read_manifest(spec.name, version, asset_name)
        assert manifest is not None, f"{asset_name} was not stored"
        for name, ref in manifest.files.items():
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            os.link(store.blob_path(ref), target)
            exported[name] = target
    verify_sha256sums(exported["SHA256SUMS"], out_dir)
    return exported


def serve_until_interrupted(root: Path, port: int) -> int:
    with serve_directory(root, port=port) as url:
        print(f"demo upstream served at {url} (Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iso_assets.demo", description=__doc__)
    parser.add_argument("--version", default="1.0.0", help="product version to build")
    parser.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build/demo")
    parser.add_argument("--port", type=int, default=DEMO_PORT, help="upstream server port")
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="build the inputs, then only serve the upstream (for materializing from the UI)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    try:
        version = version_key(args.version)
        build_dir = args.build_dir.resolve()
        os.environ["DEMO_BUILD_DIR"] = str(build_dir)
        os.environ.setdefault("ISO_ROOT_PASSWORD_HASH", DEMO_ROOT_HASH)
        epoch = load_product_spec(DEMO_SPEC).source_date_epoch
        cache_dir = Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache/iso-assets"))
        timings = build_inputs(build_dir, cache_dir / "demo-boot", version, epoch)

        if args.serve_only:
            return serve_until_interrupted(build_dir / "upstream", args.port)
        with serve_directory(build_dir / "upstream", port=free_port(args.port)) as url:
            os.environ["DEMO_UPSTREAM_URL"] = url
            log.info("upstream served at %s", url)
            started = time.monotonic()
            report = materialize_version(version)
            total = time.monotonic() - started
        exported = export_outputs(version, build_dir / "out" / version)
    except IsoAssetsError as error:
        print(f"ERROR {error}", file=sys.stderr)
        return 1

    print("\nbuild time per asset (seconds):")
    for label, seconds in timings.items():
        print(f"  {label:<55} {seconds:7.1f}")
    for asset_name, metadata in report.items():
        state = "reused" if metadata.get("reused") else "built"
        if asset_name == "mirrored_repo":
            # The mirror always re-asks upstream; what matters is how much it fetched.
            state = f"synced, {metadata.get('packages_downloaded', 0)} packages downloaded"
        print(f"  {'asset: ' + asset_name:<55} {metadata.get('step_seconds', 0):7.1f}  {state}")
    print(f"  {'all assets (materialize, incl. Dagster overhead)':<55} {total:7.1f}")
    iso_meta = report["iso"]
    print(f"\nISO:        {exported[str(iso_meta['iso_name'])]}")
    print(f"checksum:   {exported['SHA256SUMS']}")
    print(f"kickstart:  {exported['ks.cfg']}")
    print(f"sha256:     {iso_meta['iso_sha256']}")
    vm_meta, scan_meta = report["vm_test_report"], report["trivy_scan"]
    passed, failed = int(str(vm_meta["cells_passed"])), int(str(vm_meta["cells_failed"]))
    cells = f"{passed}/{passed + failed}"
    scan_verdict = "passed" if scan_meta["policy_passed"] else "FAILED"
    print(f"VM test:    {cells} cells passed, {vm_meta['accel']}")
    print(f"            {exported['vm-test-report.html']}")
    print(f"Trivy:      {scan_meta['package_count']} packages, policy {scan_verdict}")
    print(f"            {exported['sbom.cdx.json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
