"""The demo boot tree: Debian kernel + busybox stage 1, booted in QEMU (TCG) from a small ISO.

The slow tests download the kernel package once (apt-get download, ~70 MB) into
$ISO_ASSETS_CACHE (default ~/.cache/iso-assets) and boot a BIOS-only isolinux ISO made here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

import pytest

from iso_assets.demo.boottree import (
    BootTree,
    BootTreeError,
    build_boot_tree,
    cpio_argv,
    kernel_package_from_depends,
)
from iso_assets.errors import ToolError
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

EPOCH = 1735689600
LABEL = "DEMO-BOOT-TEST"
BOOT_TIMEOUT = 120
CACHE = Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache" / "iso-assets"))
OK_MARKER = "ISO-ASSETS-KICKSTART-OK"
FAIL_MARKER = "ISO-ASSETS-FAIL:"


def test_kernel_package_named_by_metapackage() -> None:
    output = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n"

    assert kernel_package_from_depends(output) == "linux-image-6.1.0-57-amd64"


def test_kernel_package_missing_says_what_to_do() -> None:
    with pytest.raises(BootTreeError, match="apt-get update"):
        kernel_package_from_depends("linux-image-amd64\n  Depends: linux-base\n")


def test_cpio_argv_is_reproducible_newc() -> None:
    assert cpio_argv() == [
        "cpio",
        "--create",
        "--format=newc",
        "--reproducible",
        "--owner=0:0",
        "--quiet",
    ]


@pytest.fixture(scope="module")
def boot_tree(tmp_path_factory: pytest.TempPathFactory) -> BootTree:
    out = tmp_path_factory.mktemp("boot") / "tree"
    return build_boot_tree(out, cache_dir=CACHE / "demo-boot", source_date_epoch=EPOCH)


def isolinux_cfg(append: str) -> str:
    return (
        "default linux\nprompt 0\ntimeout 1\nlabel linux\n"
        "  kernel /images/pxeboot/vmlinuz\n"
        f"  append initrd=/images/pxeboot/initrd.img {append} console=ttyS0,115200\n"
    )


def xorriso_argv(tree: Path, iso: Path, label: str) -> list[str]:
    """A BIOS-only El Torito ISO (isolinux); enough to prove the stage 1 finds its media."""
    return [
        "xorriso",
        "-as",
        "mkisofs",
        "-V",
        label,
        "-c",
        "isolinux/boot.cat",
        "-b",
        "isolinux/isolinux.bin",
        "-no-emul-boot",
        "-boot-load-size",
        "4",
        "-boot-info-table",
        "-R",
        "-o",
        str(iso),
        str(tree),
    ]


def qemu_argv(iso: Path, serial_log: Path) -> list[str]:
    # TCG: KVM on this machine kind starts and then hangs guests (TOOLCHAIN-NOTES, QEMU).
    return [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        f"file:{serial_log}",
        "-no-reboot",
        "-cdrom",
        str(iso),
    ]


def make_iso(tmp_path: Path, boot_tree: BootTree, *, append: str, kickstart: str) -> Path:
    tree = tmp_path / "tree"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "images" / "pxeboot").mkdir(parents=True)
    (tree / "BaseOS" / "repodata").mkdir(parents=True)
    shutil.copy(Path("/usr/lib/ISOLINUX/isolinux.bin"), tree / "isolinux")
    shutil.copy(Path("/usr/lib/syslinux/modules/bios/ldlinux.c32"), tree / "isolinux")
    (tree / "isolinux" / "isolinux.cfg").write_text(isolinux_cfg(append))
    shutil.copy(boot_tree.vmlinuz, tree / "images" / "pxeboot" / "vmlinuz")
    shutil.copy(boot_tree.initrd, tree / "images" / "pxeboot" / "initrd.img")
    shutil.copy(boot_tree.stage2, tree / "images" / "install.img")
    (tree / "BaseOS" / "repodata" / "repomd.xml").write_text("<repomd/>\n")
    (tree / "ks.cfg").write_text(kickstart)
    iso = tmp_path / "test.iso"
    run_tool(xorriso_argv(tree, iso, LABEL))
    return iso


def boot(iso: Path, serial_log: Path) -> tuple[list[str], float]:
    """Boot `iso`; return the stage 1 lines of the serial log and the wall time."""
    started = time.monotonic()
    try:
        run_tool(qemu_argv(iso, serial_log), timeout=BOOT_TIMEOUT)
    except ToolError as exc:
        tail = serial_log.read_text(errors="replace")[-3000:] if serial_log.exists() else ""
        pytest.fail(f"QEMU did not power off within {BOOT_TIMEOUT} s ({exc})\n{tail}")
    elapsed = time.monotonic() - started
    lines = [
        line.strip()
        for line in serial_log.read_text(errors="replace").splitlines()
        if line.startswith(("iso-assets:", "ISO-ASSETS-"))
    ]
    log.info("boot to marker took %.1f s", elapsed)
    return lines, elapsed


KICKSTART = """\
text
url --url=file:///run/install/repo/BaseOS
%packages
@^minimal-environment
%end
"""
STAGE2 = f"inst.stage2=hd:LABEL={LABEL}"
INST_KS = f"inst.ks=hd:LABEL={LABEL}:/ks.cfg"


@pytest.mark.slow
def test_boot_tree_is_reproducible_and_small(boot_tree: BootTree, tmp_path: Path) -> None:
    again = build_boot_tree(
        tmp_path / "tree", cache_dir=CACHE / "demo-boot", source_date_epoch=EPOCH
    )

    def digests(tree: BootTree) -> list[str]:
        paths = (tree.vmlinuz, tree.initrd, tree.stage2)
        return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]

    assert digests(again) == digests(boot_tree)
    assert boot_tree.kernel_version.endswith("-amd64")
    assert boot_tree.initrd.stat().st_size < 8 * 1024 * 1024


@pytest.mark.slow
def test_stage1_finds_media_kickstart_and_sources(boot_tree: BootTree, tmp_path: Path) -> None:
    iso = make_iso(tmp_path, boot_tree, append=f"{STAGE2} {INST_KS}", kickstart=KICKSTART)

    lines, elapsed = boot(iso, tmp_path / "serial.log")

    assert f"{OK_MARKER} label={LABEL} ks=/ks.cfg sources=1" in lines, lines
    assert "iso-assets: install source present: BaseOS" in lines
    assert not any(line.startswith(FAIL_MARKER) for line in lines)
    print(f"boot to success marker: {elapsed:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("append", "kickstart", "reason"),
    [
        (STAGE2, KICKSTART, "no inst.ks on the kernel command line"),
        (
            f"{STAGE2} ks=hd:LABEL={LABEL}:/ks.cfg",
            KICKSTART,
            "ks= without inst. prefix is ignored on RHEL 9",
        ),
        (
            f"{STAGE2} {INST_KS}",
            KICKSTART + "repo --name=AppStream --baseurl=file:///run/install/repo/AppStream\n",
            "install source missing: AppStream",
        ),
    ],
    ids=["no-inst-ks", "plain-ks", "missing-source"],
)
def test_stage1_reports_failure(
    boot_tree: BootTree, tmp_path: Path, append: str, kickstart: str, reason: str
) -> None:
    iso = make_iso(tmp_path, boot_tree, append=append, kickstart=kickstart)

    lines, _ = boot(iso, tmp_path / "serial.log")

    failures = [line for line in lines if line.startswith(FAIL_MARKER)]
    assert len(failures) == 1, lines
    assert failures[0].startswith(f"{FAIL_MARKER} {reason}"), failures
    assert not any(line.startswith(OK_MARKER) for line in lines)
