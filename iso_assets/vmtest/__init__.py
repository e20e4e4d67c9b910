"""The VM boot test: boot the ISO in QEMU under each firmware x medium cell, judge each by
its serial console, and report with screenshots (JSON, self-contained HTML, Markdown)."""

from iso_assets.vmtest.accel import AccelChoice, choose_accel
from iso_assets.vmtest.cell import CellResult, run_cell
from iso_assets.vmtest.errors import VmTestError
from iso_assets.vmtest.matrix import VmReport, report_markdown, run_matrix, write_report
from iso_assets.vmtest.qemu import qemu_argv

__all__ = [
    "AccelChoice",
    "CellResult",
    "VmReport",
    "VmTestError",
    "choose_accel",
    "qemu_argv",
    "report_markdown",
    "run_cell",
    "run_matrix",
    "write_report",
]
