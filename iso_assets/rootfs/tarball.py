"""Unpack the base tarball safely; write the rootfs as a reproducible tar.gz.

Unpacking: tarfile's own `data` filter would refuse absolute symlinks (normal in a root
filesystem, e.g. /etc/localtime) and strip setuid bits and group/other write bits (breaking
/tmp's 1777 and su), so a filter of our own keeps modes and symlinks but refuses what could
write outside the tree: absolute or `..` member names, hard links out of the tree, and any
member whose parent resolves outside the tree through an already-unpacked symlink.

Writing: entries sorted by path, owner 0/0 root/root, mtime = SOURCE_DATE_EPOCH, gzip header
mtime 0 and no file name, no pax atime/ctime. Hard links are kept as hard links. Device
nodes, FIFOs and sockets are left out: /dev is a devtmpfs at boot, and consumers unpacking
with tarfile's data filter (or without root) refuse them.
Known gap: extended attributes (file capabilities such as ping's cap_net_raw) are not
written; Python's tarfile has no xattr support.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import tarfile
import time
from pathlib import Path, PurePosixPath

from iso_assets.errors import RootfsError

log = logging.getLogger(__name__)

GZIP_LEVEL = 6


def extract_base(tarball: Path, tree: Path) -> None:
    """Unpack `tarball` into `tree` (which must exist); raises RootfsError on unsafe entries."""
    started = time.monotonic()
    root = tree.resolve()
    skipped: list[str] = []

    def base_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise RootfsError(
                f"{tarball}: entry {member.name!r} points outside the tree; rebuild the base "
                f"tarball with relative member names"
            )
        if member.islnk():
            target = PurePosixPath(member.linkname)
            if target.is_absolute() or ".." in target.parts:
                raise RootfsError(f"{tarball}: hard link {member.name!r} -> {member.linkname!r}")
        if member.isdev() or member.isfifo():
            skipped.append(member.name)
            return None
        # A symlink member replaces what is there; anything else is written through it.
        where = name.parent if member.issym() or member.islnk() else name
        resolved = Path(os.path.realpath(root / where))
        if resolved != root and root not in resolved.parents:
            raise RootfsError(
                f"{tarball}: entry {member.name!r} would be written through a symlink to "
                f"{resolved}, outside the tree; fix the base tarball"
            )
        return member

    try:
        with tarfile.open(tarball, "r:*") as archive:
            archive.extractall(root, numeric_owner=True, filter=base_filter)
    except (OSError, tarfile.TarError) as exc:
        raise RootfsError(f"{tarball}: cannot unpack base tarball ({exc})") from exc
    if skipped:
        log.info("base tarball: skipped %d device/FIFO entries: %s", len(skipped), skipped[:5])
    log.info("base tarball %s unpacked in %.2f s", tarball.name, time.monotonic() - started)


def write_reproducible_tarball(tree: Path, out_tarball: Path, *, mtime: int) -> int:
    """Write `tree` as a reproducible tar.gz; return the number of entries written."""
    started = time.monotonic()
    out_tarball.parent.mkdir(parents=True, exist_ok=True)
    seen_inodes: dict[tuple[int, int], str] = {}
    skipped: list[str] = []
    count = 0
    with (
        out_tarball.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in walk_sorted(tree):
            arcname = path.relative_to(tree).as_posix()
            info = tar_entry(path, arcname, mtime=mtime, seen_inodes=seen_inodes)
            if info is None:
                skipped.append(arcname)
                continue
            if info.isreg():
                with path.open("rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)
            count += 1
    if skipped:
        log.info(
            "rootfs tarball: left out %d device/FIFO/socket entries: %s", len(skipped), skipped
        )
    log.info(
        "rootfs tarball %s: %d entries in %.2f s",
        out_tarball.name,
        count,
        time.monotonic() - started,
    )
    return count


def walk_sorted(tree: Path) -> list[Path]:
    """Every path below `tree`, depth first, names sorted bytewise; symlinks not followed."""
    paths: list[Path] = []
    for entry in sorted(os.scandir(tree), key=lambda e: os.fsencode(e.name)):
        path = Path(entry.path)
        paths.append(path)
        if entry.is_dir(follow_symlinks=False):
            paths.extend(walk_sorted(path))
    return paths


def tar_entry(
    path: Path, arcname: str, *, mtime: int, seen_inodes: dict[tuple[int, int], str]
) -> tarfile.TarInfo | None:
    """The normalised TarInfo of one path, or None for devices, FIFOs and sockets."""
    st = path.lstat()
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = mtime
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in seen_inodes:
            info.type = tarfile.LNKTYPE
            info.linkname = seen_inodes[key]
        else:
            seen_inodes[key] = arcname
            info.type = tarfile.REGTYPE
            info.size = st.st_size
    else:
        return None
    return info
