"""The demo's installer boot tree: a Debian kernel, a busybox initramfs, a stand-in stage2.

No EL kernel or Anaconda is reachable offline, so the demo boots Debian's kernel (fetched
with `apt-get download`, unpacked with `dpkg -x`, never installed) with an initramfs whose
/init (examples/demo/boot/init) does what Anaconda's stage 1 does first: find the media by
its label, mount it, check stage2, read the kickstart and check its install sources. It
prints one marker on the serial console and powers off; the VM test reads that marker.

The initramfs carries the storage modules needed to find the media as a CD-ROM or a USB disk
under SeaBIOS (i440fx IDE) and OVMF (q35 AHCI, xHCI), plus virtio; their dependencies are
read from the .ko files with `modinfo -F depends` (there is no depmod run on the host).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from iso_assets.artifacts import digest_of, sha256_file
from iso_assets.demo.base_runtime import (
    BUSYBOX,
    TreeEntry,
    tar_gz_bytes,
)
from iso_assets.demo.stamp import is_up_to_date, stamp_path, write_stamp
from iso_assets.errors import IsoAssetsError, ToolError
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

CODE_VERSION = "boottree-1"
INIT_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "demo" / "boot" / "init"
KERNEL_METAPACKAGE = "linux-image-amd64"
MODULES_ORDER = "etc/iso-assets/modules.order"
# Storage drivers for the four boot cells, plus virtio disks; dependencies are added.
REQUESTED_MODULES = (
    # SeaBIOS / i440fx: IDE CD-ROM
    "ata_piix",
    "ata_generic",
    "libata",
    # q35 (OVMF): AHCI CD-ROM
    "ahci",
    "libahci",
    # SCSI layer, CD-ROM and disks
    "scsi_mod",
    "sr_mod",
    "cdrom",
    "sd_mod",
    # USB stick behind xHCI
    "usb_common",
    "usbcore",
    "xhci_hcd",
    "xhci_pci",
    "usb_storage",
    "uas",
    # virtio disks (handy for manual runs)
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    # the file system on the media
    "isofs",
)
INITRAMFS_DIRS = ("bin", "dev", "etc", "etc/iso-assets", "proc", "run", "sbin", "sys", "tmp")
STAGE2_README = """\
iso-assets demo stage2

This file stands in for Anaconda's stage2 squashfs (images/install.img). The demo's
initramfs only checks that it exists on the media, as Anaconda's stage 1 does before it
mounts the real image.
"""


class BootTreeError(IsoAssetsError):
    """Raised when the boot tree cannot be built (kernel package missing, a module missing)."""


@dataclass(frozen=True)
class BootTree:
    """The installer boot files: kernel, initramfs, stage2 image (and the kernel release)."""

    vmlinuz: Path
    initrd: Path
    stage2: Path
    kernel_version: str = ""


def build_boot_tree(out_dir: Path, *, cache_dir: Path, source_date_epoch: int) -> BootTree:
    """Write vmlinuz, initrd.img and install.img into `out_dir`; return their paths.

    The kernel .deb and its unpacked tree are kept in `cache_dir` (never downloaded twice).
    Skipped when `out_dir` holds a stamp with the same input digest (kernel package, init
    script, module list, busybox, source_date_epoch). Raises BootTreeError or ToolError.
    """
    if not BUSYBOX.is_file():
        raise BootTreeError(f"{BUSYBOX} not found: install the Debian package busybox-static")
    deb = kernel_deb(cache_dir)
    busybox_sha, _ = sha256_file(BUSYBOX)
    input_digest = digest_of(
        {
            "code": CODE_VERSION,
            "kernel_deb": deb.name,
            "init": INIT_SCRIPT.read_text(),
            "modules": REQUESTED_MODULES,
            "busybox": busybox_sha,
            "source_date_epoch": source_date_epoch,
        }
    )
    tree = BootTree(
        vmlinuz=out_dir / "vmlinuz", initrd=out_dir / "initrd.img", stage2=out_dir / "install.img"
    )
    stamp = stamp_path(out_dir)
    if is_up_to_date(out_dir, stamp, input_digest) and all(
        path.is_file() for path in (tree.vmlinuz, tree.initrd, tree.stage2)
    ):
        log.info("boot tree %s reused: input digest unchanged", out_dir)
        return BootTree(tree.vmlinuz, tree.initrd, tree.stage2, read_kernel_version(stamp))

    started = time.monotonic()
    kernel_root = unpack_deb(deb, cache_dir)
    kernel_version, vmlinuz = find_kernel(kernel_root)
    modules = resolve_modules(kernel_root / "lib" / "modules" / kernel_version)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vmlinuz, tree.vmlinuz)
    os.utime(tree.vmlinuz, (source_date_epoch, source_date_epoch))
    tree.initrd.write_bytes(
        initramfs_bytes(kernel_root, kernel_version, modules, source_date_epoch=source_date_epoch)
    )
    tree.stage2.write_bytes(
        tar_gz_bytes(
            [TreeEntry("README", 0o644, data=STAGE2_README.encode())], mtime=source_date_epoch
        )
    )
    write_stamp(stamp, input_digest, kernel_version=kernel_version, modules=len(modules))
    log.info(
        "boot tree %s built in %.2f s: kernel %s, %d modules, initrd %d bytes",
        out_dir,
        time.monotonic() - started,
        kernel_version,
        len(modules),
        tree.initrd.stat().st_size,
    )
    return BootTree(tree.vmlinuz, tree.initrd, tree.stage2, kernel_version)


def read_kernel_version(stamp: Path) -> str:
    """The kernel release a boot tree stamp recorded."""
    return str(json.loads(stamp.read_text()).get("kernel_version", ""))


def kernel_package_from_depends(apt_cache_output: str) -> str:
    """The versioned kernel package named in `apt-cache depends linux-image-amd64` output."""
    for line in apt_cache_output.splitlines():
        key, _, value = line.strip().partition(":")
        name = value.strip()
        if key.strip() == "Depends" and name.startswith("linux-image-") and name[12:13].isdigit():
            return name
    raise BootTreeError(
        f"apt-cache names no versioned kernel package for {KERNEL_METAPACKAGE}; run "
        f"`apt-get update` (Debian bookworm main must be in the apt sources)"
    )


def kernel_deb(cache_dir: Path) -> Path:
    """The kernel .deb in `cache_dir/debs`, downloaded with `apt-get download` if absent."""
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        depends = run_tool(["apt-cache", "depends", KERNEL_METAPACKAGE]).stdout.decode()
        package = kernel_package_from_depends(depends)
    except (ToolError, BootTreeError) as exc:
        cached = sorted(debs.glob("linux-image-*.deb"))
        if cached:
            log.info("apt-cache unusable (%s); using cached %s", exc, cached[-1].name)
            return cached[-1]
        raise
    cached = sorted(debs.glob(f"{package}_*.deb"))
    if cached:
        log.info("kernel package %s reused from %s", package, debs)
        return cached[-1]
    try:
        run_tool(apt_download_argv(package), cwd=debs, timeout=600)
    except ToolError:
        log.info("apt-get download %s failed; refreshing the package lists once", package)
        run_tool(["apt-get", "update"], timeout=600)
        run_tool(apt_download_argv(package), cwd=debs, timeout=600)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise BootTreeError(f"apt-get download {package} left no .deb in {debs}")
    return found[-1]


def apt_download_argv(package: str) -> list[str]:
    return ["apt-get", "download", package]


def unpack_deb(deb: Path, cache_dir: Path) -> Path:
    """`dpkg -x` the .deb into `cache_dir/unpacked/<deb stem>` once; return that folder."""
    target = cache_dir / "unpacked" / deb.stem
    if (target / "boot").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=deb.stem + ".", dir=target.parent))
    run_tool(["dpkg", "-x", str(deb), str(partial)], timeout=600)
    os.replace(partial, target)
    return target


def find_kernel(kernel_root: Path) -> tuple[str, Path]:
    """(kernel release, vmlinuz path) of an unpacked kernel package."""
    images = sorted((kernel_root / "boot").glob("vmlinuz-*"))
    if len(images) != 1:
        raise BootTreeError(f"{kernel_root}/boot: expected one vmlinuz-*, found {len(images)}")
    version = images[0].name.removeprefix("vmlinuz-")
    if not (kernel_root / "lib" / "modules" / version).is_dir():
        raise BootTreeError(f"{kernel_root}: no lib/modules/{version} beside {images[0].name}")
    return version, images[0]


def module_name(path: Path) -> str:
    """Kernel module name of a .ko file: '-' and '_' are the same to the kernel."""
    return path.name.removesuffix(".ko").replace("-", "_")


def resolve_modules(
    modules_dir: Path, requested: tuple[str, ...] = REQUESTED_MODULES
) -> list[Path]:
    """The .ko files of `requested` and everything they depend on, dependencies first."""
    index = {module_name(path): path for path in sorted(modules_dir.rglob("*.ko"))}
    compressed = sorted(modules_dir.rglob("*.ko.*"))
    if compressed and not index:
        raise BootTreeError(
            f"{modules_dir}: modules are compressed ({compressed[0].name}); busybox insmod "
            f"needs plain .ko files"
        )
    depends = {}
    order: list[Path] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise BootTreeError(f"module dependency loop: {' -> '.join((*chain, name))}")
        path = index.get(name)
        if path is None:
            raise BootTreeError(
                f"module {name} (needed by {chain[-1] if chain else 'the demo initramfs'}) is "
                f"not in {modules_dir}; is it built into this kernel? Remove it from "
                f"REQUESTED_MODULES"
            )
        if path in order:
            return
        if name not in depends:
            depends[name] = module_depends(path)
        for dep in depends[name]:
            visit(dep, (*chain, name))
        order.append(path)

    for name in requested:
        visit(name.replace("-", "_"), ())
    return order


def module_depends(path: Path) -> list[str]:
    """Names of the modules `path` depends on (`modinfo -F depends`)."""
    text = run_tool(["modinfo", "-F", "depends", str(path)]).stdout.decode().strip()
    return [name.replace("-", "_") for name in text.split(",") if name]


def initramfs_bytes(
    kernel_root: Path, kernel_version: str, modules: list[Path], *, source_date_epoch: int
) -> bytes:
    """The gzip'd newc cpio of the demo initramfs; same bytes for the same inputs."""
    with tempfile.TemporaryDirectory(prefix="demo-initramfs-") as tmp:
        stage = Path(tmp)
        for folder in INITRAMFS_DIRS:
            (stage / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(INIT_SCRIPT, stage / "init")
        (stage / "init").chmod(0o755)
        shutil.copyfile(BUSYBOX, stage / "bin" / "busybox")
        (stage / "bin" / "busybox").chmod(0o755)
        order_lines = []
        for module in modules:
            relative = module.relative_to(kernel_root)
            (stage / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(module, stage / relative)
            order_lines.append(f"/{relative}\n")
        (stage / MODULES_ORDER).write_text("".join(order_lines))

        members = sorted(str(path.relative_to(stage)) for path in stage.rglob("*"))
        for member in members:
            os.utime(stage / member, (source_date_epoch, source_date_epoch), follow_symlinks=False)
        archive = run_tool(cpio_argv(), cwd=stage, input_bytes="\n".join(members).encode() + b"\n")
    return gzip.compress(archive.stdout, compresslevel=9, mtime=0)


def cpio_argv() -> list[str]:
    """GNU cpio writing newc with owner 0:0 and renumbered inodes (file list on stdin)."""
    return ["cpio", "--create", "--format=newc", "--reproducible", "--owner=0:0", "--quiet"]
