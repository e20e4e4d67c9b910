"""Exception types. Each says when it is raised; every message names the thing at fault
(file, field, package, label) and what to do about it."""

from __future__ import annotations


class IsoAssetsError(Exception):
    """Base class for every error this project raises on purpose."""


class SpecError(IsoAssetsError):
    """Raised when product.yaml is missing, unreadable or fails validation."""


class PartitionKeyError(IsoAssetsError):
    """Raised when a raw version string cannot become a `product_version` partition key."""


class ToolError(IsoAssetsError):
    """Raised when an external tool exits non-zero or times out; carries argv and stderr tail."""

    def __init__(self, message: str, *, argv: list[str], returncode: int | None, stderr: str = ""):
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class ToolMissingError(ToolError):
    """Raised when an external tool is not installed (exit 127 / not on PATH)."""


class StoreError(IsoAssetsError):
    """Raised when the artifact store cannot read or write an object."""


class IntegrityError(StoreError):
    """Raised when stored or downloaded bytes do not match their recorded sha256."""


class MirrorError(IsoAssetsError):
    """Raised when an upstream repo cannot be mirrored (unreachable, bad metadata)."""


class ChecksumMismatchError(MirrorError):
    """Raised when a downloaded file's checksum differs from the one its metadata lists."""


class SignatureError(MirrorError):
    """Raised when a package is unsigned or signed with a key the repo policy does not allow."""


class RepodataError(IsoAssetsError):
    """Raised when repodata cannot be generated or does not match the packages on disk."""


class RootfsError(IsoAssetsError):
    """Raised when the rootfs cannot be assembled (missing base, failed rpm install)."""


class KickstartError(IsoAssetsError):
    """Raised when the kickstart fails validation; `findings` lists every problem found."""

    def __init__(self, message: str, findings: list[object] | None = None):
        super().__init__(message)
        self.findings = findings or []


class IsoBuildError(IsoAssetsError):
    """Raised when the ISO cannot be built or its structure check fails."""
