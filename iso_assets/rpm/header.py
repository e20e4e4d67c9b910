"""Read RPM headers with the createrepo_c library (never from file names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import createrepo_c as cr

from iso_assets.errors import IsoAssetsError


class RpmHeaderError(IsoAssetsError):
    """Raised when a file is not a readable RPM package."""


@dataclass(frozen=True)
class RpmHeader:
    name: str
    epoch: str
    version: str
    release: str
    arch: str
    sourcerpm: str
    sha256: str
    size: int

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch not in ("", "0", None) else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"

    @property
    def is_source(self) -> bool:
        return self.arch in ("src", "nosrc") or not self.sourcerpm

    @property
    def expected_file_name(self) -> str:
        arch = "src" if self.is_source else self.arch
        return f"{self.name}-{self.version}-{self.release}.{arch}.rpm"


def read_rpm_header(path: Path) -> RpmHeader:
    """Header facts of one RPM file; raises RpmHeaderError naming the file if unreadable."""
    try:
        pkg = cr.package_from_rpm(str(path), checksum_type=cr.SHA256, location_href=path.name)
    except Exception as exc:  # createrepo_c raises its own CreaterepoCError
        raise RpmHeaderError(f"{path}: not a readable RPM package ({exc})") from exc
    return RpmHeader(
        name=pkg.name,
        epoch=pkg.epoch or "0",
        version=pkg.version,
        release=pkg.release,
        arch=pkg.arch,
        sourcerpm=pkg.rpm_sourcerpm or "",
        sha256=pkg.pkgId,
        size=pkg.size_package,
    )
