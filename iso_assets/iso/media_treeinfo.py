"""The .treeinfo written at the root of the ISO, describing the media as it is laid out.

Anaconda reads it to find stage2 and the repos (variants) on the media; the upstream
.treeinfo describes the upstream compose, not our layout, so it is rewritten.
"""

from __future__ import annotations

import configparser
import io

from iso_assets.artifacts import BlobRef


def render_media_treeinfo(
    *,
    product: str,
    version: str,
    arch: str,
    timestamp: int,
    kernel: str,
    initrd: str,
    stage2: str,
    efiboot: str,
    repo_ids: list[str],
    checksums: dict[str, BlobRef],
) -> str:
    """productmd 1.2 .treeinfo text; deterministic for the same inputs."""
    info = configparser.ConfigParser(interpolation=None)
    info.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    info["header"] = {"type": "productmd.treeinfo", "version": "1.2"}
    info["release"] = {"name": product, "short": product, "version": version}
    info["tree"] = {
        "arch": arch,
        "build_timestamp": str(timestamp),
        "platforms": arch,
        "variants": ",".join(repo_ids),
    }
    info["general"] = {
        "arch": arch,
        "family": product,
        "name": f"{product} {version}",
        "timestamp": str(timestamp),
        "version": version,
        "variants": ",".join(repo_ids),
        "packagedir": f"{repo_ids[0]}/Packages",
        "repository": repo_ids[0],
    }
    info[f"images-{arch}"] = {"kernel": kernel, "initrd": initrd, "efiboot.img": efiboot}
    info["stage2"] = {"mainimage": stage2}
    info["checksums"] = {path: f"sha256:{ref.sha256}" for path, ref in sorted(checksums.items())}
    for repo_id in repo_ids:
        info[f"variant-{repo_id}"] = {
            "id": repo_id,
            "name": repo_id,
            "packages": f"{repo_id}/Packages",
            "repository": repo_id,
            "type": "variant",
            "uid": repo_id,
        }
    buffer = io.StringIO()
    info.write(buffer)
    return buffer.getvalue()
