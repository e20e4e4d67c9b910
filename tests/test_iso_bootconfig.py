"""Boot menus: every entry carries the label; label cross-check of configs (case uefi04)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from iso_assets.errors import IsoBuildError
from iso_assets.iso.bootconfig import grub_quote, render_grub_cfg, render_isolinux_cfg
from iso_assets.iso.inspect import check_label_text

DATA = Path(__file__).parent / "data" / "iso"
VOLID = "ACME-9-4-X86_64"
MENU: dict[str, Any] = {
    "volume_id": VOLID,
    "title": "ACME 9.4",
    "boot_args": ["console=ttyS0,115200", "quiet"],
}
STAGE2 = f"inst.stage2=hd:LABEL={VOLID}"
KS = f"inst.ks=hd:LABEL={VOLID}:/ks.cfg"


def test_isolinux_cfg_serial_default_timeout_and_labels_on_every_entry() -> None:
    text = render_isolinux_cfg(**MENU, menu_timeout=5)
    lines = [line.strip() for line in text.splitlines()]
    assert "serial 0 115200" in lines
    assert "default install" in lines
    assert "timeout 50" in lines and "prompt 1" in lines
    appends = [line for line in lines if line.startswith("append ")]
    assert len(appends) == len([line for line in lines if line.startswith("label ")]) == 2
    for line in appends:
        assert line.startswith("append initrd=initrd.img ")
        assert f"{STAGE2} {KS} console=ttyS0,115200 quiet" in line
    assert check_label_text("isolinux.cfg", text, VOLID) == []


def test_isolinux_cfg_with_zero_timeout_boots_without_prompt() -> None:
    lines = render_isolinux_cfg(**MENU, menu_timeout=0).splitlines()
    assert "prompt 0" in lines
    assert not any(line.startswith("timeout") for line in lines)


def test_grub_cfg_searches_label_and_every_entry_has_stage2_and_ks() -> None:
    text = render_grub_cfg(**MENU, menu_timeout=7)
    assert "set timeout=7" in text
    assert f"search --no-floppy --set=root -l '{VOLID}'" in text
    assert "serial --unit=0 --speed=115200" in text
    entries = re.findall(r"menuentry '([^']*)' \{\n\tlinux (\S+) (.*)\n\tinitrd (\S+)", text)
    assert len(entries) == 2
    for _title, kernel, args, initrd in entries:
        assert (kernel, initrd) == ("/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img")
        assert args.startswith(f"{STAGE2} {KS} console=ttyS0,115200 quiet")
    assert check_label_text("grub.cfg", text, VOLID) == []


def test_rendering_rejects_an_invalid_label() -> None:
    with pytest.raises(IsoBuildError, match="contains space"):
        render_grub_cfg(**{**MENU, "volume_id": "ACME 9"}, menu_timeout=5)


def test_grub_quote_keeps_a_quote_inside_a_title() -> None:
    assert grub_quote("Joe's ISO") == "'Joe'\\''s ISO'"


def test_case_uefi04_stale_search_label_is_reported_with_line(shared_dir: Path) -> None:
    case = shared_dir / "cases/uefi04-grub-search-label-mismatch"
    match = re.search(r'ISO_VOLID="([^"]+)"', (case / "build.env").read_text())
    assert match
    volume_id = match.group(1)
    problems = check_label_text("grub.cfg", (case / "grub.cfg.bad").read_text(), volume_id)
    expected = "grub.cfg:2 search label 'RHEL-9-4-0-BaseOS-x86_64' != volume id 'ACME-9-4-X86_64'"
    assert problems == [expected]
    assert expected in (case / "expected.txt").read_text()


def test_self_made_bad_grub_cfg_reports_search_and_unescaped_hd_label() -> None:
    text = (DATA / "grub.cfg.bad-label").read_text()
    assert check_label_text("grub.cfg", text, "PRODUCT-2-0-X86_64") == [
        "grub.cfg:2 search label 'UPSTREAM-10-0-BaseOS' != volume id 'PRODUCT-2-0-X86_64'",
        "grub.cfg:4 hd:LABEL 'PRODUCT 2' != volume id 'PRODUCT-2-0-X86_64'",
    ]


def test_entry_without_kickstart_and_grub_without_search_are_reported() -> None:
    text = "menuentry 'x' {\n\tlinux /vmlinuz inst.stage2=hd:LABEL=ACME\n}\n"
    assert check_label_text("grub.cfg", text, "ACME") == [
        "grub.cfg:2 boot entry lacks inst.ks=hd:LABEL=ACME:/ks.cfg",
        "grub.cfg: no 'search --label ACME' line; GRUB would look for the kernel on the EFI "
        "image instead of the ISO",
    ]
