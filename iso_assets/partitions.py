"""The `product_version` dynamic partitions and the one function that makes their keys.

Keys are strings compared as strings (so `9.10` and `9.1` stay distinct); sorting by version
uses `version_sort_key`. Commas, whitespace and JSON are rejected because Dagster's UI and
backfills split or mangle such keys.
"""

from __future__ import annotations

import re

from dagster import DynamicPartitionsDefinition

from iso_assets.errors import PartitionKeyError

PARTITIONS_NAME = "product_version"
product_version_partitions = DynamicPartitionsDefinition(name=PARTITIONS_NAME)

MAX_KEY_LENGTH = 64
KEY_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+){1,3}(-[a-z0-9]+)?$")
KEY_RULE = "digits separated by dots, optional '-suffix' of [a-z0-9] (e.g. 1.0.0, 9.4-eus)"
# Distribution prefixes seen in upstream version strings; "RHEL-9.4" and "9.4" are one version.
KNOWN_PREFIXES = re.compile(r"^(?:v|rhel-|el|rocky-|alma-|centos-)(?=[0-9])", re.IGNORECASE)


def version_key(raw: str) -> str:
    """Return the canonical partition key for a raw version string, or raise PartitionKeyError."""
    if raw is None or not str(raw):
        raise PartitionKeyError("empty version string; a product version is required")
    text = str(raw)
    if text.lstrip().startswith(("{", "[")):
        raise PartitionKeyError(
            f"version {text!r}: JSON/dict-like keys not allowed; use the plain version; "
            f"rule: {KEY_RULE}"
        )
    if "," in text:
        raise PartitionKeyError(
            f"version {text!r}: ',' not allowed in partition keys (the Dagster UI splits on "
            f"commas and backfills of such keys cannot be launched); rule: {KEY_RULE}"
        )
    if any(ch.isspace() for ch in text):
        raise PartitionKeyError(f"version {text!r}: whitespace not allowed; rule: {KEY_RULE}")
    canonical = KNOWN_PREFIXES.sub("", text)
    if len(canonical) > MAX_KEY_LENGTH:
        raise PartitionKeyError(
            f"version {text!r} is {len(canonical)} characters; at most {MAX_KEY_LENGTH}"
        )
    if not KEY_PATTERN.match(canonical):
        raise PartitionKeyError(f"version {text!r} is not a valid product version; {KEY_RULE}")
    return canonical


def version_sort_key(key: str) -> tuple[tuple[int, ...], int, str]:
    """Sort key: numeric parts first; a release without suffix sorts after its suffixed ones."""
    base, _, suffix = key.partition("-")
    numbers = tuple(int(part) for part in base.split("."))
    return numbers, 0 if suffix else 1, suffix
