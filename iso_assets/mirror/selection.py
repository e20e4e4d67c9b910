"""Choose which of an upstream repo's packages to mirror: names, arches, newest N."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from iso_assets.mirror.repomd import PackageEntry
from iso_assets.rpm.evr import evr_sort_key


@dataclass(frozen=True)
class Selection:
    kept: list[PackageEntry]
    foreign_arch: list[PackageEntry] = field(default_factory=list)
    unwanted_name: list[PackageEntry] = field(default_factory=list)
    superseded: list[PackageEntry] = field(default_factory=list)

    @property
    def dropped(self) -> list[PackageEntry]:
        return [*self.foreign_arch, *self.unwanted_name, *self.superseded]


def is_wanted_name(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """An empty include list means every name; exclude wins over include."""
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


def select_packages(
    packages: Sequence[PackageEntry],
    *,
    allowed_arches: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    keep_newest: int | None = None,
) -> Selection:
    """Split `packages` into kept and dropped (by arch, by name, by retention), in that order."""
    foreign = [p for p in packages if p.arch not in allowed_arches]
    native = [p for p in packages if p.arch in allowed_arches]
    unwanted = [p for p in native if not is_wanted_name(p.name, include, exclude)]
    wanted = [p for p in native if is_wanted_name(p.name, include, exclude)]
    if keep_newest is None:
        return Selection(kept=wanted, foreign_arch=foreign, unwanted_name=unwanted)

    builds: dict[tuple[str, str], list[PackageEntry]] = defaultdict(list)
    for package in wanted:
        builds[(package.name, package.arch)].append(package)
    newest: set[int] = set()
    for group in builds.values():
        ordered = sorted(group, key=lambda p: evr_sort_key(p.evr), reverse=True)
        newest.update(id(p) for p in ordered[:keep_newest])
    return Selection(
        kept=[p for p in wanted if id(p) in newest],
        foreign_arch=foreign,
        unwanted_name=unwanted,
        superseded=[p for p in wanted if id(p) not in newest],
    )
