"""Parse `.treeinfo` (productmd format): which files make an installer tree, and their sums."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field

from iso_assets.errors import MirrorError
from iso_assets.mirror.repomd import check_relative_href


class TreeinfoError(MirrorError):
    """Raised when a .treeinfo cannot be parsed or lacks the kernel/initrd of its arch."""


@dataclass(frozen=True)
class InstallerTree:
    """The installer tree a .treeinfo describes; paths are relative to the tree root."""

    arch: str
    kernel: str
    initrd: str
    stage2: str | None
    efiboot: str | None
    release_name: str
    release_version: str
    # path -> "algorithm:hex", e.g. "sha256:37c3…"
    checksums: dict[str, str] = field(default_factory=dict)
    # Every file named anywhere ([images-*], [stage2], [checksums]), sorted: what to fetch.
    images: tuple[str, ...] = ()


def parse_treeinfo(text: str, *, source: str = ".treeinfo") -> InstallerTree:
    """An InstallerTree from .treeinfo text; raises TreeinfoError naming the missing key."""
    parser = configparser.ConfigParser(interpolation=None)
    # Keys are paths ("images/pxeboot/vmlinuz"): keep their case as written.
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise TreeinfoError(f"{source}: not a valid .treeinfo ({exc})") from exc

    arch = parser.get("tree", "arch", fallback=None) or parser.get("general", "arch", fallback="")
    if not arch:
        raise TreeinfoError(f"{source}: no arch in [tree] or [general]")
    images_section = f"images-{arch}"
    if not parser.has_section(images_section):
        raise TreeinfoError(f"{source}: no [{images_section}] section for the tree's arch")
    arch_images = parser[images_section]
    for key in ("kernel", "initrd"):
        if key not in arch_images:
            raise TreeinfoError(f"{source}: [{images_section}] has no {key} entry")

    images = {
        check_relative_href(path, source=source)
        for section in parser.sections()
        if section.startswith("images-")
        for path in parser[section].values()
    }
    stage2 = parser.get("stage2", "mainimage", fallback=None)
    if stage2:
        images.add(check_relative_href(stage2, source=source))
    checksums = dict(parser["checksums"]) if parser.has_section("checksums") else {}
    images.update(check_relative_href(path, source=source) for path in checksums)

    return InstallerTree(
        arch=arch,
        kernel=arch_images["kernel"],
        initrd=arch_images["initrd"],
        stage2=stage2,
        efiboot=arch_images.get("efiboot.img"),
        release_name=(
            parser.get("release", "name", fallback="")
            or parser.get("general", "family", fallback="")
        ),
        release_version=(
            parser.get("release", "version", fallback="")
            or parser.get("general", "version", fallback="")
        ),
        checksums=checksums,
        images=tuple(sorted(images)),
    )
