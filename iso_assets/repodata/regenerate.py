"""Regenerate metadata of a mirror whose package set was filtered, keeping groups and modules.

A plain `createrepo_c` over the filtered folder would drop the upstream comps and modules
(case repo02: Anaconda then stops at software selection). They are unpacked from the
upstream repodata first (createrepo_c -g wants an uncompressed file) and fed back in.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import RepoMetadataError, read_repomd
from iso_assets.repodata.comps import GROUP_TYPES, MODULES_TYPES, find_record, unpack_record
from iso_assets.repodata.createrepo import RepoResult, build_repo

log = logging.getLogger(__name__)


def regenerate_filtered_repo(
    repo_dir: Path,
    upstream_repodata_dir: Path,
    *,
    release: str,
    source_date_epoch: int,
    repo_label: str | None = None,
) -> RepoResult:
    """Rebuild `repo_dir/repodata` for the RPMs present, carrying over upstream comps/modules.

    `upstream_repodata_dir` is the upstream `repodata/` folder (it may be
    `repo_dir/repodata` itself: its group and modules files are read before it is replaced).
    """
    label = repo_label or repo_dir.name
    try:
        upstream = read_repomd(upstream_repodata_dir / "repomd.xml")
    except (OSError, RepoMetadataError) as exc:
        raise RepodataError(
            f"repo {label}: cannot read upstream {upstream_repodata_dir}/repomd.xml ({exc}); "
            f"keep the upstream metadata when mirroring"
        ) from exc
    upstream_root = upstream_repodata_dir.parent

    with tempfile.TemporaryDirectory(prefix="upstream-md-") as tmp:
        comps = modules = None
        group_record = find_record(upstream, GROUP_TYPES)
        if group_record is not None:
            comps = unpack_record(upstream_root, group_record, Path(tmp) / "comps.xml")
            log.info("repo %s: carrying over upstream %s", label, group_record.href)
        else:
            log.info("repo %s: upstream has no group metadata; none to carry over", label)
        modules_record = find_record(upstream, MODULES_TYPES)
        if modules_record is not None:
            modules = unpack_record(upstream_root, modules_record, Path(tmp) / "modules.yaml")
            log.info("repo %s: carrying over upstream %s", label, modules_record.href)
        return build_repo(
            repo_dir,
            release=release,
            source_date_epoch=source_date_epoch,
            comps=comps,
            modules=modules,
            repo_label=label,
        )
