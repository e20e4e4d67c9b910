"""Asset `vm_test_report`: the ISO booted in QEMU, BIOS and UEFI, as CD and as USB stick.

The report (JSON, self-contained HTML, one screenshot per cell) is an artifact even when a
cell fails; the release gate is the blocking check `vm_boot_passed`.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from iso_assets.artifacts import Manifest
from iso_assets.assets.inputs import tool_versions
from iso_assets.assets.iso import iso_file_name
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.partitions import product_version_partitions
from iso_assets.vmtest.matrix import report_markdown, run_matrix, write_report
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
BOOT_CHECK = "vm_boot_passed"


def boot_matrix(step: StepContext) -> StepOutput:
    spec, store = step.spec, step.store
    iso_manifest = upstream_manifest(store, spec, step.version, "iso")
    name = iso_file_name(spec, step.version)
    report = run_matrix(
        store.blob_path(iso_manifest.files[name]), spec.vm_test, step.work_dir / "cells"
    )
    json_path, html_path = write_report(report, step.work_dir / "report")
    output = StepOutput(
        files={"vm-test-report.json": json_path, "vm-test-report.html": html_path},
        media_types={"vm-test-report.json": "application/json", "vm-test-report.html": "text/html"},
    )
    for cell in report.cells:
        if cell.screenshot is not None and cell.screenshot.is_file():
            key = f"screenshots/{cell.firmware}-{cell.medium}.png"
            output.files[key] = cell.screenshot
            output.media_types[key] = "image/png"
    output.metadata.update(
        {
            "passed": report.passed,
            "accel": report.accel,
            "accel_reason": report.accel_reason,
            "wall_seconds": round(report.wall_seconds, 1),
            "table": report_markdown(report),
            "cells": [
                {
                    "cell": f"{cell.firmware}-{cell.medium}",
                    "required": cell.required,
                    "result": cell.result,
                    "seconds": round(cell.seconds, 1),
                    "reason": cell.reason,
                    "timings": cell.timings,
                }
                for cell in report.cells
            ],
        }
    )
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    metadata = manifest.metadata
    cells = metadata["cells"]
    return {
        "passed": metadata["passed"],
        "accel": f"{metadata['accel']} ({metadata['accel_reason']})",
        "cells_passed": sum(cell["result"] == "pass" for cell in cells),
        "cells_failed": sum(cell["result"] == "fail" for cell in cells),
        "matrix_seconds": metadata["wall_seconds"],
        "report": MetadataValue.md(metadata["table"]),
        **{f"seconds_{cell['cell']}": cell["seconds"] for cell in cells},
    }


def boot_gate(manifest: Manifest) -> list[AssetCheckResult]:
    failed = [
        f"{cell['cell']}: {cell['reason']}"
        for cell in manifest.metadata["cells"]
        if cell["required"] and cell["result"] != "pass"
    ]
    return [
        AssetCheckResult(
            check_name=BOOT_CHECK,
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            metadata={"failed_cells": MetadataValue.json(failed)},
        )
    ]


@asset(
    partitions_def=product_version_partitions,
    deps=["iso"],
    code_version=CODE_VERSION,
    group_name="release",
    description="QEMU boot matrix (SeaBIOS/OVMF x CD/USB): serial markers, screenshots, report.",
    check_specs=[
        AssetCheckSpec(
            BOOT_CHECK,
            asset="vm_test_report",
            blocking=True,
            description="every required cell reached the success marker on the serial console",
        )
    ],
)
def vm_test_report(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    inputs = {
        "iso": upstream_manifest(store, spec, version, "iso").output_digest,
        "vm_test": spec.section_dump("vm_test"),
        "tools": tool_versions("qemu-system-x86_64"),
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="vm_test_report",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=boot_matrix,
        describe=describe,
        checks=boot_gate,
    )
