"""Install RPMs into the rootfs tree with the real rpm, database at /var/lib/rpm inside it.

On a Debian host rpm's default database is ~/.rpmdb, so --dbpath is always given (relative
to --root) and HOME points at an empty folder so no ~/.rpmmacros leaks in. Scriptlets run
chrooted in the tree: it needs /bin/sh (from a package in the install set) and /dev/null.
Known gap: rpm --root chroots for scriptlets, so this stage needs root (or CAP_SYS_CHROOT).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from iso_assets.errors import RootfsError, ToolError
from iso_assets.process import run_tool, stderr_tail

log = logging.getLogger(__name__)

RPM_DBPATH = "/var/lib/rpm"
RPMDB_FILE = "rpmdb.sqlite"
NEEDED_BY = re.compile(r"^\s*(?P<capability>.+?) is needed by (?P<package>\S+)\s*$", re.MULTILINE)


def rpm_install_argv(tree: Path, rpms: Sequence[Path]) -> list[str]:
    # --noplugins: the host's rpm plugins (selinux, syslog, systemd-inhibit) are not the
    # target's and would make the result depend on the build host.
    return [
        "rpm",
        "--root", str(tree),
        "--dbpath", RPM_DBPATH,
        "--noplugins",
        "-i",
        *[str(rpm) for rpm in sorted(rpms)],
    ]  # fmt: skip


def rpm_query_argv(tree: Path) -> list[str]:
    return ["rpm", "--root", str(tree), "--dbpath", RPM_DBPATH, "-qa", "--qf", "%{NEVRA}\\n"]


def rpm_env(home: Path, source_date_epoch: int) -> dict[str, str]:
    return {
        "HOME": str(home),
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "LC_ALL": "C",
        "TZ": "UTC",
    }


def prepare_tree_for_rpm(tree: Path) -> None:
    """Create what rpm's chrooted scriptlets need: /dev/null and /var/tmp."""
    dev_null = tree / "dev" / "null"
    if not dev_null.exists():
        dev_null.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mknod(dev_null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError as exc:
            raise RootfsError(
                f"cannot create {dev_null} ({exc}); the rootfs stage must run as root"
            ) from exc
        os.chmod(dev_null, 0o666)
    var_tmp = tree / "var" / "tmp"
    if not var_tmp.exists():
        var_tmp.mkdir(parents=True)
        os.chmod(var_tmp, 0o1777)


def install_rpms(tree: Path, rpms: Sequence[Path], *, source_date_epoch: int) -> None:
    """Install `rpms` into `tree` in one transaction; RootfsError names missing dependencies."""
    if not rpms:
        raise RootfsError("no RPMs to install into the rootfs; product RPMs are required")
    prepare_tree_for_rpm(tree)
    with tempfile.TemporaryDirectory(prefix="rpm-home-") as home:
        try:
            run_tool(rpm_install_argv(tree, rpms), env=rpm_env(Path(home), source_date_epoch))
        except ToolError as exc:
            raise install_error(exc.stderr, rpms) from exc
    if not (tree / RPM_DBPATH.lstrip("/") / RPMDB_FILE).is_file():
        raise RootfsError(
            f"rpm wrote no {RPM_DBPATH}/{RPMDB_FILE} in the tree; this rpm does not use the "
            f"sqlite backend (rpm >= 4.16 needed)"
        )
    log.info("installed %d RPMs into %s", len(rpms), tree)


def install_error(stderr: str, rpms: Sequence[Path]) -> RootfsError:
    """A RootfsError that says which package needs what, and what to do about it."""
    needed = NEEDED_BY.findall(stderr)
    if needed:
        lines = [
            f"{package} needs {capability!r}, which no RPM in the install set provides"
            for capability, package in needed
        ]
        return RootfsError(
            "rpm cannot install the rootfs packages:\n  "
            + "\n  ".join(lines)
            + "\nadd the package that provides each of them to rootfs.packages in product.yaml"
        )
    return RootfsError(
        f"rpm failed installing {len(rpms)} RPMs into the rootfs:\n{stderr_tail(stderr)}"
    )


def query_installed(tree: Path, *, source_date_epoch: int) -> list[str]:
    """Sorted NEVRA of every package in the tree's rpm database."""
    with tempfile.TemporaryDirectory(prefix="rpm-home-") as home:
        result = run_tool(rpm_query_argv(tree), env=rpm_env(Path(home), source_date_epoch))
    return sorted(line for line in result.stdout.decode().splitlines() if line.strip())


def clean_rpmdb(tree: Path) -> None:
    """Remove the lock and sqlite side files rpm leaves; refuse a WAL that holds data."""
    dbdir = tree / RPM_DBPATH.lstrip("/")
    for name in (".rpm.lock", f"{RPMDB_FILE}-shm"):
        (dbdir / name).unlink(missing_ok=True)
    wal = dbdir / f"{RPMDB_FILE}-wal"
    if wal.exists():
        if wal.stat().st_size:
            # Uncheckpointed transactions: dropping the file would lose packages.
            raise RootfsError(f"{wal} is not empty after rpm exited; the rpmdb is incomplete")
        wal.unlink()
