"""The kickstart stage: render ks.cfg from the product spec and validate it for its release."""

from iso_assets.kickstart.bootargs import lint_boot_args
from iso_assets.kickstart.findings import Finding, raise_on_errors
from iso_assets.kickstart.render import (
    INSTALL_OK_MARKER,
    install_marker,
    render_kickstart,
    root_password_hash_from_env,
)
from iso_assets.kickstart.validate import validate_kickstart

__all__ = [
    "INSTALL_OK_MARKER",
    "Finding",
    "install_marker",
    "lint_boot_args",
    "raise_on_errors",
    "render_kickstart",
    "root_password_hash_from_env",
    "validate_kickstart",
]
