"""The VM test's pure parts: QEMU argv per cell, console reading, verdicts, timings, reports;
plus the QMP client against a real (firmware-only) QEMU, a second or two."""

from __future__ import annotations

import itertools
import json
import struct
import time
import zlib
from pathlib import Path

import pytest

from iso_assets.spec.models import VmCell, VmTestSpec
from iso_assets.vmtest.accel import choose_accel, probe_argv
from iso_assets.vmtest.cell import CellResult, classify_line, note_timing
from iso_assets.vmtest.console import LogFollower, clean_line, tail_lines
from iso_assets.vmtest.launch import start_qemu, stop_qemu
from iso_assets.vmtest.matrix import (
    VmReport,
    phase_seconds,
    report_markdown,
    write_report,
    xorriso_extract_argv,
)
from iso_assets.vmtest.qemu import OVMF_CODE, qemu_argv, qemu_img_create_argv
from iso_assets.vmtest.qmp import QmpClient

SPEC = VmTestSpec()
ISO = Path("/w/product.iso")


def argv_for(firmware: str, medium: str) -> list[str]:
    return qemu_argv(
        VmCell(firmware=firmware, medium=medium),  # type: ignore[arg-type]
        iso=ISO,
        accel="tcg",
        memory_mib=1024,
        serial_log=Path("/w/serial.log"),
        qmp_socket=Path("/q/qmp.sock"),
        target_disk=Path("/w/target.qcow2"),
        ovmf_vars=Path("/w/OVMF_VARS_4M.fd") if firmware == "ovmf" else None,
        firmware_log=Path("/w/firmware.log"),
    )


def test_seabios_cd_argv_is_exact() -> None:
    assert argv_for("seabios", "cd") == [
        *("qemu-system-x86_64", "-name", "iso-assets-seabios-cd", "-machine", "pc"),
        *("-accel", "tcg", "-m", "1024", "-nodefaults", "-no-user-config"),
        *("-display", "none", "-vga", "std", "-no-reboot", "-boot", "strict=on"),
        *("-serial", "file:/w/serial.log", "-qmp", "unix:/q/qmp.sock,server=on,wait=off"),
        *("-chardev", "file,id=fwlog,path=/w/firmware.log"),
        *("-device", "isa-debugcon,iobase=0x402,chardev=fwlog"),
        *("-drive", "if=none,id=media,media=cdrom,format=raw,readonly=on,file=/w/product.iso"),
        *("-device", "ide-cd,drive=media,bus=ide.0,bootindex=0"),
        *("-drive", "if=none,id=target,format=qcow2,file=/w/target.qcow2"),
        *("-device", "virtio-blk-pci,drive=target"),
    ]


@pytest.mark.parametrize(
    ("firmware", "medium", "machine", "boot_device"),
    [
        ("seabios", "cd", "pc", "ide-cd,drive=media,bus=ide.0,bootindex=0"),
        ("seabios", "usb", "pc", "usb-storage,bus=xhci.0,drive=media,bootindex=0"),
        ("ovmf", "cd", "q35", "ide-cd,drive=media,bus=ide.0,bootindex=0"),
        ("ovmf", "usb", "q35", "usb-storage,bus=xhci.0,drive=media,bootindex=0"),
    ],
)
def test_each_cell_boots_its_medium_first_under_its_firmware(
    firmware: str, medium: str, machine: str, boot_device: str
) -> None:
    argv = argv_for(firmware, medium)
    pairs = list(itertools.pairwise(argv))

    assert ("-machine", machine) in pairs
    assert ("-device", boot_device) in pairs
    assert sum("bootindex" in word for word in argv) == 1
    assert ("-device", "qemu-xhci,id=xhci") in pairs if medium == "usb" else True
    media_drive = next(word for word in argv if word.startswith("if=none,id=media"))
    assert "readonly=on" in media_drive
    assert media_drive.endswith(f"file={ISO}")
    pflash = [word for word in argv if word.startswith("if=pflash")]
    if firmware == "ovmf":
        assert pflash == [
            f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "if=pflash,format=raw,unit=1,file=/w/OVMF_VARS_4M.fd",
        ]
    else:
        assert pflash == []


def test_ovmf_cell_without_private_vars_is_refused() -> None:
    with pytest.raises(ValueError, match="OVMF_VARS_4M.fd"):
        qemu_argv(
            VmCell(firmware="ovmf", medium="cd"),
            iso=ISO,
            accel="tcg",
            memory_mib=1024,
            serial_log=Path("s"),
            qmp_socket=Path("q"),
            target_disk=Path("t"),
            ovmf_vars=None,
        )


def test_tool_argv() -> None:
    assert qemu_img_create_argv(Path("/w/t.qcow2"), size_gib=8) == [
        *("qemu-img", "create", "-q", "-f", "qcow2", "/w/t.qcow2", "8G"),
    ]
    assert xorriso_extract_argv(ISO, "images/pxeboot/vmlinuz", Path("/t/vmlinuz")) == [
        *("xorriso", "-osirrox", "on", "-indev", "/w/product.iso"),
        *("-extract", "/images/pxeboot/vmlinuz", "/t/vmlinuz"),
    ]
    probe = probe_argv(Path("/t/vmlinuz"), serial_log=Path("/t/s.log"))
    assert probe[probe.index("-accel") + 1] == "kvm"
    assert probe[-2:] == ["-append", "console=ttyS0,115200 panic=-1"]
    assert "-no-reboot" in probe


def test_tcg_requested_never_probes() -> None:
    choice = choose_accel("tcg")

    assert (choice.accel, choice.probe_seconds) == ("tcg", 0.0)
    assert "vm_test.accel" in choice.reason


def test_auto_without_a_kernel_to_probe_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a kernel"):
        choose_accel("auto")


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        ("ISO-ASSETS-KICKSTART-OK label=X ks=/ks.cfg sources=1", "pass"),
        ("ISO-ASSETS-FAIL: no inst.ks on the kernel command line", "fail"),
        ("[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs", "fail"),
        ("Boot failed: not a bootable disk", "fail"),
        (
            'BdsDxe: failed to load Boot0001 "UEFI QEMU DVD-ROM QM00001 " from ...: Not Found',
            "fail",
        ),
        ("iso-assets: kickstart found: /ks.cfg", None),
        ("[    0.000000] Linux version 6.1.0-57-amd64", None),
    ],
)
def test_console_lines_decide_the_verdict(line: str, verdict: str | None) -> None:
    decided = classify_line(
        line, success_marker=SPEC.success_marker, failure_markers=SPEC.failure_markers
    )

    assert (decided[0] if decided else None) == verdict
    if decided:
        assert line.strip() in decided[1]


def test_failure_reason_names_the_marker_and_firmware_failures_say_so() -> None:
    guest = classify_line(
        "ISO-ASSETS-FAIL: kickstart not found: /ks.cfg on X",
        success_marker=SPEC.success_marker,
        failure_markers=SPEC.failure_markers,
    )
    firmware = classify_line("No bootable device.", success_marker="OK-MARK", failure_markers=[])

    assert guest == (
        "fail",
        "failure marker 'ISO-ASSETS-FAIL:': ISO-ASSETS-FAIL: kickstart not found: /ks.cfg on X",
    )
    assert firmware == ("fail", "firmware did not boot the medium: No bootable device.")


def test_timings_keep_the_first_sighting_of_each_phase() -> None:
    timings: dict[str, float] = {}
    for seconds, line in [
        (0.3, "Booting from 0000:7c00"),
        (9.0, "[    0.000000] Linux version 6.1.0"),
        (9.5, "[    0.000000] Linux version again"),
        (15.2, "iso-assets: stage 1 started, kernel 6.1.0"),
    ]:
        note_timing(line, seconds, timings)

    assert timings == {"loader": 0.3, "kernel": 9.0, "stage1": 15.2}
    assert phase_seconds({**timings, "marker": 20.0}) == {
        "firmware": 0.3,
        "boot_loader": 8.7,
        "installer": 11.0,
    }
    assert phase_seconds({"marker": 0.4}) == {}


def test_console_lines_lose_terminal_codes_and_come_only_when_complete(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    follower = LogFollower(log)

    assert follower.new_lines() == []
    log.write_bytes(b"\x1b[2J\x1b[01;01HBdsDxe: starting Boot0001\r\nhalf a li")
    assert follower.new_lines() == ["BdsDxe: starting Boot0001"]
    with log.open("ab") as handle:
        handle.write(b"ne\n\n\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0mtail")
    assert follower.new_lines() == ["half a line"]
    assert follower.new_lines(final=True) == ["Shell> tail"]
    assert clean_line("\x1b[=3h\x1b[0m\x1b[37m\x1b[40mtext  \r") == "text"
    assert tail_lines(log, 2) == ["half a line", "Shell> tail"]
    assert tail_lines(tmp_path / "absent.log", 2) == []


def tiny_png(path: Path) -> Path:
    """A valid 2x1 grey PNG, written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80\x80")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def sample_report(tmp_path: Path) -> VmReport:
    shot = tiny_png(tmp_path / "seabios-cd-progress.png")
    cells = [
        CellResult(
            firmware="seabios",
            medium="cd",
            accel="tcg",
            required=True,
            result="pass",
            seconds=21.5,
            reason="success marker: ISO-ASSETS-KICKSTART-OK label=X",
            serial_tail=["iso-assets: <script>alert(1)</script>", "ISO-ASSETS-KICKSTART-OK"],
            screenshot=shot,
            timings={"loader": 0.2, "kernel": 9.1, "stage1": 15.0, "marker": 21.4},
        ),
        CellResult(
            firmware="ovmf",
            medium="usb",
            accel="tcg",
            required=False,
            result="fail",
            seconds=7.6,
            reason="firmware did not boot the medium: a | b",
            firmware_tail=["No bootable device."],
            timings={"marker": 7.5},
        ),
    ]
    return VmReport(cells, "tcg", "tcg set in the spec", True, 30.2, "product.iso")


def test_report_files_are_self_contained_and_escaped(tmp_path: Path) -> None:
    report = sample_report(tmp_path)

    json_path, html_path = write_report(report, tmp_path / "out")

    data = json.loads(json_path.read_text())
    assert [cell["result"] for cell in data["cells"]] == ["pass", "fail"]
    assert data["cells"][0]["phases"] == {"firmware": 0.2, "boot_loader": 8.9, "installer": 12.3}
    assert data["cells"][0]["serial_tail"][-1] == "ISO-ASSETS-KICKSTART-OK"
    html = html_path.read_text()
    assert html.count("<img ") == 1
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "No bootable device." in html


def test_markdown_table_has_a_row_per_cell_and_keeps_reasons_in_their_cell(
    tmp_path: Path,
) -> None:
    text = report_markdown(sample_report(tmp_path))

    lines = text.splitlines()
    assert lines[0].startswith("**VM boot test PASSED** (tcg, 30 s wall)")
    assert "| seabios-cd | pass | 21.5 | 0.2 → 8.9 → 12.3 |" in text
    assert "| ovmf-usb (optional) | fail | 7.6 | - → - → - | firmware did not boot" in text
    assert "the medium: a \\| b |" in text


@pytest.mark.integration
def test_qmp_pauses_shoots_resumes_and_quits_a_real_qemu(tmp_path: Path) -> None:
    socket_path = tmp_path / "qmp.sock"
    argv = [
        *("qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults"),
        *("-display", "none", "-vga", "std", "-qmp", f"unix:{socket_path},server=on,wait=off"),
    ]
    process = start_qemu(argv, stderr_path=tmp_path / "qemu.stderr")
    try:
        with QmpClient.connect(socket_path) as qmp:
            time.sleep(0.5)  # let SeaBIOS draw something
            qmp.stop()
            assert qmp.execute("query-status")["status"] == "paused"
            png = qmp.screendump(tmp_path / "screen.png")
            qmp.cont()
            assert qmp.execute("query-status")["status"] == "running"
            qmp.quit()
        assert process.wait(timeout=10) == 0
    finally:
        stop_qemu(process)

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 500


@pytest.mark.integration
def test_stop_qemu_ends_a_guest_that_would_run_forever(tmp_path: Path) -> None:
    # A QEMU started paused (-S) never exits by itself; stop_qemu must end it by PID.
    argv = ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-nodefaults", "-S"]
    argv += ["-display", "none"]
    process = start_qemu(argv, stderr_path=tmp_path / "qemu.stderr")
    time.sleep(0.3)
    assert process.poll() is None

    started = time.monotonic()
    code = stop_qemu(process, grace=2.0)

    assert process.poll() is not None
    assert code == 0  # QEMU ends cleanly on SIGTERM
    assert time.monotonic() - started < 2.0
