"""The VM test's exception type."""

from __future__ import annotations

from iso_assets.errors import IsoAssetsError


class VmTestError(IsoAssetsError):
    """Raised when the boot test cannot run at all (QEMU or OVMF missing, KVM demanded but
    unusable, QMP unreachable); a cell whose guest fails to boot is a result, not an error."""
