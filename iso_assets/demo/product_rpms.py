"""The demo product's own RPMs (acme-server, acme-tools), built with rpmbuild.

The spec files live in examples/demo/rpms/ and take their Version from `%{product_version}`;
this module writes a copy of each spec with `%global product_version <version>` in front
(the shared `build_rpms` has no extra-defines argument) and builds it with the EL9 macros.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path

from iso_assets.artifacts import digest_of
from iso_assets.demo.stamp import is_up_to_date, stamp_path, write_stamp
from iso_assets.errors import IsoAssetsError
from iso_assets.process import tool_version
from iso_assets.rpm.build import build_rpms

log = logging.getLogger(__name__)

CODE_VERSION = "product-rpms-1"
SPEC_DIR = Path(__file__).resolve().parents[2] / "examples" / "demo" / "rpms"
# RPM's Version tag allows no '-' (it separates version and release) and no whitespace.
RPM_VERSION = re.compile(r"^[0-9][A-Za-z0-9._+~^]*$")
TARGET_ARCH = "x86_64"


class ProductRpmError(IsoAssetsError):
    """Raised when the product RPMs cannot be built (bad version string, missing specs)."""


def build_product_rpms(
    out_dir: Path, *, version: str, source_date_epoch: int, spec_dir: Path = SPEC_DIR
) -> list[Path]:
    """Build every spec in `spec_dir` at `version` into `out_dir`; return the RPM paths.

    Cached: when `out_dir` holds a stamp with the same input digest (spec texts, version,
    source_date_epoch, rpmbuild version) and the RPMs it lists, nothing is rebuilt.
    Raises ProductRpmError for a version RPM cannot carry, ToolError when rpmbuild fails.
    """
    if not RPM_VERSION.match(version):
        raise ProductRpmError(
            f"product version {version!r} cannot be an RPM Version (no '-' or spaces; use "
            f"e.g. 1.0.0 or 1.0.0~rc1)"
        )
    specs = sorted(spec_dir.glob("*.spec"))
    if not specs:
        raise ProductRpmError(f"no *.spec files in {spec_dir}: the demo product specs are missing")

    input_digest = digest_of(
        {
            "code": CODE_VERSION,
            "specs": {spec.name: spec.read_text() for spec in specs},
            "version": version,
            "source_date_epoch": source_date_epoch,
            "rpmbuild": tool_version(["rpmbuild", "--version"]),
        }
    )
    stamp = stamp_path(out_dir)
    if is_up_to_date(out_dir, stamp, input_digest):
        recorded = cached_rpms(out_dir, stamp)
        if recorded is not None:
            log.info("product RPMs %s reused: input digest unchanged", out_dir)
            return recorded

    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    built: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="demo-product-specs-") as tmp:
        for spec in specs:
            versioned = Path(tmp) / spec.name
            versioned.write_text(versioned_spec_text(spec.read_text(), version))
            built += build_rpms(
                versioned, out_dir, source_date_epoch=source_date_epoch, target=TARGET_ARCH
            )
    write_stamp(stamp, input_digest, rpms=sorted(path.name for path in built))
    log.info(
        "product RPMs %s built in %.2f s: %s",
        version,
        time.monotonic() - started,
        ", ".join(path.name for path in built),
    )
    return sorted(built)


def versioned_spec_text(spec_text: str, version: str) -> str:
    """The spec text with the product version defined in front of it."""
    return f"%global product_version {version}\n{spec_text}"


def cached_rpms(out_dir: Path, stamp: Path) -> list[Path] | None:
    """The RPMs a stamp lists, or None when any of them is gone."""
    names = json.loads(stamp.read_text()).get("rpms", [])
    paths = [out_dir / name for name in names]
    if not paths or not all(path.is_file() for path in paths):
        return None
    return paths
