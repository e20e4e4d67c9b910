"""Find the product's RPMs for one version in the incoming location, by their headers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from iso_assets.errors import IsoAssetsError
from iso_assets.incoming_s3 import IncomingSyncError, sync_incoming
from iso_assets.paths import iso_assets_home
from iso_assets.rpm.evr import compare_evr, evr_of
from iso_assets.rpm.header import RpmHeader, RpmHeaderError, read_rpm_header
from iso_assets.spec.models import ProductSpec

log = logging.getLogger(__name__)


class ProductRpmsError(IsoAssetsError):
    """Raised when a version has no product RPMs in the incoming location."""


@dataclass(frozen=True)
class ProductRpm:
    path: Path
    header: RpmHeader


def incoming_dir(spec: ProductSpec) -> Path:
    """The local folder of the incoming RPMs; an `s3://` location is synced into one first."""
    location = spec.product_rpms.incoming
    if location.startswith("s3://"):
        try:
            return sync_incoming(location, iso_assets_home() / "incoming")
        except IncomingSyncError as exc:
            raise ProductRpmsError(str(exc)) from exc
    return spec.resolve(location)


def scan_incoming(spec: ProductSpec) -> list[ProductRpm]:
    """Every readable product RPM (by header name) under the incoming folder."""
    root = incoming_dir(spec)
    if not root.is_dir():
        raise ProductRpmsError(
            f"product_rpms.incoming {root} does not exist; create it and drop the product's "
            f"RPMs there"
        )
    wanted = set(spec.product_rpms.packages)
    found = []
    for path in sorted(root.rglob("*.rpm")):
        try:
            header = read_rpm_header(path)
        except RpmHeaderError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if header.is_source or header.name not in wanted:
            continue
        if header.arch not in spec.allowed_arches:
            log.warning(
                "skipping %s: arch %s is not one of %s", path, header.arch, spec.allowed_arches
            )
            continue
        found.append(ProductRpm(path, header))
    return found


def product_rpms_for_version(spec: ProductSpec, version: str) -> list[ProductRpm]:
    """The newest build per name.arch whose header Version equals `version`.

    Raises ProductRpmsError naming the folder, the version and the versions that are there.
    """
    candidates = scan_incoming(spec)
    matching = [rpm for rpm in candidates if rpm.header.version == version]
    if not matching:
        present = sorted({rpm.header.version for rpm in candidates})
        location = spec.product_rpms.incoming
        where = location if location.startswith("s3://") else spec.resolve(location)
        raise ProductRpmsError(
            f"no product RPMs of version {version} in {where} "
            f"(packages {spec.product_rpms.packages}; versions present: {present or 'none'}); "
            f"drop the RPMs there or register the right version"
        )
    newest: dict[tuple[str, str], ProductRpm] = {}
    for rpm in matching:
        key = (rpm.header.name, rpm.header.arch)
        current = newest.get(key)
        if current is None or compare_evr(evr_of(rpm.header), evr_of(current.header)) > 0:
            newest[key] = rpm
    return [newest[key] for key in sorted(newest)]
