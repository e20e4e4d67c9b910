"""Post-build inspection of a finished ISO, without mounting it.

Each `check_*` returns the problems it found (empty: fine); `inspect_iso` runs them all and
raises IsoBuildError listing every problem. The checks encode the ways installer ISOs are
known to break: a missing UEFI El Torito entry, an empty system area (no USB boot), files
silently left out, and a label that differs between the volume id, the kernel command line,
GRUB's search and the grub.cfg inside efiboot.img.
"""

from __future__ import annotations

import logging
import re
import shlex
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from iso_assets.errors import IsoBuildError
from iso_assets.iso.bootconfig import GRUB_CFG, ISOLINUX_CFG
from iso_assets.iso.efiboot import EFIBOOT_IMAGE
from iso_assets.iso.label import unescape_label
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

VOLUME_ID_OFFSET = 32808  # PVD at sector 16 (32768) + 40
SECTOR = 512
MBR_PARTITIONS = 446
EFI_SYSTEM = 0xEF
# "El Torito boot img :   1  BIOS  y   none ..."
# "El Torito img path :   1  /isolinux/isolinux.bin"
ELTORITO_IMG = re.compile(r"^El Torito boot img\s*:\s*(\d+)\s+(\S+)")
ELTORITO_PATH = re.compile(r"^El Torito img path\s*:\s*(\d+)\s+(.+)$")
HD_LABEL = re.compile(r"hd:LABEL=([^\s:'\"]+)")
KERNEL_LINE_WORDS = {"linux", "linuxefi", "linux16", "append"}


@dataclass(frozen=True)
class BootEntry:
    platform: Literal["BIOS", "UEFI"] | str
    path: str


def read_el_torito(iso: Path) -> list[BootEntry]:
    """The El Torito boot entries as `xorriso -report_el_torito plain` lists them."""
    result = run_tool(["xorriso", "-indev", str(iso), "-report_el_torito", "plain"])
    platforms: dict[str, str] = {}
    paths: dict[str, str] = {}
    for line in result.stdout.decode(errors="replace").splitlines():
        if match := ELTORITO_IMG.match(line):
            platforms[match.group(1)] = match.group(2)
        elif match := ELTORITO_PATH.match(line):
            paths[match.group(1)] = match.group(2).strip()
    return [BootEntry(platforms[n], paths.get(n, "")) for n in sorted(platforms, key=int)]


def check_boot_entries(iso: Path, *, bios: bool = True, uefi: bool = True) -> list[str]:
    entries = read_el_torito(iso)
    platforms = {entry.platform for entry in entries}
    problems = []
    if bios and "BIOS" not in platforms:
        problems.append(
            f"{iso.name}: no BIOS El Torito entry (platform_id 0x00); expected "
            f"-b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table"
        )
    if uefi and "UEFI" not in platforms:
        problems.append(
            f"{iso.name}: no UEFI El Torito entry (platform_id 0xef); expected "
            f"-eltorito-alt-boot -e {EFIBOOT_IMAGE} -no-emul-boot"
        )
    return problems


def check_system_area(iso: Path) -> list[str]:
    """The first sectors must make the ISO a disk image too: an MBR with boot code for BIOS
    USB boot and a GPT or an EFI System (0xef) MBR partition for UEFI USB boot."""
    with iso.open("rb") as handle:
        head = handle.read(2 * SECTOR)
    has_mbr = head[510:512] == b"\x55\xaa" and any(head[:440])
    has_gpt = head[SECTOR : SECTOR + 8] == b"EFI PART"
    mbr_types = [head[MBR_PARTITIONS + 16 * n + 4] for n in range(4)] if has_mbr else []
    if not has_mbr and not has_gpt:
        return [
            f"{iso.name} is not hybrid: no MBR/GPT in system area; USB (dd) boot will fail. "
            f"Add -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -isohybrid-gpt-basdat"
        ]
    problems = []
    if not has_mbr:
        problems.append(
            f"{iso.name} has no MBR boot code; BIOS USB (dd) boot will fail. "
            f"Add -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin"
        )
    if not has_gpt and EFI_SYSTEM not in mbr_types:
        problems.append(
            f"{iso.name} has neither a GPT nor an EFI System (0xef) MBR partition; UEFI USB "
            f"(dd) boot will fail. Add -isohybrid-gpt-basdat"
        )
    return problems


def list_iso_files(iso: Path) -> set[str]:
    """Paths of the regular files in the ISO (Rock Ridge names), relative, without '/'."""
    result = run_tool(["xorriso", "-indev", str(iso), "-find", "/", "-type", "f"])
    files = set()
    for line in result.stdout.decode(errors="surrogateescape").splitlines():
        if line.strip():
            # xorriso quotes each path shell-style: '/a/it'"'"'s'
            files.add(shlex.split(line)[0].lstrip("/"))
    return files


def check_file_list(iso: Path, expected_paths: Iterable[str]) -> list[str]:
    """The ISO holds exactly the layout's files (the boot catalog is not listed)."""
    expected = set(expected_paths)
    present = list_iso_files(iso)
    problems = []
    if missing := sorted(expected - present):
        problems.append(
            f"{iso.name} is missing {_count(missing)} present in staging: {', '.join(missing)}"
        )
    if extra := sorted(present - expected):
        problems.append(f"{iso.name} has {_count(extra)} not in the layout: {', '.join(extra)}")
    return problems


def read_volume_id(iso: Path) -> str:
    with iso.open("rb") as handle:
        handle.seek(VOLUME_ID_OFFSET)
        return handle.read(32).decode("ascii", errors="replace").rstrip(" \x00")


def check_label_text(name: str, text: str, volume_id: str) -> list[str]:
    """Label problems in one boot config (isolinux.cfg or grub.cfg), usable before a build.

    Every hd:LABEL= and every GRUB `search -l/--label` (or search.fs_label) must equal
    `volume_id` after un-escaping \\x20; every kernel line must carry inst.stage2 and inst.ks
    on that label; a GRUB config must search the label at all (or root stays on the FAT).
    """
    problems = []
    searched = False
    for number, line in enumerate(text.splitlines(), start=1):
        words = _words(line)
        if not words:
            continue
        for match in HD_LABEL.finditer(line):
            label = unescape_label(match.group(1))
            if label != volume_id:
                problems.append(f"{name}:{number} hd:LABEL '{label}' != volume id '{volume_id}'")
        if (search_label := _search_label(words)) is not None:
            searched = True
            if unescape_label(search_label) != volume_id:
                problems.append(
                    f"{name}:{number} search label '{unescape_label(search_label)}' != "
                    f"volume id '{volume_id}'"
                )
        keyword = words[0].lower()
        if keyword in KERNEL_LINE_WORDS and not (keyword == "append" and _is_global(text, number)):
            for key, value in (("inst.stage2", ""), ("inst.ks", ":/ks.cfg")):
                if not any(word.startswith(f"{key}=") for word in words):
                    problems.append(
                        f"{name}:{number} boot entry lacks {key}=hd:LABEL={volume_id}{value}"
                    )
    if "menuentry" in text and not searched:
        problems.append(
            f"{name}: no 'search --label {volume_id}' line; GRUB would look for the kernel on "
            f"the EFI image instead of the ISO"
        )
    return problems


def check_labels(iso: Path, volume_id: str, *, bios: bool = True, uefi: bool = True) -> list[str]:
    """The volume id and every label occurrence in the boot configs on the ISO, including the
    grub.cfg inside efiboot.img (which must be the same file as EFI/BOOT/grub.cfg)."""
    problems = []
    actual = read_volume_id(iso)
    if actual != volume_id:
        problems.append(f"{iso.name} volume id '{actual}' != expected volume id '{volume_id}'")

    present = list_iso_files(iso)
    wanted = ([ISOLINUX_CFG] if bios else []) + ([GRUB_CFG, EFIBOOT_IMAGE] if uefi else [])
    with tempfile.TemporaryDirectory(prefix="iso-inspect-") as scratch:
        for iso_path in sorted(set(wanted) - present):
            problems.append(f"{iso.name} has no {iso_path}")
        if found := [iso_path for iso_path in wanted if iso_path in present]:
            extract = ["xorriso", "-osirrox", "on", "-indev", str(iso)]
            for iso_path in found:
                extract += ["-extract", f"/{iso_path}", str(Path(scratch) / Path(iso_path).name)]
            run_tool(extract)
        texts: dict[str, str] = {}
        for iso_path in (ISOLINUX_CFG, GRUB_CFG):
            local = Path(scratch) / Path(iso_path).name
            if local.is_file():
                texts[iso_path] = local.read_text(errors="replace")
        efiboot = Path(scratch) / Path(EFIBOOT_IMAGE).name
        if efiboot.is_file():
            inner = run_tool(["mtype", "-i", str(efiboot), f"::/{GRUB_CFG}"], check=False)
            if inner.returncode != 0:
                problems.append(f"{EFIBOOT_IMAGE} has no {GRUB_CFG}; UEFI boot stops at grub>")
            else:
                inner_text = inner.stdout.decode(errors="replace")
                texts[f"efiboot.img:{GRUB_CFG}"] = inner_text
                if GRUB_CFG in texts and inner_text != texts[GRUB_CFG]:
                    problems.append(
                        f"efiboot.img:{GRUB_CFG} differs from {GRUB_CFG} on the ISO; build "
                        f"efiboot.img from the same grub.cfg"
                    )
    for name, text in texts.items():
        label_source = name if name.startswith("efiboot.img:") else Path(name).name
        problems += check_label_text(label_source, text, volume_id)
    return problems


def inspect_iso(
    iso: Path,
    *,
    expected_paths: Iterable[str],
    volume_id: str,
    bios: bool = True,
    uefi: bool = True,
) -> None:
    """Run every check; raise IsoBuildError listing all problems found."""
    problems = check_boot_entries(iso, bios=bios, uefi=uefi)
    if bios or uefi:  # a data-only image has no reason to be a disk image too
        problems += check_system_area(iso)
    problems += check_file_list(iso, expected_paths)
    problems += check_labels(iso, volume_id, bios=bios, uefi=uefi)
    if problems:
        raise IsoBuildError("\n".join(problems))
    log.info("%s passed inspection: El Torito, system area, file list, labels", iso.name)


def _count(paths: list[str]) -> str:
    return f"{len(paths)} file" if len(paths) == 1 else f"{len(paths)} files"


def _words(line: str) -> list[str]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return []
    try:
        return shlex.split(stripped, posix=True)
    except ValueError:  # an unbalanced quote: fall back to plain words
        return stripped.split()


def _search_label(words: list[str]) -> str | None:
    """The label a GRUB `search` line looks for, or None when it is not a label search."""
    if words[0] == "search.fs_label":
        positional = [word for word in words[1:] if not word.startswith("-")]
        return positional[0] if positional else ""
    if words[0] != "search" or not {"-l", "--label"} & set(words[1:]):
        return None
    # Options take their values with '=' (--set=root, --hint=...); the first bare word is
    # the name searched for.
    positional = [word for word in words[1:] if not word.startswith("-")]
    return positional[0] if positional else ""


def _is_global(text: str, number: int) -> bool:
    """True for an isolinux `append` before the first `label` (a default, not an entry)."""
    for line in text.splitlines()[: number - 1]:
        if line.strip().lower().startswith("label "):
            return False
    return True
