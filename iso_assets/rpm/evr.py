"""RPM version ordering (rpmvercmp and epoch:version-release), in pure Python.

The rpm Python bindings do not import in the project's interpreter (see TOOLCHAIN-NOTES), so
this follows rpm 4.18's rpmvercmp: alphanumeric segments, numbers newer than letters, `~`
sorts before anything (pre-releases), `^` after the base version but before any extension.
"""

from __future__ import annotations

import functools
import re

_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[A-Za-z]+")


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version (or release) string `a` is older, equal or newer than `b`."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _is_alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _is_alnum(b[j]) and b[j] not in "~^":
            j += 1

        a_char = a[i] if i < len(a) else ""
        b_char = b[j] if j < len(b) else ""
        if "~" in (a_char, b_char):
            if a_char != "~":
                return 1
            if b_char != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (a_char, b_char):
            if not a_char:
                return -1
            if not b_char:
                return 1
            if a_char != "^":
                return 1
            if b_char != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (a_char and b_char):
            break

        pattern = _DIGITS if a_char.isdigit() else _LETTERS
        a_match = pattern.match(a, i)
        b_match = pattern.match(b, j)
        assert a_match is not None  # a_char starts a segment of this kind
        if b_match is None:
            # A number is newer than letters; letters are older than a number.
            return 1 if pattern is _DIGITS else -1
        a_seg, b_seg = a_match.group(), b_match.group()
        i, j = a_match.end(), b_match.end()
        if pattern is _DIGITS:
            a_seg, b_seg = a_seg.lstrip("0"), b_seg.lstrip("0")
            if len(a_seg) != len(b_seg):
                return 1 if len(a_seg) > len(b_seg) else -1
        if a_seg != b_seg:
            return 1 if a_seg > b_seg else -1

    a_left, b_left = i < len(a), j < len(b)
    if not a_left and not b_left:
        return 0
    return 1 if a_left else -1


def compare_evr(a: tuple[str, str, str], b: tuple[str, str, str]) -> int:
    """Compare (epoch, version, release) triples the way rpm's labelCompare does."""
    epoch_a, epoch_b = int(a[0] or 0), int(b[0] or 0)
    if epoch_a != epoch_b:
        return 1 if epoch_a > epoch_b else -1
    return rpmvercmp(a[1], b[1]) or rpmvercmp(a[2], b[2])


evr_sort_key = functools.cmp_to_key(compare_evr)


def evr_of(package: object) -> tuple[str, str, str]:
    """(epoch, version, release) of anything with those attributes (RpmHeader, PackageEntry)."""
    return (
        str(getattr(package, "epoch", "") or ""),
        str(getattr(package, "version")),  # noqa: B009 - any object with the attribute
        str(getattr(package, "release")),  # noqa: B009
    )
