"""Group (comps) and modules metadata: find them in repomd.xml in any form, unpack, parse.

A repomd.xml may list the group file as `group` (plain, or compressed by createrepo_c >= 1.0),
`group_gz`, `group_zst`, `group_xz` or `group_bz2`; modules likewise. Consumers here never
depend on which form a given createrepo_c wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import createrepo_c as cr
import libcomps

from iso_assets.errors import RepodataError
from iso_assets.mirror.repomd import Repomd, RepomdRecord

log = logging.getLogger(__name__)

# Preference order: the plain record first (cheapest), then compressed variants. zchunk
# variants are not listed: the createrepo_c wheel cannot unpack them, and every repo that
# has one also lists a non-zchunk record.
GROUP_TYPES = ("group", "group_gz", "group_zst", "group_xz", "group_bz2")
MODULES_TYPES = ("modules", "modules_gz", "modules_zst", "modules_xz", "modules_bz2")


@dataclass(frozen=True)
class CompsIds:
    groups: frozenset[str]
    environments: frozenset[str]


def find_record(repomd: Repomd, types: tuple[str, ...]) -> RepomdRecord | None:
    """The first record of `types` (in preference order) that repomd.xml lists."""
    for data_type in types:
        record = repomd.record(data_type)
        if record is not None:
            return record
    return None


def unpack_record(repo_dir: Path, record: RepomdRecord, dest: Path) -> Path:
    """Write the decompressed content of `record` (plain or compressed) to `dest`."""
    source = repo_dir / record.href
    if not source.is_file():
        raise RepodataError(
            f"{repo_dir}: repomd.xml lists {record.type} at {record.href}, but the file is "
            f"missing; re-mirror the repo's metadata"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        cr.decompress_file(str(source), str(dest), cr.AUTO_DETECT_COMPRESSION)
    except Exception as exc:  # createrepo_c raises its own CreaterepoCError
        raise RepodataError(f"{source}: cannot decompress {record.type} ({exc})") from exc
    return dest


def read_comps_ids(comps_xml: Path) -> CompsIds:
    """Group and environment ids of an uncompressed comps.xml, parsed with libcomps."""
    comps = libcomps.Comps()
    try:
        # fromxml_f returns a count of non-fatal problems; it raises on input that is not
        # XML, such as a compressed file handed on as plain group data (cobbler #3914).
        comps.fromxml_f(str(comps_xml))
    except Exception as exc:  # libcomps raises its own ParserError, or OSError
        raise RepodataError(f"{comps_xml}: not a readable comps file ({exc})") from exc
    return CompsIds(
        groups=frozenset(group.id for group in comps.groups),
        environments=frozenset(env.id for env in comps.environments),
    )
