"""SHA256SUMS files in coreutils `sha256sum` format: `<hex>  <name>` a line.

A name holding a backslash or newline is written the way coreutils writes it: the line
starts with '\\' and the name escapes '\\' as '\\\\' and newline as '\\n'. Hashing is done in
Python (hashlib is about 6x faster than coreutils sha256sum here).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from iso_assets.artifacts import sha256_file
from iso_assets.errors import IntegrityError

log = logging.getLogger(__name__)

HEX64 = re.compile(r"[0-9a-f]{64}")
SUMS_LINE = re.compile(r"^(\\?)([0-9a-fA-F]{64}) [ *](.+)$")


def sha256sums_line(sha256: str, file_name: str) -> str:
    """One line of a SHA256SUMS file, newline included."""
    if not HEX64.fullmatch(sha256):
        raise IntegrityError(f"{file_name}: {sha256!r} is not a lowercase hex sha256 digest")
    if "\\" in file_name or "\n" in file_name:
        escaped = file_name.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{sha256}  {escaped}\n"
    return f"{sha256}  {file_name}\n"


def write_sha256sums(path: Path, entries: Iterable[tuple[str, str]]) -> Path:
    """Write (sha256, file name) entries, sorted by name, to `path`."""
    text = "".join(sha256sums_line(sha256, name) for sha256, name in sorted(entries, key=_name))
    path.write_text(text)
    return path


def read_sha256sums(sums_file: Path) -> list[tuple[str, str]]:
    """(sha256, file name) entries of a SHA256SUMS file; raises IntegrityError on a bad line."""
    entries = []
    for number, line in enumerate(sums_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        match = SUMS_LINE.match(line)
        if not match:
            raise IntegrityError(f"{sums_file.name}:{number}: not a '<sha256>  <name>' line")
        escaped, sha256, name = match.groups()
        if escaped:
            name = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), name)
        entries.append((sha256.lower(), name))
    return entries


def verify_sha256sums(sums_file: Path, directory: Path) -> list[str]:
    """Check every file named in `sums_file` under `directory`; return the names checked.

    Raises IntegrityError naming each missing or mismatching file (all of them, not the first).
    """
    started = time.monotonic()
    entries = read_sha256sums(sums_file)
    if not entries:
        raise IntegrityError(f"{sums_file} lists no files")
    problems = []
    for sha256, name in entries:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"{name}: names a file outside {directory}")
            continue
        target = directory / relative
        if not target.is_file():
            problems.append(f"{name}: listed in {sums_file.name} but missing in {directory}")
            continue
        actual, _size = sha256_file(target)
        if actual != sha256:
            problems.append(f"{name}: sha256 {actual} != {sha256} listed in {sums_file.name}")
    if problems:
        raise IntegrityError("; ".join(problems))
    log.info(
        "verified %d files against %s in %.2f s",
        len(entries),
        sums_file.name,
        time.monotonic() - started,
    )
    return [name for _sha256, name in entries]


def _name(entry: tuple[str, str]) -> str:
    return entry[1]
