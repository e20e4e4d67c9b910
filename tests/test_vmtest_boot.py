"""The VM boot test on real QEMU (TCG): a demo-sized ISO made by the real ISO stage boots in
all four cells; ISOs with one boot fault each fail exactly the cells that fault concerns,
with a reason that names it. The ISOs are built once per module and shared.

The demo kernel package is downloaded once into $ISO_ASSETS_CACHE (see test_demo_boot.py).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import struct
import time
import zlib
from pathlib import Path

import pytest

from iso_assets.demo.boottree import BootTree, build_boot_tree
from iso_assets.iso.bootconfig import GRUB_CFG, ISOLINUX_CFG, KERNEL
from iso_assets.iso.boottree import make_boot_tree
from iso_assets.iso.efiboot import BOOTX64, EFIBOOT_IMAGE, build_efiboot_image
from iso_assets.iso.xorriso import build_iso, path_list_text, xorriso_argv
from iso_assets.process import run_tool
from iso_assets.spec.models import VmCell, VmTestSpec
from iso_assets.vmtest.accel import choose_accel, forget_probe, probe_kvm
from iso_assets.vmtest.cell import run_cell
from iso_assets.vmtest.errors import VmTestError
from iso_assets.vmtest.matrix import extract_iso_file, report_markdown, run_matrix, write_report

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EPOCH = 1735689600
VOLUME_ID = "VMTEST-DEMO"
CASE_VOLUME_ID = "ACME-9-4-X86_64"  # the label the shared cases' xorriso arguments use
CACHE = Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache" / "iso-assets"))
KICKSTART = """\
text
url --url=file:///run/install/repo/BaseOS
%packages
@core
%end
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def spec_for(*cells: str, timeout: int = 150) -> VmTestSpec:
    """A TCG spec over the named cells ("ovmf-cd", ...); no names: the default matrix."""
    spec = VmTestSpec(accel="tcg", timeout_seconds=timeout)
    if not cells:
        return spec
    matrix = [
        VmCell.model_validate(dict(zip(("firmware", "medium"), name.split("-"), strict=True)))
        for name in cells
    ]
    return spec.model_copy(update={"matrix": matrix})


@pytest.fixture(scope="module")
def boot_tree(tmp_path_factory: pytest.TempPathFactory) -> BootTree:
    out = tmp_path_factory.mktemp("vmtest-boot") / "tree"
    return build_boot_tree(out, cache_dir=CACHE / "demo-boot", source_date_epoch=EPOCH)


def demo_layout(work: Path, tree: BootTree, *, volume_id: str = VOLUME_ID) -> dict[str, Path]:
    """What the ISO stage lays out for the demo: boot files, ks.cfg, BaseOS repo, stage2."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "ks.cfg").write_text(KICKSTART)
    (work / "repomd.xml").write_text("<repomd/>\n")
    boot = make_boot_tree(
        work / "boot",
        volume_id=volume_id,
        title="VM test demo",
        kernel=tree.vmlinuz,
        initrd=tree.initrd,
        boot_args=["console=tty0", "console=ttyS0,115200"],
        menu_timeout=1,
        source_date_epoch=EPOCH,
    )
    return {
        **boot,
        "ks.cfg": work / "ks.cfg",
        "BaseOS/repodata/repomd.xml": work / "repomd.xml",
        "images/install.img": tree.stage2,
    }


def without_inst_ks(layout: dict[str, Path], work: Path) -> dict[str, Path]:
    """The layout with both boot menus (and the grub.cfg inside efiboot.img) lacking inst.ks:
    the ISO stage always renders it (and its inspection refuses menus without it), so the
    bad menus are made here."""
    work.mkdir(parents=True, exist_ok=True)
    menus = {}
    for iso_path in (ISOLINUX_CFG, GRUB_CFG):
        text = layout[iso_path].read_text()
        bad = " ".join(word for word in text.split(" ") if not word.startswith("inst.ks="))
        assert "inst.ks" not in bad
        menus[iso_path] = work / Path(iso_path).name
        menus[iso_path].write_text(bad)
    efiboot = build_efiboot_image(
        {BOOTX64: layout[BOOTX64], GRUB_CFG: menus[GRUB_CFG]},
        work / "efiboot.img",
        source_date_epoch=EPOCH,
    )
    return {**layout, **menus, EFIBOOT_IMAGE: efiboot.path}


def xorriso_unchecked(layout: dict[str, Path], out: Path, **options: bool) -> Path:
    """An ISO build_iso would refuse (its inspection catches these faults): xorriso alone."""
    path_list = out.with_suffix(".path-list")
    path_list.write_text(path_list_text({k: v.resolve() for k, v in layout.items()}))
    run_tool(
        xorriso_argv(
            path_list=path_list,
            out=out,
            volume_id=VOLUME_ID,
            iso_level=2,
            source_date_epoch=EPOCH,
            **options,
        )
    )
    return out


@pytest.fixture(scope="module")
def isos(tmp_path_factory: pytest.TempPathFactory, boot_tree: BootTree) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("vmtest-isos")
    layout = demo_layout(work / "layout", boot_tree)
    return {
        "good": build_iso(
            layout, work / "good.iso", volume_id=VOLUME_ID, source_date_epoch=EPOCH
        ).path,
        "no-uefi": xorriso_unchecked(layout, work / "no-uefi.iso", uefi=False),
        "not-hybrid": xorriso_unchecked(layout, work / "not-hybrid.iso", hybrid=False),
        "no-inst-ks": xorriso_unchecked(
            without_inst_ks(layout, work / "no-inst-ks"), work / "no-inst-ks.iso"
        ),
    }


def assert_png(path: Path | None, *, blank_allowed: bool = False) -> None:
    """`path` is a PNG whose pixels are not all the background colour. A failure shot may be
    blank: it is taken when the failure appears, and OVMF clears the screen right then."""
    assert path is not None and path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1000 or blank_allowed, f"{path} is nearly empty"
    assert png_has_content(data) or blank_allowed, f"{path} shows a blank screen"


def png_has_content(data: bytes) -> bool:
    """Whether a non-interlaced 8-bit PNG has any pixel byte other than 0 after unfiltering
    rows of filter type 0/1/2 (what a uniform black screen filters to: all zero)."""
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8, depth
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * channels + 1
    return any(any(raw[row * stride + 1 : (row + 1) * stride]) for row in range(height))


def test_all_four_cells_pass_under_tcg(isos: dict[str, Path], tmp_path: Path) -> None:
    report = run_matrix(isos["good"], spec_for(), tmp_path / "cells", max_parallel=2)

    assert [cell.name for cell in report.cells] == [
        "seabios-cd",
        "seabios-usb",
        "ovmf-cd",
        "ovmf-usb",
    ]
    assert report.passed, report_markdown(report)
    assert report.accel == "tcg"
    for cell in report.cells:
        assert cell.result == "pass", cell.reason
        assert cell.reason.startswith("success marker: ISO-ASSETS-KICKSTART-OK")
        assert {"loader", "kernel", "stage1", "marker"} <= set(cell.timings), cell.timings
        assert cell.timings["loader"] < cell.timings["kernel"] < cell.timings["marker"]
        assert any("ISO-ASSETS-KICKSTART-OK" in line for line in cell.serial_tail)
        assert_png(cell.screenshot)

    json_path, html_path = write_report(report, tmp_path / "report")
    html = html_path.read_text()
    assert html.count("<img ") == 4
    assert json_path.is_file()
    print(f"\nmatrix wall time, 2 in parallel: {report.wall_seconds:.1f} s")
    print(report_markdown(report))


def test_iso_without_uefi_entry_fails_ovmf_cells(isos: dict[str, Path], tmp_path: Path) -> None:
    report = run_matrix(isos["no-uefi"], spec_for("ovmf-cd", "ovmf-usb"), tmp_path, max_parallel=2)

    assert not report.passed
    for cell in report.cells:
        assert cell.result == "fail"
        assert cell.reason.startswith("firmware did not boot the medium: BdsDxe: failed to load")
        assert_png(cell.screenshot, blank_allowed=True)


def test_boot_entries_without_inst_ks_fail_with_that_reason(
    isos: dict[str, Path], tmp_path: Path
) -> None:
    report = run_matrix(
        isos["no-inst-ks"], spec_for("seabios-cd", "ovmf-usb"), tmp_path, max_parallel=2
    )

    for cell in report.cells:
        assert cell.result == "fail"
        assert cell.reason == (
            "failure marker 'ISO-ASSETS-FAIL:': ISO-ASSETS-FAIL: no inst.ks on the kernel "
            "command line"
        ), cell.name


def test_iso_without_isohybrid_mbr_fails_bios_usb(isos: dict[str, Path], tmp_path: Path) -> None:
    # OVMF finds the El Torito image on a USB disk even without a GPT, so only BIOS-USB fails
    # in QEMU; the system-area check of the ISO stage covers UEFI firmware that does not.
    report = run_matrix(isos["not-hybrid"], spec_for("seabios-usb"), tmp_path)

    (cell,) = report.cells
    assert cell.result == "fail"
    assert cell.reason == "firmware did not boot the medium: Boot failed: not a bootable disk"
    assert_png(cell.screenshot)


def test_timeout_reports_the_last_line_and_stops_qemu(
    isos: dict[str, Path], tmp_path: Path
) -> None:
    cell = run_cell(
        VmCell(firmware="seabios", medium="cd"),
        iso=isos["good"],
        accel="tcg",
        spec=spec_for(timeout=10),
        work_dir=tmp_path,
    )

    assert cell.result == "fail"
    assert cell.reason.startswith("no success marker after 10 s; last line: ")
    assert 10 <= cell.seconds < 20
    assert_png(cell.screenshot)
    assert cell.screenshot is not None and cell.screenshot.name == "seabios-cd-timeout.png"


def case_iso(shared_dir: Path, case: str, boot_tree: BootTree, work: Path) -> Path:
    """The ISO a shared case's xorriso-args.bad builds from a staged copy of the demo tree."""
    layout = demo_layout(work / "layout", boot_tree, volume_id=CASE_VOLUME_ID)
    staging = work / "staging"
    for iso_path, source in layout.items():
        (staging / iso_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / iso_path)
    text = (shared_dir / "cases" / case / "xorriso-args.bad").read_text()
    words = shlex.split(" ".join(line for line in text.splitlines() if not line.startswith("#")))
    out = work / "out.iso"
    args = [str(out) if w == "out.iso" else str(staging) if w == "staging/" else w for w in words]
    run_tool(["xorriso", *args])
    return out


def test_case_uefi01_bios_only_iso_fails_under_ovmf(
    shared_dir: Path, boot_tree: BootTree, tmp_path: Path
) -> None:
    iso = case_iso(shared_dir, "uefi01-missing-eltorito-efi", boot_tree, tmp_path)

    report = run_matrix(iso, spec_for("ovmf-cd"), tmp_path / "cells")

    (cell,) = report.cells
    assert cell.result == "fail"
    assert "firmware did not boot the medium" in cell.reason
    assert "DVD-ROM" in cell.reason


def test_case_usb01_non_hybrid_iso_fails_bios_usb(
    shared_dir: Path, boot_tree: BootTree, tmp_path: Path
) -> None:
    iso = case_iso(shared_dir, "usb01-no-gpt-uefi-usb", boot_tree, tmp_path)

    report = run_matrix(iso, spec_for("seabios-usb"), tmp_path / "cells")

    (cell,) = report.cells
    assert (cell.result, cell.reason) == (
        "fail",
        "firmware did not boot the medium: Boot failed: not a bootable disk",
    )


def test_probe_passes_a_kernel_that_boots_and_gives_up_on_one_that_does_not_finish(
    boot_tree: BootTree,
) -> None:
    ok, finding, seconds = probe_kvm(boot_tree.vmlinuz, timeout=90, accel="tcg")
    assert ok, finding
    assert finding.startswith("kernel booted to its end in ")

    started = time.monotonic()
    ok, finding, _ = probe_kvm(boot_tree.vmlinuz, timeout=1, accel="tcg")
    assert not ok
    assert "within 1 s" in finding
    assert time.monotonic() - started < 5
    print(f"\nprobe of the demo kernel under TCG: {seconds:.1f} s")


def test_auto_accel_probes_once_per_process(boot_tree: BootTree) -> None:
    forget_probe()
    started = time.monotonic()
    first = choose_accel("auto", kernel=boot_tree.vmlinuz)
    probe_seconds = time.monotonic() - started

    started = time.monotonic()
    again = choose_accel("auto", kernel=boot_tree.vmlinuz)

    assert again == first
    assert time.monotonic() - started < 0.5
    assert probe_seconds < 30
    if first.accel == "tcg":
        assert "KVM probe failed" in first.reason or "/dev/kvm" in first.reason
    print(f"\naccelerator decided here: {first.accel} ({first.reason}), {probe_seconds:.1f} s")


def test_probe_kernel_comes_out_of_the_iso(
    isos: dict[str, Path], boot_tree: BootTree, tmp_path: Path
) -> None:
    kernel = extract_iso_file(isos["good"], KERNEL, tmp_path / "vmlinuz")

    assert kernel.read_bytes() == boot_tree.vmlinuz.read_bytes()
    with pytest.raises(VmTestError, match="no-such"):
        extract_iso_file(isos["good"], "images/no-such-file", tmp_path / "absent")
