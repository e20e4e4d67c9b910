"""efiboot.img: sizing from the payload (case uefi03), reproducible bytes, Disk full is fatal."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from iso_assets.errors import IsoBuildError
from iso_assets.iso.efiboot import (
    GRUB_EFI_MODULES,
    build_efiboot_image,
    check_efiboot_fits,
    efiboot_size_mib,
    fill_fat_image,
    grub_mkimage_argv,
    make_bootx64_efi,
    mkfs_fat_argv,
)
from iso_assets.process import run_tool

DATA = Path(__file__).parent / "data" / "iso"
EPOCH = 1700000000


def read_payload(path: Path) -> dict[str, int]:
    rows = [line.split("\t") for line in path.read_text().splitlines() if line[:1] not in "#"]
    return {name: int(size) for name, size in rows}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_case_uefi03_fixed_4mib_fails_with_the_case_message(shared_dir: Path) -> None:
    case = shared_dir / "cases/uefi03-efiboot-too-small"
    payload = read_payload(case / "efi-payload.tsv")
    match = re.search(r"efiboot_img_size:\s*(\d+)\s*MiB", (case / "config.bad.yaml").read_text())
    assert match
    with pytest.raises(IsoBuildError) as caught:
        check_efiboot_fits(payload, int(match.group(1)))
    expected = "efiboot.img 4 MiB is too small for EFI payload 9.2 MiB (EFI/BOOT/*); need >= 11 MiB"
    assert str(caught.value) == expected
    assert expected in (case / "expected.txt").read_text()


def test_case_uefi03_computed_size_has_overhead_and_margin(shared_dir: Path) -> None:
    payload = read_payload(shared_dir / "cases/uefi03-efiboot-too-small/efi-payload.tsv")
    size = efiboot_size_mib(payload)
    assert size == 11
    assert size * 1024 * 1024 >= sum(payload.values()) * 1.10
    check_efiboot_fits(payload, size)


def test_self_made_payload_sizes() -> None:
    payload = read_payload(DATA / "efi-payload.tsv")
    assert efiboot_size_mib(payload) == 8
    with pytest.raises(IsoBuildError, match=r"efiboot.img 7 MiB .* payload 6.9 MiB .* need >= 8"):
        check_efiboot_fits(payload, 7)


def test_argv() -> None:
    assert grub_mkimage_argv(Path("/w/BOOTX64.EFI"))[:7] == [
        "grub-mkimage", "-O", "x86_64-efi", "-p", "/EFI/BOOT", "-o", "/w/BOOTX64.EFI",
    ]  # fmt: skip
    assert grub_mkimage_argv(Path("x"))[7:] == list(GRUB_EFI_MODULES)
    assert mkfs_fat_argv(Path("e.img"), 3) == ["mkfs.fat", "--invariant", "-C", "e.img", "3072"]


def test_grub_mkimage_output_is_reproducible(tmp_path: Path) -> None:
    first = make_bootx64_efi(tmp_path / "a.efi")
    second = make_bootx64_efi(tmp_path / "b.efi")
    assert first.read_bytes()[:2] == b"MZ"
    assert sha256(first) == sha256(second)


def test_efiboot_image_is_reproducible_and_holds_the_payload(tmp_path: Path) -> None:
    bootx64 = make_bootx64_efi(tmp_path / "BOOTX64.EFI")
    grub_cfg = tmp_path / "grub.cfg"
    grub_cfg.write_text("search --no-floppy --set=root -l 'ACME'\n")
    payload = {"EFI/BOOT/BOOTX64.EFI": bootx64, "EFI/BOOT/grub.cfg": grub_cfg}

    first = build_efiboot_image(payload, tmp_path / "one.img", source_date_epoch=EPOCH)
    os.utime(bootx64, (EPOCH + 999, EPOCH + 999))  # source mtimes must not leak in
    second = build_efiboot_image(payload, tmp_path / "two.img", source_date_epoch=EPOCH)

    assert first.size_mib == 2 and first.path.stat().st_size == 2 * 1024 * 1024
    assert sha256(first.path) == sha256(second.path)
    inner = run_tool(["mtype", "-i", first.path, "::/EFI/BOOT/grub.cfg"]).stdout
    assert inner == grub_cfg.read_bytes()
    copied = run_tool(["mcopy", "-i", first.path, "::/EFI/BOOT/BOOTX64.EFI", tmp_path / "back"])
    assert copied.returncode == 0 and sha256(tmp_path / "back") == sha256(bootx64)
    listing = run_tool(["mdir", "-i", first.path, "::/EFI/BOOT"], env={"TZ": "UTC"}).stdout
    assert b"2023-11-14" in listing  # SOURCE_DATE_EPOCH, not today


def test_fixed_size_too_small_fails_before_writing(tmp_path: Path) -> None:
    big = tmp_path / "grubx64.efi"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    out = tmp_path / "efiboot.img"
    with pytest.raises(IsoBuildError, match=r"efiboot.img 2 MiB is too small .* need >= 4 MiB"):
        build_efiboot_image({"EFI/BOOT/grubx64.efi": big}, out, source_date_epoch=EPOCH, size_mib=2)
    assert not out.exists()


def test_mcopy_disk_full_is_fatal(tmp_path: Path) -> None:
    image = tmp_path / "small.img"
    run_tool(mkfs_fat_argv(image, 1))
    big = tmp_path / "grubx64.efi"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(IsoBuildError, match=r"small.img ran out of space \(mcopy: Disk full\)"):
        fill_fat_image(image, {"EFI/BOOT/grubx64.efi": big}, source_date_epoch=EPOCH)
