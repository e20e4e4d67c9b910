"""Render the boot menus: isolinux.cfg (BIOS, syslinux) and grub.cfg (UEFI, GRUB).

Every entry boots the same kernel and initrd with `inst.stage2=hd:LABEL=<volume id>` and
`inst.ks=hd:LABEL=<volume id>:/ks.cfg`, then the spec's boot arguments. isolinux can only
reach files in its own folder, so the kernel and initrd are also grafted under isolinux/
(same source file: xorriso stores the bytes once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from iso_assets.iso.label import validate_volume_id

KERNEL = "images/pxeboot/vmlinuz"
INITRD = "images/pxeboot/initrd.img"
ISOLINUX_KERNEL = "isolinux/vmlinuz"
ISOLINUX_INITRD = "isolinux/initrd.img"
ISOLINUX_CFG = "isolinux/isolinux.cfg"
GRUB_CFG = "EFI/BOOT/grub.cfg"


@dataclass(frozen=True)
class MenuEntry:
    name: str  # isolinux label name: one word
    title: str
    kernel_args: str


def installer_args(volume_id: str, boot_args: Sequence[str]) -> str:
    """The kernel arguments every entry carries: where stage2 and the kickstart live."""
    return " ".join(
        [f"inst.stage2=hd:LABEL={volume_id}", f"inst.ks=hd:LABEL={volume_id}:/ks.cfg", *boot_args]
    )


def menu_entries(title: str, volume_id: str, boot_args: Sequence[str]) -> list[MenuEntry]:
    """The default install entry first, then install after a media check."""
    args = installer_args(volume_id, boot_args)
    return [
        MenuEntry(name="install", title=f"Install {title}", kernel_args=args),
        MenuEntry(
            name="check",
            title=f"Test this media & install {title}",
            kernel_args=f"{args} rd.live.check",
        ),
    ]


def render_isolinux_cfg(
    *, volume_id: str, title: str, boot_args: Sequence[str], menu_timeout: int
) -> str:
    """isolinux.cfg: serial console, default entry, timeout in tenths of a second (0: none)."""
    validate_volume_id(volume_id)
    return _template("isolinux.cfg.j2").render(
        volume_id=volume_id,
        entries=menu_entries(title, volume_id, boot_args),
        timeout_ds=menu_timeout * 10,
    )


def render_grub_cfg(
    *, volume_id: str, title: str, boot_args: Sequence[str], menu_timeout: int
) -> str:
    """grub.cfg for the ISO and for efiboot.img: finds the ISO by label, serial terminal."""
    validate_volume_id(volume_id)
    return _template("grub.cfg.j2").render(
        volume_id=volume_id,
        entries=menu_entries(title, volume_id, boot_args),
        timeout=menu_timeout,
        kernel=f"/{KERNEL}",
        initrd=f"/{INITRD}",
    )


def grub_quote(text: str) -> str:
    """A GRUB word in single quotes; a quote inside is closed, escaped and reopened."""
    return "'" + text.replace("'", "'\\''") + "'"


def _template(name: str) -> Template:
    env = Environment(
        loader=PackageLoader("iso_assets.iso", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["grub_quote"] = grub_quote
    return env.get_template(name)
