"""Follow a console log QEMU is still writing: complete lines only, terminal codes removed.

OVMF and GRUB draw on the serial console with ANSI cursor and colour sequences; a marker
search and a report want the plain text.
"""

from __future__ import annotations

import re
from pathlib import Path

ANSI_SEQUENCE = re.compile(r"\x1b(\[[0-9;=?]*[A-Za-z]|[()][A-Z0-9]|[=>])")


def clean_line(raw: str) -> str:
    """`raw` without terminal escape sequences, carriage returns or trailing blanks."""
    return ANSI_SEQUENCE.sub("", raw).replace("\r", "").replace("\x00", "").rstrip()


class LogFollower:
    """Hands out the lines appended to `path` since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self, *, final: bool = False) -> list[str]:
        """Cleaned complete lines written since the last call; with `final` (the writer has
        exited) the unterminated last line too. Empty lines are dropped."""
        if self.path.is_file():
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
            self._offset += len(chunk)
            self._partial += chunk
        *complete, self._partial = self._partial.split(b"\n")
        if final and self._partial:
            complete.append(self._partial)
            self._partial = b""
        lines = (clean_line(raw.decode(errors="replace")) for raw in complete)
        return [line for line in lines if line.strip()]


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` non-empty cleaned lines of `path` ([] when it does not exist)."""
    if not path.is_file():
        return []
    lines = (clean_line(raw) for raw in path.read_text(errors="replace").split("\n"))
    return [line for line in lines if line.strip()][-count:]
