"""Everything that makes the ISO bootable, as ISO path -> local file entries for build_iso.

BIOS: isolinux.bin + ldlinux.c32 + isolinux.cfg, with the kernel and initrd reachable under
isolinux/. UEFI: EFI/BOOT/{BOOTX64.EFI,grub.cfg} on the ISO and the same two files inside
images/efiboot.img. Both menus are checked for label consistency before anything is built.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from iso_assets.errors import IsoBuildError
from iso_assets.iso.bootconfig import (
    GRUB_CFG,
    INITRD,
    ISOLINUX_CFG,
    ISOLINUX_INITRD,
    ISOLINUX_KERNEL,
    KERNEL,
    render_grub_cfg,
    render_isolinux_cfg,
)
from iso_assets.iso.efiboot import BOOTX64, EFIBOOT_IMAGE, build_efiboot_image, make_bootx64_efi
from iso_assets.iso.inspect import check_label_text
from iso_assets.iso.xorriso import bios_boot_files

log = logging.getLogger(__name__)


def make_boot_tree(
    work_dir: Path,
    *,
    volume_id: str,
    title: str,
    kernel: Path,
    initrd: Path,
    boot_args: Sequence[str],
    menu_timeout: int,
    source_date_epoch: int,
    efiboot_size_mib: int | None = None,
) -> dict[str, Path]:
    """Write the boot configs, BOOTX64.EFI and efiboot.img under `work_dir`; return the boot
    part of the ISO layout. Raises IsoBuildError on a label problem or a too-small image."""
    work_dir.mkdir(parents=True, exist_ok=True)
    configs = {
        iso_path: renderer(
            volume_id=volume_id, title=title, boot_args=boot_args, menu_timeout=menu_timeout
        )
        for iso_path, renderer in ((ISOLINUX_CFG, render_isolinux_cfg), (GRUB_CFG, render_grub_cfg))
    }
    problems = [
        problem
        for iso_path, text in configs.items()
        for problem in check_label_text(Path(iso_path).name, text, volume_id)
    ]
    if problems:
        raise IsoBuildError("\n".join(problems))

    files: dict[str, Path] = {}
    for iso_path, text in configs.items():
        local = work_dir / Path(iso_path).name
        local.write_text(text)
        os.utime(local, (source_date_epoch, source_date_epoch))
        files[iso_path] = local
    bootx64 = make_bootx64_efi(work_dir / "BOOTX64.EFI")
    efiboot = build_efiboot_image(
        {BOOTX64: bootx64, GRUB_CFG: files[GRUB_CFG]},
        work_dir / "efiboot.img",
        source_date_epoch=source_date_epoch,
        size_mib=efiboot_size_mib,
    )
    return {
        **bios_boot_files(),
        **files,
        KERNEL: kernel,
        INITRD: initrd,
        ISOLINUX_KERNEL: kernel,
        ISOLINUX_INITRD: initrd,
        BOOTX64: bootx64,
        EFIBOOT_IMAGE: efiboot.path,
    }
