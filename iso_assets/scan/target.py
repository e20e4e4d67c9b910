"""Refuse a scan target that is not an installed root filesystem (case trivy03).

`trivy fs`/`trivy rootfs` on an ISO, a qcow2 or a squashfs finds no OS and no OS packages,
reports 0 vulnerabilities and exits 0: a green scan of nothing. So before Trivy runs the
target must be a folder with an os-release and an rpm database where Trivy looks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iso_assets.scan.errors import ScanTargetError

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
# Where Trivy's rpm analyzer finds a database: sqlite (EL9+), Berkeley DB (EL8 and older),
# and EL10's /usr/lib/sysimage location.
RPMDB_PATHS = (
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages",
)


@dataclass(frozen=True)
class RootfsTarget:
    """An installed root that Trivy can scan: where its os-release and rpmdb are."""

    tree: Path
    os_release: Path
    rpmdb: Path


def check_scan_target(path: Path) -> RootfsTarget:
    """Accept only a folder that looks like an installed root; raise ScanTargetError otherwise."""
    if path.is_file() or (path.exists() and not path.is_dir()):
        raise ScanTargetError(
            f"scan target {path} is a file, not a root filesystem; scan the rootfs of the "
            f"installed system (mounted disk image) instead"
        )
    if not path.is_dir():
        raise ScanTargetError(
            f"scan target {path} does not exist; pass the unpacked rootfs folder of the "
            f"installed system"
        )
    os_release = first_present(path, OS_RELEASE_PATHS)
    if os_release is None:
        raise ScanTargetError(
            f"scan target {path} has no {' or '.join(OS_RELEASE_PATHS)}: not an installed root "
            f"(Trivy would detect no OS); scan the rootfs of the installed system instead"
        )
    rpmdb = first_present(path, RPMDB_PATHS)
    if rpmdb is None:
        raise ScanTargetError(
            f"scan target {path} has no rpm database ({', '.join(RPMDB_PATHS)}): Trivy would "
            f"find zero OS packages; install the packages with --dbpath /var/lib/rpm (on a "
            f"Debian host rpm defaults to ~/.rpmdb)"
        )
    return RootfsTarget(tree=path, os_release=os_release, rpmdb=rpmdb)


def first_present(tree: Path, candidates: tuple[str, ...]) -> Path | None:
    # lexists: /etc/os-release is a symlink on EL, possibly absolute (pointing into the
    # host's / when followed from outside the tree).
    for relative in candidates:
        candidate = tree / relative
        if candidate.is_symlink() or candidate.is_file():
            return candidate
    return None
