"""The demo's base runtime tarball: a Rocky-9-like root made of busybox.

Why busybox: the demo builds on a fresh machine without internet, where no EL package
(glibc, bash, coreutils) is reachable. Debian's busybox-static is one self-contained binary
that gives the root a working /bin/sh for rpm scriptlets and a shell for the service script,
and /etc/os-release + /etc/redhat-release say "Rocky 9.4" so Trivy detects the OS.

The tarball is reproducible: entries sorted, owner 0/0 (root/root), every mtime set to
SOURCE_DATE_EPOCH, gzip header mtime 0. The layout is EL9's merged /usr (/bin -> usr/bin).
/dev is an empty folder: the rootfs stage makes /dev/null before `rpm --root` (device nodes
in a tarball would need root to unpack).

"""

from __future__ import annotations

import gzip
import io
import logging
import os
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from iso_assets.artifacts import digest_of, sha256_file
from iso_assets.demo.stamp import is_up_to_date, stamp_path, write_stamp
from iso_assets.errors import IsoAssetsError
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

CODE_VERSION = "base-runtime-1"
BUSYBOX = Path("/bin/busybox")
OS_NAME = "Rocky Linux"
OS_VERSION_ID = "9.4"
OS_CODENAME = "Blue Onyx"
PRETTY_NAME = f"{OS_NAME} {OS_VERSION_ID} ({OS_CODENAME}) (iso-assets demo)"
# usrmerge as on EL9: these top-level names are symlinks into /usr.
MERGED_DIRS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
PLAIN_DIRS = {
    "boot": 0o555,
    "dev": 0o755,
    "etc": 0o755,
    "etc/pki": 0o755,
    "etc/pki/rpm-gpg": 0o755,
    "etc/profile.d": 0o755,
    "etc/yum.repos.d": 0o755,
    "home": 0o755,
    "media": 0o755,
    "mnt": 0o755,
    "opt": 0o755,
    "proc": 0o555,
    "root": 0o550,
    "run": 0o755,
    "srv": 0o755,
    "sys": 0o555,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/bin": 0o755,
    "usr/lib": 0o755,
    "usr/lib64": 0o755,
    "usr/libexec": 0o755,
    "usr/sbin": 0o755,
    "usr/share": 0o755,
    "var": 0o755,
    "var/cache": 0o755,
    "var/lib": 0o755,
    "var/lib/rpm": 0o755,
    "var/log": 0o755,
    "var/spool": 0o755,
    "var/tmp": 0o1777,
}


class BaseRuntimeError(IsoAssetsError):
    """Raised when the base runtime tarball cannot be built (busybox missing or unusable)."""


@dataclass(frozen=True)
class TreeEntry:
    """One member of the tarball: a folder, a regular file or a symlink."""

    path: str
    mode: int
    data: bytes | None = None
    link_target: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.data is None and self.link_target is None


def build_base_runtime(out: Path, *, source_date_epoch: int) -> Path:
    """Write the base runtime tarball to `out` (tar.gz); return `out`.

    Skipped when `out` exists and its stamp records the same input digest (busybox binary,
    source_date_epoch, code version). Raises BaseRuntimeError when busybox-static is missing.
    """
    if not BUSYBOX.is_file():
        raise BaseRuntimeError(
            f"{BUSYBOX} not found: install the Debian package busybox-static (the demo base "
            f"runtime is made of it)"
        )
    busybox_sha, _ = sha256_file(BUSYBOX)
    input_digest = digest_of(
        {"code": CODE_VERSION, "busybox": busybox_sha, "source_date_epoch": source_date_epoch}
    )
    stamp = stamp_path(out)
    if is_up_to_date(out, stamp, input_digest):
        log.info("base runtime %s reused: input digest %s unchanged", out, input_digest[:12])
        return out

    started = time.monotonic()
    entries = runtime_entries(
        BUSYBOX.read_bytes(), busybox_applets(), source_date_epoch=source_date_epoch
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(tar_gz_bytes(entries, mtime=source_date_epoch))
    os.replace(partial, out)
    write_stamp(stamp, input_digest)
    log.info(
        "base runtime %s written in %.2f s (%d entries, %d bytes)",
        out,
        time.monotonic() - started,
        len(entries),
        out.stat().st_size,
    )
    return out


def busybox_applets() -> list[str]:
    """Install paths of busybox's applets (`busybox --list-full`), e.g. `usr/bin/awk`."""
    listing = run_tool([str(BUSYBOX), "--list-full"]).stdout.decode()
    return [line.strip() for line in listing.splitlines() if line.strip()]


def applet_link(applet_path: str) -> tuple[str, str] | None:
    """(path in the merged-/usr tree, relative symlink target) for one applet, or None."""
    top, _, rest = applet_path.partition("/")
    if not rest:
        return None  # "linuxrc" and the like: not a command on a normal system
    folder = MERGED_DIRS.get(top, top) if top != "usr" else "usr/" + rest.rpartition("/")[0]
    name = rest.rpartition("/")[2]
    if folder == "usr/bin":
        return f"usr/bin/{name}", "busybox"
    if folder == "usr/sbin":
        return f"usr/sbin/{name}", "../bin/busybox"
    return None


def runtime_entries(
    busybox: bytes, applets: list[str], *, source_date_epoch: int
) -> list[TreeEntry]:
    """Every member of the base runtime, sorted by path."""
    entries: dict[str, TreeEntry] = {}
    for path, mode in PLAIN_DIRS.items():
        entries[path] = TreeEntry(path, mode)
    for name, target in MERGED_DIRS.items():
        entries[name] = TreeEntry(name, 0o777, link_target=target)
    entries["usr/bin/busybox"] = TreeEntry("usr/bin/busybox", 0o755, data=busybox)
    for applet in applets:
        link = applet_link(applet)
        if link and link[0] not in entries:
            entries[link[0]] = TreeEntry(link[0], 0o777, link_target=link[1])
    for path, (mode, text) in config_files(source_date_epoch).items():
        entries[path] = TreeEntry(path, mode, data=text.encode())
    entries["etc/system-release"] = TreeEntry(
        "etc/system-release", 0o777, link_target="rocky-release"
    )
    return [entries[path] for path in sorted(entries)]


def config_files(source_date_epoch: int) -> dict[str, tuple[int, str]]:
    """The /etc files of the base: path -> (mode, text)."""
    days = source_date_epoch // 86400
    os_release = (
        f'NAME="{OS_NAME}"\n'
        f'VERSION="{OS_VERSION_ID} ({OS_CODENAME})"\n'
        'ID="rocky"\n'
        'ID_LIKE="rhel centos fedora"\n'
        f'VERSION_ID="{OS_VERSION_ID}"\n'
        'PLATFORM_ID="platform:el9"\n'
        f'PRETTY_NAME="{PRETTY_NAME}"\n'
        'ANSI_COLOR="0;32"\n'
        f'CPE_NAME="cpe:/o:rocky:rocky:{OS_VERSION_ID.split(".")[0]}::baseos"\n'
        'HOME_URL="https://example.invalid/iso-assets-demo"\n'
        f'REDHAT_SUPPORT_PRODUCT_VERSION="{OS_VERSION_ID}"\n'
    )
    release_line = f"{OS_NAME} release {OS_VERSION_ID} ({OS_CODENAME})\n"
    return {
        "etc/os-release": (0o644, os_release),
        "usr/lib/os-release": (0o644, os_release),
        "etc/redhat-release": (0o644, release_line),
        "etc/rocky-release": (0o644, release_line),
        "etc/passwd": (
            0o644,
            "root:x:0:0:root:/root:/bin/sh\n"
            "bin:x:1:1:bin:/bin:/sbin/nologin\n"
            "daemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
            "nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n",
        ),
        "etc/group": (0o644, "root:x:0:\nbin:x:1:\ndaemon:x:2:\nnobody:x:65534:\n"),
        # Locked root ("!"): the kickstart sets the real password hash at install time.
        "etc/shadow": (
            0o000,
            f"root:!:{days}:0:99999:7:::\nbin:*:{days}:0:99999:7:::\n"
            f"daemon:*:{days}:0:99999:7:::\nnobody:*:{days}:0:99999:7:::\n",
        ),
        "etc/gshadow": (0o000, "root:::\nbin:::\ndaemon:::\nnobody:::\n"),
        "etc/shells": (0o644, "/bin/sh\n/usr/bin/sh\n"),
        "etc/hosts": (0o644, "127.0.0.1   localhost\n::1         localhost\n"),
        "etc/machine-id": (0o444, ""),
    }


def tar_gz_bytes(entries: list[TreeEntry], *, mtime: int) -> bytes:
    """A gzip'd tar of `entries` in the given order: owner 0/0, every mtime `mtime`,
    gzip header without name or time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mode = entry.mode
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if entry.link_target is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link_target
                tar.addfile(info)
            elif entry.data is not None:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
