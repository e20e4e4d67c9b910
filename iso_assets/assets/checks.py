"""Release gates as blocking asset checks: each reads the stored artifact itself.

The build steps already refuse to store a broken artifact; these checks run again on what
the store holds (also when an output is reused), so the UI shows every gate per version and a
corrupted or hand-edited store object cannot pass silently.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec

from iso_assets.artifacts import Manifest
from iso_assets.assets.tree import link_tree, under
from iso_assets.errors import IsoAssetsError
from iso_assets.iso.inspect import (
    check_boot_entries,
    check_file_list,
    check_labels,
    check_system_area,
)
from iso_assets.repodata.compression import check_compression
from iso_assets.repodata.consistency import check_repo_consistency
from resources.store import ArtifactStore

ISO_CHECKS = {
    "iso_boot_entries": "BIOS (isolinux) and UEFI (images/efiboot.img) El Torito entries",
    "iso_hybrid": "MBR boot code, 55AA signature and GPT in the system area (USB/dd boot)",
    "iso_labels": "volume id identical in -V, every hd:LABEL=, GRUB search and efiboot.img",
    "iso_file_list": "every file meant for the media is on it, names complete (Rock Ridge)",
}
REPODATA_CHECK = "repodata_consistent"
KICKSTART_CHECK = "kickstart_valid"
LABEL_CHECK = "volume_id_valid"


def specs_for(asset: str, checks: dict[str, str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(name, asset=asset, blocking=True, description=description)
        for name, description in checks.items()
    ]


def gate(name: str, problems: list[str], **metadata: str | int) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        metadata={"problems": json.dumps(problems), **metadata},
    )


def problems_of(check: Callable[[], object]) -> list[str]:
    """Run a check that raises on failure; its message lines are the problems."""
    try:
        check()
    except IsoAssetsError as error:
        return str(error).splitlines()
    return []


def iso_gates(
    store: ArtifactStore, *, iso_name: str, files_list: str
) -> Callable[[Manifest], list[AssetCheckResult]]:
    def evaluate(manifest: Manifest) -> list[AssetCheckResult]:
        iso = store.blob_path(manifest.files[iso_name])
        expected = store.blob_path(manifest.files[files_list]).read_text().splitlines()
        volume_id = manifest.metadata["volume_id"]
        return [
            gate("iso_boot_entries", check_boot_entries(iso)),
            gate("iso_hybrid", check_system_area(iso)),
            gate("iso_labels", check_labels(iso, volume_id), volume_id=volume_id),
            gate("iso_file_list", check_file_list(iso, expected), files=len(expected)),
        ]

    return evaluate


def repodata_gate(
    store: ArtifactStore, *, release: str, repo_ids: list[str]
) -> Callable[[Manifest], list[AssetCheckResult]]:
    def evaluate(manifest: Manifest) -> list[AssetCheckResult]:
        problems: list[str] = []
        scratch = Path(store.work_dir).resolve()
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="repodata-gate-", dir=scratch) as tmp:
            problems = check_repos(
                store, manifest, release=release, repo_ids=repo_ids, tmp=Path(tmp)
            )
        return [gate(REPODATA_CHECK, problems, repos=len(repo_ids))]

    return evaluate


def check_repos(
    store: ArtifactStore, manifest: Manifest, *, release: str, repo_ids: list[str], tmp: Path
) -> list[str]:
    problems: list[str] = []
    for repo_id in repo_ids:
        repo_dir = link_tree(store, under(manifest.files, repo_id), tmp / repo_id)
        problems += problems_of(functools.partial(check_repo_consistency, repo_dir, repo_id))
        problems += problems_of(
            functools.partial(check_compression, repo_dir / "repodata", release, repo_label=repo_id)
        )
    return problems
