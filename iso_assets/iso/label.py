"""The ISO volume label policy.

One string is the ISO 9660 volume id, the `hd:LABEL=` of `inst.stage2`/`inst.ks` on the kernel
command line and GRUB's `search --label`; dracut finds it through udev's by-label links. So
the label must fit xorriso's 32-character limit and survive the kernel command line unescaped.
"""

from __future__ import annotations

import logging
import re

from iso_assets.errors import IsoBuildError

log = logging.getLogger(__name__)

MAX_VOLUME_ID = 32
# Safe on the kernel command line, in GRUB and in udev's by-label names without escaping.
ALLOWED = re.compile(r"[A-Za-z0-9._-]")
# ISO 9660 d-characters, plus '-' which every xorriso version accepts without a warning.
D_CHARACTERS = re.compile(r"[A-Z0-9_-]")
HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


def validate_volume_id(label: str, *, field: str = "iso.volume_id") -> list[str]:
    """Warnings for an acceptable label; raises IsoBuildError for one that cannot work.

    Rejected: empty, longer than 32 characters, or any character outside [A-Za-z0-9._-]
    (spaces above all). Warned: lowercase letters and '.', which are not ISO 9660
    d-characters (xorriso warns; the label then must be used byte-identically everywhere).
    """
    if not label:
        raise IsoBuildError(f"{field} is empty; set a volume id of 1 to {MAX_VOLUME_ID} characters")
    if len(label) > MAX_VOLUME_ID:
        raise IsoBuildError(
            f"{field} {label!r} is {len(label)} characters; ISO 9660 volume IDs are at most "
            f"{MAX_VOLUME_ID} and the same string is used in inst.stage2/inst.ks hd:LABEL="
        )
    bad = sorted({char for char in label if not ALLOWED.fullmatch(char)})
    if bad:
        shown = ", ".join("space" if char == " " else repr(char) for char in bad)
        raise IsoBuildError(
            f"{field} {label!r} contains {shown}; use only A-Z a-z 0-9 . _ - because the label "
            f"goes unescaped into inst.stage2/inst.ks hd:LABEL= and GRUB's search --label"
        )
    odd = sorted({char for char in label if not D_CHARACTERS.fullmatch(char)})
    if not odd:
        return []
    warning = (
        f"{field} {label!r} has characters that are not ISO 9660 d-characters "
        f"({', '.join(repr(char) for char in odd)}); xorriso warns and every hd:LABEL= and "
        f"search --label must use it byte-identically (A-Z 0-9 _ - avoid this)"
    )
    log.warning("%s", warning)
    return [warning]


def unescape_label(text: str) -> str:
    """A label as udev and GRUB spell it (`GNOME\\x20Next`) turned back into its bytes."""
    return HEX_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
