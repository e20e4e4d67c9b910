"""Parsing .treeinfo: the real Rocky 9 one and a small self-made one."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.mirror.treeinfo import TreeinfoError, parse_treeinfo

DATA = Path(__file__).parent / "data" / "mirror"


def minimal_treeinfo() -> str:
    fields = ("images_pxeboot_vmlinuz", "images_pxeboot_initrd_img", "images_install_img")
    sums = {name: f"{index}" * 64 for index, name in enumerate(fields, start=1)}
    sums["images_efiboot_img"] = "e" * 64
    return (DATA / "treeinfo-minimal").read_text().format(**sums)


def test_rocky9_treeinfo(shared_dir: Path) -> None:
    text = (shared_dir / "fixtures" / "installer-tree" / "rocky-9" / ".treeinfo").read_text()
    tree = parse_treeinfo(text)
    assert tree.arch == "x86_64"
    assert tree.kernel == "images/pxeboot/vmlinuz"
    assert tree.initrd == "images/pxeboot/initrd.img"
    assert tree.stage2 == "images/install.img"
    assert tree.efiboot == "images/efiboot.img"
    assert (tree.release_name, tree.release_version) == ("Rocky Linux", "9.6")
    assert tree.checksums["images/pxeboot/vmlinuz"] == (
        "sha256:a150eae93dc3126bcaac43ccfdb7c4f2b8975b57b1bddf86a2809352bc9b5f58"
    )
    # [images-xen] names the same kernel/initrd: each file is fetched once.
    assert tree.images == (
        "images/efiboot.img",
        "images/install.img",
        "images/pxeboot/initrd.img",
        "images/pxeboot/vmlinuz",
    )


def test_minimal_treeinfo() -> None:
    tree = parse_treeinfo(minimal_treeinfo())
    assert (tree.release_name, tree.release_version, tree.arch) == ("Demo Linux", "9.4", "x86_64")
    assert tree.checksums["images/efiboot.img"] == "sha256:" + "e" * 64
    assert len(tree.images) == 4


def test_pre_productmd_treeinfo_uses_general() -> None:
    text = """[general]
family = Old Linux
version = 7.9
arch = x86_64

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
"""
    tree = parse_treeinfo(text)
    assert (tree.release_name, tree.release_version) == ("Old Linux", "7.9")
    assert tree.stage2 is None and tree.efiboot is None
    assert tree.checksums == {}


def test_treeinfo_without_a_kernel_is_an_error() -> None:
    text = minimal_treeinfo().replace("kernel = images/pxeboot/vmlinuz\n", "")
    with pytest.raises(TreeinfoError, match=r"\[images-x86_64\] has no kernel entry"):
        parse_treeinfo(text, source="http://mirror/.treeinfo")


def test_treeinfo_without_images_for_its_arch_is_an_error() -> None:
    text = minimal_treeinfo().replace("arch = x86_64", "arch = aarch64")
    with pytest.raises(TreeinfoError, match=r"no \[images-aarch64\] section"):
        parse_treeinfo(text)
