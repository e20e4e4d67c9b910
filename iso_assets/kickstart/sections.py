"""Split kickstart text into its %sections with line numbers.

pykickstart keeps no line numbers for %packages items or script lines, and the lint rules
must name the line, so the sections are scanned here as well. The scan mirrors pykickstart's
state machine: a section starts at a line whose first word is a known section name and ends
at `%end`; inside a script, other lines beginning with `%` are script text.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

SECTION_NAMES = frozenset(
    {
        "%packages",
        "%pre",
        "%pre-install",
        "%post",
        "%onerror",
        "%traceback",
        "%addon",
        "%anaconda",
        "%certificate",
    }
)


@dataclass(frozen=True)
class Section:
    name: str
    header_args: list[str]
    line: int
    body: list[tuple[int, str]] = field(default_factory=list)

    def option(self, *names: str) -> str | None:
        """Value of a header option given as `--opt=value` or `--opt value`."""
        args = self.header_args
        for index, arg in enumerate(args):
            key, sep, value = arg.partition("=")
            if key in names:
                if sep:
                    return value
                if index + 1 < len(args) and not args[index + 1].startswith("--"):
                    return args[index + 1]
        return None

    def has_flag(self, name: str) -> bool:
        return any(arg == name or arg.startswith(name + "=") for arg in self.header_args)

    @property
    def label(self) -> str:
        """How messages name the section, e.g. `%post --nochroot` or `%post (chroot)`."""
        if self.name == "%post":
            return "%post --nochroot" if self.has_flag("--nochroot") else "%post (chroot)"
        return self.name


def _split_header(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def split_sections(text: str) -> list[Section]:
    """Every %section of `text` in order, each with its header line and numbered body lines."""
    sections: list[Section] = []
    current: Section | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        first = words[0] if words else ""
        if current is not None:
            if first == "%end":
                current = None
                continue
            if first not in SECTION_NAMES:
                current.body.append((lineno, line))
                continue
            # An unterminated section: pykickstart reports it; start the next one here.
        if first in SECTION_NAMES:
            current = Section(name=first, header_args=_split_header(line)[1:], line=lineno)
            sections.append(current)
    return sections


def directive_lines(text: str, directive: str) -> list[int]:
    """Lines whose first word is `directive` (e.g. `%include`), wherever they are."""
    return [
        lineno
        for lineno, line in enumerate(text.splitlines(), start=1)
        if line.split()[:1] == [directive]
    ]
