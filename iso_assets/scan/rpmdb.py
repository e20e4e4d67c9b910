"""List the packages in a tree's rpm database with the real rpm, to check Trivy's count."""

from __future__ import annotations

import tempfile
from pathlib import Path

from iso_assets.process import run_tool
from iso_assets.rootfs.install import RPM_DBPATH, rpm_env

# NAME-VERSION-RELEASE.ARCH: the form summary.package_nvra builds from Trivy's report
# (epoch left out on both sides, so the comparison does not depend on epoch formatting).
NVRA_FORMAT = "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"
DATABASE_FILES = ("rpmdb.sqlite", "Packages")
# Files rpm (sqlite in WAL mode) creates just by opening the database for a query.
SIDE_FILES = (".rpm.lock", "rpmdb.sqlite-shm", "rpmdb.sqlite-wal")


def rpmdb_query_argv(tree: Path) -> list[str]:
    return ["rpm", "--root", str(tree), "--dbpath", RPM_DBPATH, "-qa", "--qf", NVRA_FORMAT]


def list_rpmdb_packages(tree: Path, *, source_date_epoch: int = 0) -> list[str]:
    """Sorted NAME-VERSION-RELEASE.ARCH of every package in `tree`'s /var/lib/rpm database.

    An absent database gives [] without running rpm (a query would create an empty one in
    the scanned tree); side files the query itself creates are removed again.
    """
    dbdir = tree / RPM_DBPATH.lstrip("/")
    if not any((dbdir / name).is_file() for name in DATABASE_FILES):
        return []
    present_before = {name for name in SIDE_FILES if (dbdir / name).exists()}
    with tempfile.TemporaryDirectory(prefix="rpm-home-") as home:
        result = run_tool(rpmdb_query_argv(tree), env=rpm_env(Path(home), source_date_epoch))
    for name in set(SIDE_FILES) - present_before:
        side_file = dbdir / name
        # A non-empty WAL holds data; never drop it (a read-only query leaves it empty).
        if side_file.exists() and (name != "rpmdb.sqlite-wal" or not side_file.stat().st_size):
            side_file.unlink()
    return sorted(line.strip() for line in result.stdout.decode().splitlines() if line.strip())
