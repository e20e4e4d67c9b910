"""Start QEMU as a child that never outlives its caller, and stop it by PID.

QEMU runs while the caller watches its serial log and talks QMP to it, so it cannot go
through `run_tool` (which waits for the exit); everything around it (qemu-img, xorriso)
does. The child gets its own session, so a terminal's Ctrl-C reaches only the caller, whose
`finally` then stops the child by its PID: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from iso_assets.errors import ToolMissingError

log = logging.getLogger(__name__)

TERM_GRACE_SECONDS = 5.0


def start_qemu(argv: Sequence[str], *, stderr_path: Path) -> subprocess.Popen[bytes]:
    """Start argv with stdin closed, stdout and stderr into `stderr_path`."""
    if shutil.which(argv[0]) is None:
        raise ToolMissingError(
            f"{argv[0]} is not installed (needed for the VM boot test): apt-get install "
            f"qemu-system-x86 ovmf",
            argv=list(argv),
            returncode=127,
        )
    log.debug("run: %s", shlex.join(argv))
    with stderr_path.open("wb") as stderr:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_qemu(process: subprocess.Popen[bytes], *, grace: float = TERM_GRACE_SECONDS) -> int:
    """Stop `process` if it still runs (SIGTERM, then SIGKILL after `grace` s); its exit code."""
    if process.poll() is not None:
        return process.returncode
    process.terminate()
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log.info("qemu pid %d ignored SIGTERM for %.0f s; sending SIGKILL", process.pid, grace)
        process.kill()
        return process.wait()


def stderr_tail(path: Path, lines: int = 5) -> str:
    """The last lines QEMU wrote to stderr, for error messages ('' when none)."""
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:])
