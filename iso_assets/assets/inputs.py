"""Inputs that several assets share: product RPMs of a version, tool versions."""

from __future__ import annotations

import functools

from iso_assets.process import tool_version
from iso_assets.product_rpms import ProductRpm, product_rpms_for_version
from iso_assets.spec.models import ProductSpec


def product_rpm_inputs(spec: ProductSpec, version: str) -> tuple[list[ProductRpm], list[str]]:
    """The version's product RPMs and their sha256s (for input digests)."""
    rpms = product_rpms_for_version(spec, version)
    return rpms, sorted(rpm.header.sha256 for rpm in rpms)


@functools.cache
def tool_versions(*tools: str) -> dict[str, str]:
    """First version line of each tool, so a tool upgrade changes the input digest."""
    flags = {"createrepo_c": "--version", "xorriso": "-version", "mkfs.fat": "--help"}
    return {tool: tool_version([tool, flags.get(tool, "--version")]) for tool in tools}
