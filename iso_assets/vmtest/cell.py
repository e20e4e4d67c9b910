"""Boot the ISO in one cell of the matrix (firmware x medium) and judge it by its console.

QEMU runs while its serial log (and SeaBIOS's debug port log) is read every 0.1 s. The cell
passes on the success marker and fails on the first failure marker, on a firmware message
saying the medium did not boot, when QEMU exits without a marker, or at the timeout. The
guest powers off milliseconds after its final marker, so the screenshot is taken on the
first progress line (guest paused with `stop`, shot, `cont`) and again, if QEMU still runs,
at a failure or the timeout. QEMU never outlives the call: it is stopped in a `finally`.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from iso_assets.process import run_tool
from iso_assets.spec.models import VmCell, VmTestSpec
from iso_assets.vmtest.console import LogFollower, tail_lines
from iso_assets.vmtest.errors import VmTestError
from iso_assets.vmtest.launch import start_qemu, stderr_tail, stop_qemu
from iso_assets.vmtest.qemu import OVMF_CODE, OVMF_VARS, qemu_argv, qemu_img_create_argv
from iso_assets.vmtest.qmp import QmpClient, QmpError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
SERIAL_TAIL_LINES = 40
FIRMWARE_TAIL_LINES = 10
QMP_CONNECT_SECONDS = 5.0
KERNEL_BANNER = "Linux version"
# The firmware handing over to the boot loader (SeaBIOS debug port / OVMF serial console).
LOADER_STARTED = ("Booting from 0000:7c00", "BdsDxe: starting Boot")
# The firmware giving up on the medium: with `-boot strict=on` there is nothing else to try.
FIRMWARE_FAILURES = (
    "Boot failed:",
    "No bootable device",
    "BdsDxe: failed to load",
    "UEFI Interactive Shell",
)
# First lines the installer's own code prints: the demo init's progress lines, Anaconda's
# start. The screenshot is taken here, seconds before the guest can power off.
PROGRESS_LINES = ("iso-assets: ", "Starting installer")

Verdict = tuple[Literal["pass", "fail"], str]


@dataclass(frozen=True)
class CellResult:
    """One cell's outcome. `timings` are seconds after QEMU started at which the firmware
    started the boot loader ("loader"), the kernel printed its banner ("kernel"), the
    installer printed its first line ("stage1") and the deciding marker appeared ("marker")."""

    firmware: str
    medium: str
    accel: str
    required: bool
    result: Literal["pass", "fail"]
    seconds: float
    reason: str
    serial_tail: list[str] = field(default_factory=list)
    firmware_tail: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.firmware}-{self.medium}"


def classify_line(line: str, *, success_marker: str, failure_markers: list[str]) -> Verdict | None:
    """The verdict a console line decides, or None when it decides nothing."""
    if success_marker in line:
        return "pass", f"success marker: {line.strip()}"
    for marker in failure_markers:
        if marker in line:
            return "fail", f"failure marker {marker!r}: {line.strip()}"
    for marker in FIRMWARE_FAILURES:
        if marker in line:
            return "fail", f"firmware did not boot the medium: {line.strip()}"
    return None


def note_timing(line: str, seconds: float, timings: dict[str, float]) -> None:
    """Record the first time each boot phase shows on the console."""
    phases = (
        ("loader", LOADER_STARTED),
        ("kernel", (KERNEL_BANNER,)),
        ("stage1", PROGRESS_LINES),
    )
    for phase, needles in phases:
        if phase not in timings and any(needle in line for needle in needles):
            timings[phase] = round(seconds, 2)


def run_cell(
    cell: VmCell, *, iso: Path, accel: str, spec: VmTestSpec, work_dir: Path
) -> CellResult:
    """Boot `iso` in `cell` under `accel`; files go to `work_dir/<cell name>/`.

    Raises ToolError/VmTestError only when the test cannot run (QEMU, qemu-img or OVMF
    missing); a guest that does not boot is a "fail" result with the reason.
    """
    cell_dir = work_dir / cell.name
    shutil.rmtree(cell_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True)
    target_disk = cell_dir / "target.qcow2"
    run_tool(qemu_img_create_argv(target_disk, size_gib=spec.disk_size_gib))
    ovmf_vars = _private_ovmf_vars(cell_dir) if cell.firmware == "ovmf" else None
    serial_log, firmware_log = cell_dir / "serial.log", cell_dir / "firmware.log"
    stderr_path = cell_dir / "qemu.stderr"
    # A unix socket path must stay under 108 bytes; work_dir may be deep.
    qmp_dir = Path(tempfile.mkdtemp(prefix="iso-assets-qmp-"))
    argv = qemu_argv(
        cell,
        iso=iso.resolve(),
        accel=accel,
        memory_mib=spec.memory_mib,
        serial_log=serial_log,
        qmp_socket=qmp_dir / "qmp.sock",
        target_disk=target_disk,
        ovmf_vars=ovmf_vars,
        firmware_log=firmware_log,
    )
    (cell_dir / "qemu.argv").write_text("\n".join(argv) + "\n")

    timings: dict[str, float] = {}
    started = time.monotonic()
    process = start_qemu(argv, stderr_path=stderr_path)
    log.info("cell %s: qemu pid %d started (%s)", cell.name, process.pid, accel)
    watch = _Watch(cell, process, qmp_dir / "qmp.sock", cell_dir, started)
    try:
        result, reason = watch.run(
            LogFollower(serial_log), LogFollower(firmware_log), spec, timings, stderr_path
        )
    finally:
        watch.close()
        stop_qemu(process)
        shutil.rmtree(qmp_dir, ignore_errors=True)
    seconds = time.monotonic() - started

    log.info("cell %s: %s in %.1f s: %s", cell.name, result, seconds, reason)
    return CellResult(
        firmware=cell.firmware,
        medium=cell.medium,
        accel=accel,
        required=cell.required,
        result=result,
        seconds=round(seconds, 2),
        reason=reason,
        serial_tail=tail_lines(serial_log, SERIAL_TAIL_LINES),
        firmware_tail=tail_lines(firmware_log, FIRMWARE_TAIL_LINES),
        screenshot=watch.best_screenshot(),
        timings=timings,
    )


def _private_ovmf_vars(cell_dir: Path) -> Path:
    """A writable copy of the OVMF variable store for this cell alone."""
    missing = [path for path in (OVMF_CODE, OVMF_VARS) if not path.is_file()]
    if missing:
        raise VmTestError(f"{missing[0]} not found: apt-get install ovmf")
    copy = cell_dir / OVMF_VARS.name
    shutil.copyfile(OVMF_VARS, copy)
    return copy


class _Watch:
    """The watch loop of one running QEMU and the screenshots it takes."""

    def __init__(
        self,
        cell: VmCell,
        process: subprocess.Popen[bytes],
        qmp_socket: Path,
        cell_dir: Path,
        started: float,
    ) -> None:
        self.cell = cell
        self.process = process
        self.qmp_socket = qmp_socket
        self.cell_dir = cell_dir
        self.started = started
        self.shots: dict[str, Path] = {}
        self.attempted: set[str] = set()
        self._qmp: QmpClient | None = None

    def run(
        self,
        serial: LogFollower,
        firmware: LogFollower,
        spec: VmTestSpec,
        timings: dict[str, float],
        stderr_path: Path,
    ) -> Verdict:
        last_line = ""
        while True:
            exited = self.process.poll() is not None
            elapsed = time.monotonic() - self.started
            lines = firmware.new_lines(final=exited) + serial.new_lines(final=exited)
            for line in lines:
                last_line = line
                note_timing(line, elapsed, timings)
                verdict = classify_line(
                    line,
                    success_marker=spec.success_marker,
                    failure_markers=spec.failure_markers,
                )
                if verdict is not None:
                    timings["marker"] = round(elapsed, 2)
                    if verdict[0] == "fail":
                        self.shoot("failure", pause=False)
                    return verdict
                if "stage1" in timings and "progress" not in self.attempted:
                    self.shoot("progress", pause=True)
            if exited:
                errors = stderr_tail(stderr_path)
                return "fail", (
                    f"QEMU exited with code {self.process.returncode} before the success "
                    f"marker; last line: {last_line or '(no console output)'}"
                    + (f"; qemu: {errors}" if errors else "")
                )
            if elapsed > spec.timeout_seconds:
                self.shoot("timeout", pause=False)
                return "fail", (
                    f"no success marker after {spec.timeout_seconds} s; last line: "
                    f"{last_line or '(no console output)'}"
                )
            time.sleep(POLL_SECONDS)

    def shoot(self, moment: str, *, pause: bool) -> Path | None:
        """Screenshot into `<cell>-<moment>.png`; None when QEMU is gone or QMP fails (the
        guest may have powered off since its last line)."""
        png = self.cell_dir / f"{self.cell.name}-{moment}.png"
        self.attempted.add(moment)
        try:
            qmp = self._connected()
            if pause:
                qmp.stop()
            try:
                qmp.screendump(png)
            finally:
                if pause:
                    qmp.cont()
        except QmpError as exc:
            log.info("cell %s: no %s screenshot: %s", self.cell.name, moment, exc)
            return None
        if not png.is_file():
            log.info("cell %s: QEMU wrote no %s screenshot", self.cell.name, moment)
            return None
        self.shots[moment] = png
        return png

    def best_screenshot(self) -> Path | None:
        """The failure or timeout shot when there is one, else the progress shot."""
        for moment in ("failure", "timeout", "progress"):
            if moment in self.shots:
                return self.shots[moment]
        return None

    def close(self) -> None:
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None

    def _connected(self) -> QmpClient:
        if self.process.poll() is not None:
            raise QmpError(f"QEMU has exited (code {self.process.returncode})")
        if self._qmp is None:
            self._qmp = QmpClient.connect(self.qmp_socket, timeout=QMP_CONNECT_SECONDS)
        return self._qmp
