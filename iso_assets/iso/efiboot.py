"""images/efiboot.img: the FAT image UEFI firmware boots from, built without loop mounts.

BOOTX64.EFI comes from `grub-mkimage` (bit-identical across runs for the same module list
and order, measured with GRUB 2.06). The FAT file system is made by `mkfs.fat --invariant`
(fixed serial and timestamps) and filled with mtools, whose timestamps follow
SOURCE_DATE_EPOCH (in local time, so TZ is pinned to UTC). Same inputs: same bytes.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from iso_assets.errors import IsoBuildError, ToolError
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

MIB = 1024 * 1024
EFIBOOT_IMAGE = "images/efiboot.img"
BOOTX64 = "EFI/BOOT/BOOTX64.EFI"
# What the GRUB core needs to find the ISO by label, read its config from FAT or ISO 9660,
# talk over serial and boot a Linux kernel; grub-mkimage adds their dependencies itself.
# The order is part of the output: keep it fixed for reproducible BOOTX64.EFI bytes.
GRUB_EFI_MODULES = (
    *("part_gpt", "part_msdos", "fat", "iso9660"),
    *("normal", "boot", "linux", "configfile", "echo", "test", "ls", "cat", "reboot", "halt"),
    *("search", "search_label", "search_fs_uuid", "search_fs_file"),
    *("serial", "terminal", "all_video", "gfxterm", "efi_gop"),
)
# Conservative FAT figures: a 4 KiB cluster (mkfs.fat picks 2 KiB up to ~16 MiB), and boot
# sector + two FATs + a 512-entry root directory well inside 256 KiB at these sizes.
FAT_CLUSTER = 4096
FAT_FIXED_OVERHEAD = 256 * 1024
MARGIN = 0.10


@dataclass(frozen=True)
class EfibootImage:
    path: Path
    size_mib: int
    payload_bytes: int
    size_reason: str


def grub_mkimage_argv(out: Path, *, modules: tuple[str, ...] = GRUB_EFI_MODULES) -> list[str]:
    return ["grub-mkimage", "-O", "x86_64-efi", "-p", "/EFI/BOOT", "-o", str(out), *modules]


def make_bootx64_efi(out: Path) -> Path:
    """Write GRUB's x86_64 EFI core image (its prefix /EFI/BOOT holds grub.cfg) to `out`."""
    run_tool(grub_mkimage_argv(out))
    return out


def efiboot_size_mib(payload_sizes: Mapping[str, int]) -> int:
    """Smallest whole MiB holding the payload: file sizes rounded to clusters, one cluster
    per directory, fixed FAT overhead, then a 10 % margin."""
    data = sum(_round_up(size, FAT_CLUSTER) for size in payload_sizes.values())
    directories = {parent for path in payload_sizes for parent in PurePosixPath(path).parents}
    directories.discard(PurePosixPath("."))
    needed = (data + len(directories) * FAT_CLUSTER + FAT_FIXED_OVERHEAD) * (1 + MARGIN)
    return max(1, math.ceil(needed / MIB))


def check_efiboot_fits(payload_sizes: Mapping[str, int], size_mib: int) -> None:
    """Raise IsoBuildError, before any tool runs, when a fixed image size cannot hold the
    payload (a GRUB or shim update grows it; a partial copy boots to a silent stop)."""
    needed = efiboot_size_mib(payload_sizes)
    if size_mib >= needed:
        return
    payload = sum(payload_sizes.values())
    raise IsoBuildError(
        f"efiboot.img {size_mib} MiB is too small for EFI payload {payload / MIB:.1f} MiB "
        f"({_payload_glob(payload_sizes)}); need >= {needed} MiB"
    )


def mkfs_fat_argv(image: Path, size_mib: int) -> list[str]:
    return ["mkfs.fat", "--invariant", "-C", str(image), str(size_mib * 1024)]


def mmd_argv(image: Path, directories: list[str]) -> list[str]:
    return ["mmd", "-i", str(image), *(f"::/{directory}" for directory in directories)]


def mcopy_argv(image: Path, source: Path, target: str) -> list[str]:
    return ["mcopy", "-i", str(image), str(source), f"::/{target}"]


def build_efiboot_image(
    payload: Mapping[str, Path],
    out: Path,
    *,
    source_date_epoch: int,
    size_mib: int | None = None,
) -> EfibootImage:
    """Build the FAT image holding `payload` (FAT path -> local file, e.g. BOOTX64.EFI and
    the ISO's grub.cfg). `size_mib` None sizes it from the payload; a fixed size too small
    fails before anything is written. Raises IsoBuildError, also on mtools "Disk full"."""
    started = time.monotonic()
    sizes = {path: source.stat().st_size for path, source in payload.items()}
    needed = efiboot_size_mib(sizes)
    if size_mib is None:
        size_mib, reason = needed, "sized from payload (+FAT overhead, +10 %)"
    else:
        check_efiboot_fits(sizes, size_mib)
        reason = f"fixed by iso.efiboot_size_mib (payload needs {needed} MiB)"

    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    try:
        run_tool(mkfs_fat_argv(out, size_mib))
        fill_fat_image(out, payload, source_date_epoch=source_date_epoch)
    except IsoBuildError:
        out.unlink(missing_ok=True)
        raise
    except ToolError as exc:
        out.unlink(missing_ok=True)
        raise IsoBuildError(f"cannot build {out.name}: {exc}") from exc

    os.utime(out, (source_date_epoch, source_date_epoch))
    log.info(
        "efiboot.img: %d MiB (%s), %d files, %.2f s",
        size_mib,
        reason,
        len(payload),
        time.monotonic() - started,
    )
    return EfibootImage(
        path=out, size_mib=size_mib, payload_bytes=sum(sizes.values()), size_reason=reason
    )


def fill_fat_image(image: Path, payload: Mapping[str, Path], *, source_date_epoch: int) -> None:
    """Copy `payload` (FAT path -> local file) into a formatted FAT image with mtools.

    A full image is fatal (IsoBuildError): a partly copied GRUB or shim boots to a silent stop.
    """
    env = {"SOURCE_DATE_EPOCH": str(source_date_epoch), "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"}
    directories = sorted(
        {str(parent) for path in payload for parent in PurePosixPath(path).parents} - {"."},
        key=lambda directory: (directory.count("/"), directory),
    )
    try:
        if directories:
            run_tool(mmd_argv(image, directories), env=env)
        for target, source in sorted(payload.items()):
            run_tool(mcopy_argv(image, source, target), env=env)
    except ToolError as exc:
        if "disk full" in exc.stderr.lower() or "no space" in exc.stderr.lower():
            payload_mib = sum(source.stat().st_size for source in payload.values()) / MIB
            raise IsoBuildError(
                f"{image.name} ran out of space (mcopy: Disk full) while copying the EFI "
                f"payload ({payload_mib:.1f} MiB); raise iso.efiboot_size_mib or leave it unset "
                f"so the size follows the payload"
            ) from exc
        raise


def _round_up(size: int, unit: int) -> int:
    return max(unit, -(-size // unit) * unit)


def _payload_glob(payload_sizes: Mapping[str, int]) -> str:
    parents = [str(PurePosixPath(path).parent) for path in payload_sizes]
    common = os.path.commonpath(parents) if parents else "."
    return f"{common}/*" if common not in ("", ".") else "*"
