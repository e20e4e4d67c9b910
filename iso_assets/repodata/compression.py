"""Which metadata compression each target release can read, and the check that enforces it.

createrepo_c >= 1.0 defaults to zstd and writes the group file compressed only; EL7 yum reads
neither (createrepo_c #383, #403). So the compression is chosen per target release and
passed explicitly, never left to the build host's createrepo_c default, and the written
repomd.xml is checked afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import RepoMetadataError, read_repomd

log = logging.getLogger(__name__)

# href suffix -> compression name as createrepo_c spells it.
SUFFIX_COMPRESSION = {".gz": "gz", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zck": "zck"}


@dataclass(frozen=True)
class RepoCompression:
    """How one release's repodata is compressed.

    `plain_group`: the group (comps) record stays an uncompressed XML file, as EL7 yum and
    EL8-era consumers that hand the `group` file on unparsed (cobbler #3914) expect.
    `readable`: compressions this release's yum/dnf and installer can open.
    """

    release: str
    metadata: str
    plain_group: bool
    readable: frozenset[str]
    reader: str


COMPRESSION = {
    "el7": RepoCompression("el7", "gz", True, frozenset({"gz", "bz2"}), "EL7 yum"),
    # EL8 gained zstd in libsolv/librepo only in later minor releases: stay with gz.
    "el8": RepoCompression("el8", "gz", True, frozenset({"gz", "bz2", "xz"}), "EL8 dnf"),
    "el9": RepoCompression("el9", "zstd", False, frozenset({"gz", "bz2", "xz", "zstd"}), "EL9 dnf"),
    "el10": RepoCompression(
        "el10", "zstd", False, frozenset({"gz", "bz2", "xz", "zstd"}), "EL10 dnf"
    ),
}


def compression_for(release: str) -> RepoCompression:
    try:
        return COMPRESSION[release]
    except KeyError:
        raise RepodataError(
            f"no repodata compression known for release {release!r}; "
            f"use one of {sorted(COMPRESSION)}"
        ) from None


def compression_of(href: str) -> str | None:
    """Compression named by an href's suffix; None for a plain file."""
    return SUFFIX_COMPRESSION.get(Path(href).suffix)


def check_compression(repodata_dir: Path, release: str, *, repo_label: str | None = None) -> None:
    """Raise RepodataError when repomd.xml lists a file `release` cannot read.

    Looks only at the written repomd.xml (not at which createrepo_c made it). zchunk
    records are skipped: every consumer that cannot read them falls back to the plain
    record beside them. For releases that need it, the `group` record must be plain XML.
    """
    target = compression_for(release)
    label = repo_label or repodata_dir.parent.name
    try:
        repomd = read_repomd(repodata_dir / "repomd.xml")
    except (OSError, RepoMetadataError) as exc:
        raise RepodataError(f"repo {label}: cannot read repomd.xml ({exc})") from exc

    problems = []
    for record in repomd.records:
        used = compression_of(record.href)
        if used is None or used == "zck" or record.type.endswith("_zck"):
            continue
        if used not in target.readable:
            problems.append(
                f"repo {label}: {record.type} uses {used}, unreadable by {target.reader}; "
                f"use {target.metadata}"
            )
    group = repomd.record("group")
    if target.plain_group and group is not None and compression_of(group.href) is not None:
        problems.append(
            f"repo {label}: group metadata is {compression_of(group.href)}-compressed, "
            f"{target.reader} needs an uncompressed group record; regenerate with "
            f"plain_group compression"
        )
    if problems:
        raise RepodataError("\n".join(problems))
    log.info("repo %s: metadata compression readable by %s", label, target.reader)
