"""RPM version comparison (rpmvercmp semantics), for picking the newest build."""

from __future__ import annotations

import re
from typing import Protocol

SEGMENT = re.compile(r"(\d+|[A-Za-z]+|~|\^)")


class HasEvr(Protocol):
    epoch: str
    version: str
    release: str


def rpmvercmp(left: str, right: str) -> int:
    """Compare two version (or release) strings the way rpm does: -1, 0 or 1."""
    if left == right:
        return 0
    a_parts, b_parts = SEGMENT.findall(left), SEGMENT.findall(right)
    while a_parts or b_parts:
        a = a_parts.pop(0) if a_parts else None
        b = b_parts.pop(0) if b_parts else None
        # '~' sorts before everything (even the end), '^' after the end but before more parts.
        if a == "~" or b == "~":
            if a != b:
                return -1 if a == "~" else 1
            continue
        if a == "^" or b == "^":
            if a is None:
                return -1
            if b is None:
                return 1
            if a != b:
                return -1 if a == "^" else 1
            continue
        if a is None:
            return -1
        if b is None:
            return 1
        if a.isdigit() != b.isdigit():
            return 1 if a.isdigit() else -1
        if a.isdigit():
            a_num, b_num = int(a), int(b)
            if a_num != b_num:
                return 1 if a_num > b_num else -1
        elif a != b:
            return 1 if a > b else -1
    return 0


def compare_evr(left: HasEvr, right: HasEvr) -> int:
    """Compare epoch, then version, then release."""
    epochs = int(left.epoch or 0) - int(right.epoch or 0)
    if epochs:
        return 1 if epochs > 0 else -1
    return rpmvercmp(left.version, right.version) or rpmvercmp(left.release, right.release)
