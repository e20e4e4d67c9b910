"""Choose the QEMU accelerator: KVM only when a trial boot proves guests run under it.

On some hosts /dev/kvm exists and `-accel kvm` starts, yet the guest stops with "KVM
internal error ... emulation failure" or hangs silently and QEMU never exits (measured on
this project's build machines: SeaBIOS and a hand-made boot sector that enters long mode
both ran, the Linux kernel hung right after its real-mode setup). So the probe boots the
kernel the test will boot, without an initrd, to its "cannot mount root" panic: with
`panic=-1 -no-reboot` QEMU exits by itself, in about a second on working KVM. A probe that
does not finish within the timeout is killed by PID and the test runs under TCG.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from iso_assets.vmtest.errors import VmTestError
from iso_assets.vmtest.launch import start_qemu, stderr_tail, stop_qemu
from iso_assets.vmtest.qemu import QEMU

log = logging.getLogger(__name__)

KVM_DEVICE = Path("/dev/kvm")
KERNEL_BANNER = "Linux version"
KVM_FAILURE = "KVM internal error"
POLL_SECONDS = 0.2

_lock = threading.Lock()
_probed: dict[str, AccelChoice] = {}


@dataclass(frozen=True)
class AccelChoice:
    accel: Literal["kvm", "tcg"]
    reason: str
    probe_seconds: float = 0.0


def choose_accel(
    requested: Literal["auto", "kvm", "tcg"],
    *,
    kernel: Path | None = None,
    probe_timeout: float = 20.0,
) -> AccelChoice:
    """The accelerator for `requested` (the spec's vm_test.accel) and why.

    "tcg" never probes. "auto" probes KVM by booting `kernel` (required then) and falls back
    to TCG with the probe's finding; "kvm" raises VmTestError when the probe fails. The first
    probe's result is kept for the life of the process (KVM does not start working between
    two runs).
    """
    if requested == "tcg":
        return AccelChoice("tcg", "tcg set in the spec (vm_test.accel)")
    if kernel is None:
        raise ValueError(f"accel {requested!r} needs a kernel to probe KVM with")
    with _lock:
        if "kvm" not in _probed:
            _probed["kvm"] = _decide_kvm(kernel, probe_timeout)
        else:
            log.info("accelerator: reusing this process's KVM probe result")
        choice = _probed["kvm"]
    if requested == "kvm" and choice.accel != "kvm":
        raise VmTestError(
            f"vm_test.accel is kvm but KVM is unusable here: {choice.reason}; set "
            f"vm_test.accel to auto (falls back to TCG) or tcg"
        )
    return choice


def _decide_kvm(kernel: Path, timeout: float) -> AccelChoice:
    if not KVM_DEVICE.exists():
        return _logged(AccelChoice("tcg", f"{KVM_DEVICE} does not exist"))
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        return _logged(AccelChoice("tcg", f"{KVM_DEVICE} is not read/writable by this user"))
    ok, finding, seconds = probe_kvm(kernel, timeout=timeout)
    if ok:
        return _logged(AccelChoice("kvm", f"KVM probe: {finding}", seconds))
    return _logged(AccelChoice("tcg", f"KVM probe failed, using TCG: {finding}", seconds))


def _logged(choice: AccelChoice) -> AccelChoice:
    log.info("accelerator %s: %s", choice.accel, choice.reason)
    return choice


def probe_argv(kernel: Path, *, serial_log: Path, accel: str = "kvm") -> list[str]:
    """Boot `kernel` alone: it panics for want of a root file system and QEMU exits."""
    return [
        *(QEMU, "-machine", "pc", "-accel", accel, "-m", "256"),
        *("-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"),
        *("-serial", f"file:{serial_log}", "-kernel", str(kernel)),
        *("-append", "console=ttyS0,115200 panic=-1"),
    ]


def probe_kvm(kernel: Path, *, timeout: float, accel: str = "kvm") -> tuple[bool, str, float]:
    """(works, finding, seconds): whether `kernel` boots to its end under `accel` within
    `timeout` s. Not cached; `choose_accel` is the cached entry point."""
    if not kernel.is_file():
        raise VmTestError(f"KVM probe kernel {kernel} does not exist")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iso-assets-kvm-probe-") as tmp:
        serial_log, stderr_path = Path(tmp) / "serial.log", Path(tmp) / "qemu.stderr"
        argv = probe_argv(kernel, serial_log=serial_log, accel=accel)
        process = start_qemu(argv, stderr_path=stderr_path)
        try:
            finding = _wait_for_probe(process, serial_log, stderr_path, started, timeout)
        finally:
            stop_qemu(process, grace=1.0)
        seconds = time.monotonic() - started
        if finding is None:
            return True, f"kernel booted to its end in {seconds:.1f} s", seconds
        return False, f"{finding} ({seconds:.1f} s)", seconds


def _wait_for_probe(
    process: subprocess.Popen[bytes],
    serial_log: Path,
    stderr_path: Path,
    started: float,
    timeout: float,
) -> str | None:
    """None when the kernel ran to its end; otherwise what went wrong."""
    while True:
        returncode = process.poll()
        banner = serial_log.is_file() and KERNEL_BANNER in serial_log.read_text(errors="replace")
        errors = stderr_tail(stderr_path)
        if KVM_FAILURE in errors:
            return f"QEMU reported '{_line_with(errors, KVM_FAILURE)}'"
        if returncode is not None:
            if returncode == 0 and banner:
                return None
            return f"QEMU exited with code {returncode} before the kernel booted: {errors}"
        if time.monotonic() - started > timeout:
            if banner:
                return f"the kernel started but did not finish booting within {timeout:.0f} s"
            return f"no kernel output within {timeout:.0f} s (guest hangs)"
        time.sleep(POLL_SECONDS)


def _line_with(text: str, needle: str) -> str:
    return next(line.strip() for line in text.splitlines() if needle in line)


def forget_probe() -> None:
    """Drop the cached probe result (tests; a host whose KVM setup changed)."""
    with _lock:
        _probed.clear()
