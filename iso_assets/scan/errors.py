"""Exception types of the scan stage."""

from __future__ import annotations

from iso_assets.errors import IsoAssetsError


class ScanError(IsoAssetsError):
    """Raised when the scan cannot run or its input is wrong (target, DB, Trivy output)."""


class TrivyDbError(ScanError):
    """Raised before Trivy runs when the offline DB cache is misplaced, incomplete, of the
    wrong schema or too old; the message names the file and what to copy or refresh."""


class ScanTargetError(ScanError):
    """Raised before Trivy runs when the target is not an installed root filesystem (a file
    such as an ISO or qcow2, or a folder without os-release or rpm database)."""
