"""The shape every build asset shares: input digest → reuse or build → store → manifest last.

An asset describes its inputs (upstream output digests, its spec section, its code version,
tool versions) and a build function that writes files into a scratch folder. This module
decides whether a stored output for the same inputs can be reused, stores new files as
content-addressed blobs, and commits the manifest only after every blob is stored, so a
failed run never registers a partial artifact and never touches the previous manifest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
)

from iso_assets.artifacts import Manifest, digest_of
from iso_assets.errors import StoreError
from iso_assets.partitions import version_key
from iso_assets.spec.models import ProductSpec
from resources.store import ArtifactStore

log = logging.getLogger(__name__)


@dataclass
class StepOutput:
    """What a build function returns: files (logical path -> local file) and metadata."""

    files: dict[str, Path] = field(default_factory=dict)
    media_types: dict[str, str] = field(default_factory=dict)
    # Files already in the store (logical path -> manifest entry of another asset).
    stored: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    spec: ProductSpec
    version: str
    store: ArtifactStore
    asset: str
    work_dir: Path


def partition_version(context: AssetExecutionContext) -> str:
    return version_key(context.partition_key)


def upstream_manifest(
    store: ArtifactStore, spec: ProductSpec, version: str, asset: str
) -> Manifest:
    """The committed manifest of an upstream asset, or a StoreError saying what to run."""
    manifest = store.read_manifest(spec.name, version, asset)
    if manifest is None:
        raise StoreError(
            f"no {asset} output stored for {spec.name} {version}; materialize {asset} for "
            f"partition {version} first"
        )
    return manifest


def run_step(
    context: AssetExecutionContext,
    *,
    store: ArtifactStore,
    spec: ProductSpec,
    asset: str,
    code_version: str,
    inputs: dict[str, Any],
    build: Callable[[StepContext], StepOutput],
    describe: Callable[[Manifest], dict[str, Any]] | None = None,
    checks: Callable[[Manifest], list[AssetCheckResult]] | None = None,
) -> MaterializeResult:
    """Materialize one asset partition; see the module docstring for the contract."""
    version = partition_version(context)
    input_digest = digest_of({"asset": asset, "code_version": code_version, "inputs": inputs})
    started = time.monotonic()

    reusable = store.find_by_input_digest(asset, input_digest)
    if reusable is not None:
        manifest = reusable.model_copy(update={"product": spec.name, "version": version})
        context.log.info(
            f"{asset} {version}: reused stored output (input digest {input_digest[:12]})"
        )
        reused = True
    else:
        context.log.info(f"{asset} {version}: building (input digest {input_digest[:12]})")
        work_dir = store.scratch_dir(asset, spec.name, version)
        output = build(StepContext(spec, version, store, asset, work_dir))
        files = {path: ref for path, ref in output.stored.items()}
        for logical_path, local in sorted(output.files.items()):
            media_type = output.media_types.get(logical_path, "application/octet-stream")
            # Scratch files are moved into the store (hashed on the way), not copied.
            files[logical_path] = store.put_file(local, media_type=media_type, move=True)
        manifest = Manifest(
            asset=asset,
            product=spec.name,
            version=version,
            input_digest=input_digest,
            code_version=code_version,
            files=files,
            metadata=output.metadata,
        )
        reused = False
    store.write_manifest(manifest)
    seconds = round(time.monotonic() - started, 2)

    metadata: dict[str, Any] = {
        "reused": reused,
        "input_digest": input_digest,
        "output_digest": manifest.output_digest,
        "files": len(manifest.files),
        "stored_bytes": sum(ref.size for ref in manifest.files.values()),
        "step_seconds": seconds,
    }
    metadata.update(describe(manifest) if describe else {})
    context.log.info(f"{asset} {version}: done in {seconds} s ({'reused' if reused else 'built'})")
    return MaterializeResult(
        metadata={key: to_metadata(value) for key, value in metadata.items()},
        data_version=DataVersion(manifest.output_digest),
        check_results=checks(manifest) if checks else None,
    )


def to_metadata(value: Any) -> Any:
    """Plain values as Dagster metadata; dicts and lists as JSON."""
    if isinstance(value, dict | list):
        return MetadataValue.json(value)
    if isinstance(value, Path):
        return MetadataValue.path(str(value))
    return value
