"""assemble_rootfs: base tarball + product overlay + RPMs (real rpm) -> reproducible tar.gz."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from iso_assets.artifacts import sha256_file
from iso_assets.errors import RootfsError
from iso_assets.rootfs.install import clean_rpmdb, install_rpms, query_installed
from iso_assets.rootfs.overlay import render_overlay, replaced_files
from iso_assets.rootfs.tarball import extract_base, write_reproducible_tarball
from iso_assets.spec.models import ProductSpec, Service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RootfsResult:
    """The written tarball and what is in it."""

    tarball: Path
    sha256: str
    size: int
    entries: int
    packages: list[str] = field(default_factory=list)  # sorted NEVRA from the tree's rpmdb
    overlay_files: list[str] = field(default_factory=list)
    # Overlay files an installed RPM also ships; the package's content is what is in the tar.
    overlay_replaced: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, object]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "entries": self.entries,
            "packages": self.packages,
            "overlay_files": self.overlay_files,
            "overlay_replaced": self.overlay_replaced,
        }


def assemble_rootfs(
    spec: ProductSpec,
    *,
    base_tarball: Path,
    rpms: list[Path],
    work_dir: Path,
    out_tarball: Path,
) -> RootfsResult:
    """Build the rootfs tarball of `spec` into `out_tarball`.

    `rpms` are the product RPMs plus the upstream RPM files resolved for
    `spec.rootfs.packages` (see select_newest). `work_dir/tree` is replaced. Two calls with
    the same inputs write byte-identical tarballs. Raises RootfsError (bad base, overlay
    value, missing dependency, missing service account) or ToolError.
    """
    started = time.monotonic()
    if not base_tarball.is_file():
        raise RootfsError(f"rootfs.base_tarball {base_tarball} does not exist")
    missing = [str(rpm) for rpm in rpms if not rpm.is_file()]
    if missing:
        raise RootfsError(f"RPM files to install do not exist: {missing}")

    tree = work_dir / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)

    extract_base(base_tarball, tree)
    overlay = render_overlay(spec.rootfs, tree)
    install_rpms(tree, rpms, source_date_epoch=spec.source_date_epoch)
    replaced = replaced_files(tree, overlay)
    if replaced:
        log.info("overlay files replaced by files the RPMs ship (packages win): %s", replaced)
    packages = query_installed(tree, source_date_epoch=spec.source_date_epoch)
    clean_rpmdb(tree)
    check_service_account(tree, spec.rootfs.service)
    entries = write_reproducible_tarball(tree, out_tarball, mtime=spec.source_date_epoch)

    sha256, size = sha256_file(out_tarball)
    log.info(
        "rootfs %s: %d packages, %d entries, %d bytes, sha256:%s in %.2f s",
        out_tarball.name,
        len(packages),
        entries,
        size,
        sha256,
        time.monotonic() - started,
    )
    return RootfsResult(
        tarball=out_tarball,
        sha256=sha256,
        size=size,
        entries=entries,
        packages=packages,
        overlay_files=sorted(item.path for item in overlay),
        overlay_replaced=replaced,
    )


def check_service_account(tree: Path, service: Service) -> None:
    """The unit's User=/Group= must exist in the finished tree (base or RPM scriptlets)."""
    group = service.group or service.user
    for kind, name, table in (("user", service.user, "passwd"), ("group", group, "group")):
        if name not in account_names(tree / "etc" / table):
            raise RootfsError(
                f"rootfs.service.{kind} {name!r} is not in the rootfs /etc/{table} (base "
                f"tarball + RPM scriptlets); create it in a product RPM's %pre or use an "
                f"existing {kind}"
            )


def account_names(table: Path) -> set[str]:
    if not table.is_file():
        return set()
    return {line.split(":", 1)[0] for line in table.read_text().splitlines() if ":" in line}
