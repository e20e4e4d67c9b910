"""Generate reproducible repodata with createrepo_c, groups and modules included.

Which createrepo_c: the one installed with this project's Python environment (the pinned
`createrepo_c` wheel, 1.2.x), found beside the running interpreter. Debian's 0.17 cannot write
zstd (needed for EL9/EL10) and its version follows the host distro, not our lock file. The
compression is passed explicitly per target release, so the output does not depend on the
binary's default either.

Reproducible: RPM mtimes are set to SOURCE_DATE_EPOCH (primary records them), the revision
and every repomd timestamp is that epoch, and the modules record added by modifyrepo_c
(which stamps the wall clock and has no option against it) is re-stamped to the epoch.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import read_repomd
from iso_assets.process import run_tool, tool_version
from iso_assets.repodata.compression import RepoCompression, check_compression, compression_for
from iso_assets.repodata.comps import GROUP_TYPES, MODULES_TYPES, find_record

log = logging.getLogger(__name__)

TOOL_DIR = Path(sys.executable).parent
# Fixed names inside the metadata hrefs, whatever the caller's file was called.
COMPS_NAME = "comps.xml"
MODULES_NAME = "modules.yaml"


@dataclass(frozen=True)
class RepoResult:
    """What build_repo wrote: where, how, and the digest of repomd.xml."""

    repo_dir: Path
    release: str
    compression: str
    plain_group: bool
    createrepo_version: str
    revision: str
    package_count: int
    has_group: bool
    has_modules: bool
    repomd_sha256: str

    def metadata(self) -> dict[str, object]:
        """Plain values for asset metadata and input digests."""
        return {
            "release": self.release,
            "compression": self.compression,
            "plain_group": self.plain_group,
            "createrepo_c": self.createrepo_version,
            "revision": self.revision,
            "packages": self.package_count,
            "group": self.has_group,
            "modules": self.has_modules,
            "repomd_sha256": self.repomd_sha256,
        }


@functools.cache
def createrepo_version() -> str:
    """`Version: 1.2.5 (Features: ...)`, once per process (it goes into every RepoResult)."""
    return tool_version([str(createrepo_binary()), "--version"])


def createrepo_binary() -> Path:
    return TOOL_DIR / "createrepo_c"


def modifyrepo_binary() -> Path:
    return TOOL_DIR / "modifyrepo_c"


def createrepo_argv(
    repo_dir: Path,
    *,
    release: str,
    comps: Path | None,
    revision: str,
    binary: Path | None = None,
) -> list[str]:
    """argv of createrepo_c for `release`; `comps` must be absolute (see below)."""
    target = compression_for(release)
    argv = [
        str(binary or createrepo_binary()),
        "--quiet",
        "--no-database",
        "--unique-md-filenames",
        "--checksum=sha256",
        "--repomd-checksum=sha256",
        f"--general-compress-type={target.metadata}",
        f"--compress-type={target.metadata}",
        f"--revision={revision}",
        "--set-timestamp-to-revision",
    ]
    if target.plain_group:
        # 1.x leaves the group file uncompressed only in compatibility mode; the other
        # effects of that mode (sqlite, gz default) are overridden by the flags above.
        argv.append("--compatibility")
    if comps is not None:
        if not comps.is_absolute():
            # createrepo_c resolves a relative -g against the repo folder, not the cwd.
            raise RepodataError(f"comps path {comps} must be absolute for createrepo_c -g")
        argv.append(f"--groupfile={comps}")
    return [*argv, str(repo_dir)]


def modifyrepo_argv(
    metadata_file: Path, repodata_dir: Path, *, mdtype: str, target: RepoCompression
) -> list[str]:
    return [
        str(modifyrepo_binary()),
        f"--mdtype={mdtype}",
        f"--compress-type={target.metadata}",
        "--checksum=sha256",
        "--unique-md-filenames",
        str(metadata_file),
        str(repodata_dir),
    ]


def build_repo(
    repo_dir: Path,
    *,
    release: str,
    source_date_epoch: int,
    comps: Path | None = None,
    modules: Path | None = None,
    repo_label: str | None = None,
) -> RepoResult:
    """(Re)generate `repo_dir/repodata` for the RPMs under `repo_dir`.

    Any existing repodata/ is replaced. `comps` and `modules` are uncompressed comps.xml and
    modules.yaml files. Two calls with the same RPMs and inputs give an identical repomd.xml.
    Raises RepodataError (bad inputs, wrong compression in the result) or ToolError.
    """
    started = time.monotonic()
    label = repo_label or repo_dir.name
    target = compression_for(release)
    revision = str(source_date_epoch)
    rpms = sorted(repo_dir.rglob("*.rpm"))
    for rpm in rpms:
        os.utime(rpm, (source_date_epoch, source_date_epoch))

    repodata_dir = repo_dir / "repodata"
    if repodata_dir.exists():
        log.info("repo %s: replacing existing repodata/", label)
        shutil.rmtree(repodata_dir)

    with tempfile.TemporaryDirectory(prefix="repodata-inputs-") as tmp:
        staged_comps = _stage_input(comps, Path(tmp) / COMPS_NAME, source_date_epoch)
        staged_modules = _stage_input(modules, Path(tmp) / MODULES_NAME, source_date_epoch)
        run_tool(
            createrepo_argv(repo_dir, release=release, comps=staged_comps, revision=revision),
            env={"SOURCE_DATE_EPOCH": revision, "LC_ALL": "C", "TZ": "UTC"},
        )
        if staged_modules is not None:
            run_tool(
                modifyrepo_argv(staged_modules, repodata_dir, mdtype="modules", target=target),
                env={"SOURCE_DATE_EPOCH": revision, "LC_ALL": "C", "TZ": "UTC"},
            )
            restamp_record(repodata_dir, "modules", source_date_epoch)

    check_compression(repodata_dir, release, repo_label=label)
    repomd = read_repomd(repodata_dir / "repomd.xml")
    result = RepoResult(
        repo_dir=repo_dir,
        release=release,
        compression=target.metadata,
        plain_group=target.plain_group,
        createrepo_version=createrepo_version(),
        revision=revision,
        package_count=len(rpms),
        has_group=find_record(repomd, GROUP_TYPES) is not None,
        has_modules=find_record(repomd, MODULES_TYPES) is not None,
        repomd_sha256=hashlib.sha256((repodata_dir / "repomd.xml").read_bytes()).hexdigest(),
    )
    log.info(
        "repo %s: %d packages, %s metadata%s%s in %.2f s",
        label,
        len(rpms),
        target.metadata,
        ", group" if result.has_group else "",
        ", modules" if result.has_modules else "",
        time.monotonic() - started,
    )
    return result


def _stage_input(source: Path | None, dest: Path, epoch: int) -> Path | None:
    """Copy an additional metadata file under its fixed name (its name ends up in the href)."""
    if source is None:
        return None
    if not source.is_file():
        raise RepodataError(f"{source}: metadata input file does not exist")
    shutil.copyfile(source, dest)
    os.utime(dest, (epoch, epoch))
    return dest


def restamp_record(repodata_dir: Path, mdtype: str, timestamp: int) -> None:
    """Set the <timestamp> of one repomd.xml record (and its file's mtime) to `timestamp`.

    A text substitution inside that one <data> block, so the rest of repomd.xml stays
    byte-for-byte what createrepo_c wrote. repomd.xml carries no checksum of itself.
    """
    repomd_path = repodata_dir / "repomd.xml"
    text = repomd_path.read_text(encoding="utf-8")
    block = re.compile(rf'(<data type="{re.escape(mdtype)}">.*?</data>)', re.DOTALL)
    match = block.search(text)
    if match is None:
        raise RepodataError(f"{repomd_path}: no {mdtype} record to re-stamp")
    stamped, count = re.subn(
        r"<timestamp>\d+</timestamp>", f"<timestamp>{timestamp}</timestamp>", match.group(1)
    )
    if count != 1:
        raise RepodataError(f"{repomd_path}: {mdtype} record has {count} timestamps, expected 1")
    repomd_path.write_text(text[: match.start()] + stamped + text[match.end() :], encoding="utf-8")
    href = re.search(r'<location href="([^"]+)"', stamped)
    if href is not None:
        os.utime(repodata_dir.parent / href.group(1), (timestamp, timestamp))
