"""Run the whole boot matrix in parallel and write its report (JSON, self-contained HTML,
Markdown for the Dagster UI).

Each cell is one QEMU process watched by one thread; as many run at once as there are CPU
cores (TCG keeps a core busy per guest). The accelerator is chosen once, before any cell
starts, by booting the ISO's own kernel under KVM (see accel.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from iso_assets.errors import ToolError
from iso_assets.iso.bootconfig import KERNEL
from iso_assets.process import run_tool
from iso_assets.spec.models import VmTestSpec
from iso_assets.vmtest.accel import choose_accel
from iso_assets.vmtest.cell import CellResult, run_cell
from iso_assets.vmtest.errors import VmTestError

log = logging.getLogger(__name__)

REPORT_JSON = "vm-test-report.json"
REPORT_HTML = "vm-test-report.html"


@dataclass(frozen=True)
class VmReport:
    cells: list[CellResult]
    accel: str
    accel_reason: str
    passed: bool  # every required cell passed
    wall_seconds: float
    iso_name: str = ""


def run_matrix(
    iso: Path, spec: VmTestSpec, work_dir: Path, *, max_parallel: int | None = None
) -> VmReport:
    """Boot `iso` in every cell of `spec.matrix`, up to `max_parallel` (default: CPU count)
    at a time; cell files go to `work_dir/<cell>/`. Raises VmTestError/ToolError only when
    the test cannot run; failed boots are in the report."""
    started = time.monotonic()
    work_dir.mkdir(parents=True, exist_ok=True)
    if spec.accel == "tcg":
        choice = choose_accel("tcg")
    else:
        with tempfile.TemporaryDirectory(prefix="iso-assets-kernel-") as tmp:
            kernel = extract_iso_file(iso, KERNEL, Path(tmp) / "vmlinuz")
            choice = choose_accel(spec.accel, kernel=kernel)

    workers = max(1, min(max_parallel or os.cpu_count() or 1, len(spec.matrix)))
    log.info(
        "vm test of %s: %d cells, %d at a time, accel %s",
        iso.name,
        len(spec.matrix),
        workers,
        choice.accel,
    )
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vm-cell") as pool:
        cells = list(
            pool.map(
                lambda cell: run_cell(
                    cell, iso=iso, accel=choice.accel, spec=spec, work_dir=work_dir
                ),
                spec.matrix,
            )
        )

    wall_seconds = round(time.monotonic() - started, 2)
    passed = all(cell.result == "pass" for cell in cells if cell.required)
    log.info(
        "vm test of %s %s in %.1f s: %s",
        iso.name,
        "passed" if passed else "FAILED",
        wall_seconds,
        ", ".join(f"{cell.name} {cell.result}" for cell in cells),
    )
    return VmReport(cells, choice.accel, choice.reason, passed, wall_seconds, iso.name)


def xorriso_extract_argv(iso: Path, iso_path: str, dest: Path) -> list[str]:
    return ["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", f"/{iso_path}", str(dest)]


def extract_iso_file(iso: Path, iso_path: str, dest: Path) -> Path:
    """Copy one file out of the ISO (no mount); raises VmTestError when it is not there."""
    try:
        run_tool(xorriso_extract_argv(iso, iso_path, dest))
    except ToolError as exc:
        raise VmTestError(f"{iso.name}: cannot extract /{iso_path}: {exc}") from exc
    if not dest.is_file():
        raise VmTestError(f"{iso.name} has no /{iso_path} (the kernel the KVM probe boots)")
    return dest


def report_data(report: VmReport) -> dict[str, Any]:
    """The report as JSON-ready data (screenshots as paths)."""
    return {
        "iso": report.iso_name,
        "passed": report.passed,
        "accel": report.accel,
        "accel_reason": report.accel_reason,
        "wall_seconds": report.wall_seconds,
        "cells": [
            {
                "cell": cell.name,
                "firmware": cell.firmware,
                "medium": cell.medium,
                "accel": cell.accel,
                "required": cell.required,
                "result": cell.result,
                "seconds": cell.seconds,
                "reason": cell.reason,
                "timings": cell.timings,
                "phases": phase_seconds(cell.timings),
                "screenshot": cell.screenshot.name if cell.screenshot else None,
                "serial_tail": cell.serial_tail,
                "firmware_tail": cell.firmware_tail,
            }
            for cell in report.cells
        ],
    }


def phase_seconds(timings: dict[str, float]) -> dict[str, float]:
    """How long each phase took: firmware (power-on to boot loader), boot_loader (to the
    kernel banner), installer (kernel banner to the deciding marker); phases not reached
    or not seen on the console are left out."""
    bounds = [("firmware", None, "loader"), ("boot_loader", "loader", "kernel")]
    bounds.append(("installer", "kernel", "marker"))
    phases: dict[str, float] = {}
    for phase, start, end in bounds:
        if end in timings and (start is None or start in timings):
            phases[phase] = round(timings[end] - (timings[start] if start else 0.0), 2)
    return phases


def write_report(report: VmReport, out_dir: Path) -> tuple[Path, Path]:
    """Write vm-test-report.json and a self-contained vm-test-report.html (screenshots
    inlined as base64 PNG) into `out_dir`; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = report_data(report)
    json_path = out_dir / REPORT_JSON
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    images = {
        cell.name: base64.b64encode(cell.screenshot.read_bytes()).decode("ascii")
        for cell in report.cells
        if cell.screenshot is not None and cell.screenshot.is_file()
    }
    env = Environment(
        loader=PackageLoader("iso_assets.vmtest", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("report.html.j2").render(report=data, images=images)
    html_path = out_dir / REPORT_HTML
    html_path.write_text(html)
    log.info("vm test report written: %s, %s", json_path, html_path)
    return json_path, html_path


def report_markdown(report: VmReport) -> str:
    """A Markdown table of the cells, for the asset's metadata in the Dagster UI."""
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"**VM boot test {verdict}** ({report.accel}, {report.wall_seconds:.0f} s wall): "
        f"{_cell_text(report.accel_reason)}",
        "",
        "| cell | result | seconds | firmware → boot loader → installer (s) | reason |",
        "|---|---|---|---|---|",
    ]
    for cell in report.cells:
        phases = phase_seconds(cell.timings)
        path = " → ".join(
            f"{phases[phase]:.1f}" if phase in phases else "-"
            for phase in ("firmware", "boot_loader", "installer")
        )
        required = "" if cell.required else " (optional)"
        lines.append(
            f"| {cell.name}{required} | {cell.result} | {cell.seconds:.1f} | {path} | "
            f"{_cell_text(cell.reason)} |"
        )
    return "\n".join(lines) + "\n"


def _cell_text(text: str) -> str:
    # A table cell is one line; a literal | would end it.
    return " ".join(text.split()).replace("|", "\\|")
