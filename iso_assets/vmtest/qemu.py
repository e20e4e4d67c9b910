"""The QEMU command line of one boot-test cell (firmware x medium), as a pure function.

Machines: SeaBIOS runs on `pc` (i440fx), the legacy-BIOS machine most BIOS installs meet,
with the CD on PIIX IDE (ata_piix in the installer); OVMF runs on `q35`, the machine UEFI
(and Secure Boot, which needs SMM on q35) is tested on, with the CD on ICH9 AHCI. So the
matrix covers both storage paths the installer's initramfs must handle. The USB stick sits
behind xHCI on both. `-boot strict=on` keeps the firmware from falling back to the empty
target disk or the network, so a medium that does not boot shows up as a firmware message
instead of a silent detour.
"""

from __future__ import annotations

from pathlib import Path

from iso_assets.spec.models import VmCell

QEMU = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"
# The 4 MiB OVMF build pairs with the 4 MiB variable store (the 2 MiB OVMF_CODE.fd pairs with
# the 128 KiB OVMF_VARS.fd); mixing the two sizes makes QEMU refuse the pflash layout.
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
MACHINES = {"seabios": "pc", "ovmf": "q35"}
# SeaBIOS writes its boot messages ("Booting from DVD/CD...", "Boot failed: ...") to this
# debug port; OVMF's release build prints its boot manager messages on the serial console.
FIRMWARE_DEBUG_PORT = "0x402"


def qemu_argv(
    cell: VmCell,
    *,
    iso: Path,
    accel: str,
    memory_mib: int,
    serial_log: Path,
    qmp_socket: Path,
    target_disk: Path,
    ovmf_vars: Path | None,
    firmware_log: Path | None = None,
) -> list[str]:
    """The full argv booting `iso` as `cell.medium` under `cell.firmware`.

    `ovmf_vars` is the cell's private, writable copy of the OVMF variable store (required
    for OVMF, ignored for SeaBIOS). Raises ValueError for an OVMF cell without it.
    """
    machine = MACHINES[cell.firmware]
    argv = [QEMU, "-name", f"iso-assets-{cell.name}", "-machine", machine, "-accel", accel]
    argv += ["-m", str(memory_mib), "-nodefaults", "-no-user-config"]
    argv += ["-display", "none", "-vga", "std", "-no-reboot", "-boot", "strict=on"]
    argv += ["-serial", f"file:{serial_log}", "-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    if firmware_log is not None:
        argv += ["-chardev", f"file,id=fwlog,path={firmware_log}"]
        argv += ["-device", f"isa-debugcon,iobase={FIRMWARE_DEBUG_PORT},chardev=fwlog"]
    if cell.firmware == "ovmf":
        if ovmf_vars is None:
            raise ValueError(f"cell {cell.name}: OVMF needs a private copy of {OVMF_VARS.name}")
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"]
        argv += ["-drive", f"if=pflash,format=raw,unit=1,file={ovmf_vars}"]
    argv += medium_args(cell, iso)
    argv += ["-drive", f"if=none,id=target,format=qcow2,file={target_disk}"]
    argv += ["-device", "virtio-blk-pci,drive=target"]
    return argv


def medium_args(cell: VmCell, iso: Path) -> list[str]:
    """The ISO as a CD-ROM drive or as a USB stick, first (and only) in the boot order."""
    if cell.medium == "cd":
        drive = f"if=none,id=media,media=cdrom,format=raw,readonly=on,file={iso}"
        return ["-drive", drive, "-device", "ide-cd,drive=media,bus=ide.0,bootindex=0"]
    drive = f"if=none,id=media,format=raw,readonly=on,file={iso}"
    return [
        *("-device", "qemu-xhci,id=xhci"),
        *("-drive", drive),
        *("-device", "usb-storage,bus=xhci.0,drive=media,bootindex=0"),
    ]


def qemu_img_create_argv(disk: Path, *, size_gib: int) -> list[str]:
    """A sparse qcow2 target disk: a few hundred KiB on the host whatever its size."""
    return [QEMU_IMG, "create", "-q", "-f", "qcow2", str(disk), f"{size_gib}G"]
