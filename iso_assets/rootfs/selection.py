"""Pick the RPM files to install: per package name, the newest EVR (read from headers)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cmp_to_key
from pathlib import Path

from iso_assets.errors import RootfsError
from iso_assets.rpm.evr import compare_evr, evr_of
from iso_assets.rpm.header import RpmHeader, read_rpm_header

log = logging.getLogger(__name__)


def select_newest(rpm_paths: Iterable[Path], names: Iterable[str]) -> list[Path]:
    """The newest build of each package in `names`, in the order `names` gives them.

    Versions come from the RPM headers, never from file names; source RPMs are ignored.
    Raises RootfsError naming every package that none of `rpm_paths` carries.
    """
    wanted = list(dict.fromkeys(names))
    candidates: dict[str, list[tuple[RpmHeader, Path]]] = {name: [] for name in wanted}
    paths = sorted(rpm_paths)
    for path in paths:
        header = read_rpm_header(path)
        if header.name in candidates and not header.is_source:
            candidates[header.name].append((header, path))

    missing = [name for name in wanted if not candidates[name]]
    if missing:
        raise RootfsError(
            f"rootfs.packages: no RPM named {', '.join(repr(n) for n in missing)} among the "
            f"{len(paths)} RPM files given; check the name in product.yaml or mirror the repo "
            f"that carries it"
        )

    chosen = []
    for name in wanted:
        # Stable sort on sorted paths: among equal EVRs the first path wins, every time.
        ranked = sorted(candidates[name], key=cmp_to_key(newest_first))
        header, path = ranked[0]
        if len(ranked) > 1:
            log.info("rootfs: %s chosen as newest of %d builds", header.nevra, len(ranked))
        chosen.append(path)
    return chosen


def newest_first(left: tuple[RpmHeader, Path], right: tuple[RpmHeader, Path]) -> int:
    return compare_evr(evr_of(right[0]), evr_of(left[0]))
