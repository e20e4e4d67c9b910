"""Build the hybrid ISO with xorriso, straight from where the files are (graft points).

Only xorriso: genisoimage/mkisofs silently drop deep directories or truncate sizes, so there
is no fallback. `layout` maps ISO paths to local files (typically a content-addressed cache);
`-graft-points -path-list` places them without a staging copy and stores a file grafted at
two ISO paths once. Dates are pinned (SOURCE_DATE_EPOCH, --modification-date,
--set_all_file_dates, the GPT GUID from the date), so one layout always gives the same bytes.
The image is written under a temporary name and renamed only after it was built, its media
checksum implanted and the post-build inspection passed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from iso_assets.artifacts import sha256_file
from iso_assets.errors import IsoBuildError, ToolError
from iso_assets.iso.efiboot import EFIBOOT_IMAGE
from iso_assets.iso.inspect import inspect_iso
from iso_assets.iso.label import validate_volume_id
from iso_assets.process import run_tool

log = logging.getLogger(__name__)

ISOHDPFX = Path("/usr/lib/ISOLINUX/isohdpfx.bin")
ISOLINUX_BIN = "isolinux/isolinux.bin"
BOOT_CATALOG = "isolinux/boot.cat"
ISO_LEVEL_2_MAX_FILE = 4 * 1024**3 - 1
GIB = 1024**3


@dataclass(frozen=True)
class IsoResult:
    path: Path
    sha256: str
    size: int
    volume_id: str
    iso_level: int
    iso_level_reason: str
    implanted_md5: bool
    warnings: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)


def bios_boot_files() -> dict[str, Path]:
    """The syslinux files BIOS boot needs on the ISO (ISO path -> Debian's copy)."""
    return {
        ISOLINUX_BIN: Path("/usr/lib/ISOLINUX/isolinux.bin"),
        "isolinux/ldlinux.c32": Path("/usr/lib/syslinux/modules/bios/ldlinux.c32"),
    }


def xorriso_argv(
    *,
    path_list: Path,
    out: Path,
    volume_id: str,
    iso_level: int,
    source_date_epoch: int,
    bios: bool = True,
    uefi: bool = True,
    hybrid: bool = True,
) -> list[str]:
    """The xorriso command building a BIOS+UEFI El Torito image, hybrid (MBR + GPT) for dd.

    No -J: Joliet truncates long names. Rock Ridge (-R) keeps full names and deep trees.
    """
    argv = ["xorriso", "-as", "mkisofs", "-o", str(out), "-V", volume_id]
    argv += ["-iso-level", str(iso_level), "-R"]
    if bios:
        if hybrid:
            argv += ["-isohybrid-mbr", str(ISOHDPFX)]
        argv += ["-c", BOOT_CATALOG, "-b", ISOLINUX_BIN, "-no-emul-boot"]
        argv += ["-boot-load-size", "4", "-boot-info-table"]
    if uefi:
        argv += ["-eltorito-alt-boot"] if bios else ["-c", "images/boot.cat"]
        argv += ["-e", EFIBOOT_IMAGE, "-no-emul-boot"]
        if hybrid:
            argv += ["-isohybrid-gpt-basdat"]
    stamp = datetime.fromtimestamp(source_date_epoch, tz=UTC).strftime("%Y%m%d%H%M%S00")
    argv += [f"--modification-date={stamp}", "--set_all_file_dates", f"={source_date_epoch}"]
    argv += ["--gpt_disk_guid", "modification-date"]
    argv += ["-graft-points", "-path-list", str(path_list)]
    return argv


def path_list_text(layout: Mapping[str, Path]) -> str:
    """One `/iso/path=/local/path` pathspec a line, sorted; '\\' and '=' escaped."""
    lines = [
        f"{_escape_pathspec('/' + iso_path)}={_escape_pathspec(str(source))}"
        for iso_path, source in sorted(layout.items())
    ]
    return "".join(f"{line}\n" for line in lines)


def choose_iso_level(
    file_sizes: Mapping[str, int], requested: Literal["auto", 2, 3]
) -> tuple[int, str]:
    """(level, reason): level 3 when any file is 4 GiB or larger (ISO 9660 level 1/2 cannot
    hold it; never -allow-limited-size); raises IsoBuildError when level 2 is forced."""
    large = sorted(path for path, size in file_sizes.items() if size > ISO_LEVEL_2_MAX_FILE)
    if requested == 3:
        return 3, "iso_level 3 set in the spec"
    if requested == 2:
        if large:
            raise IsoBuildError(
                f"{large[0]} is {file_sizes[large[0]] / GIB:.1f} GiB; ISO 9660 level 1/2 limit "
                f"is 4 GiB-1; enable iso_level: 3"
            )
        return 2, "iso_level 2 set in the spec"
    if large:
        return 3, f"auto: {large[0]} is {file_sizes[large[0]] / GIB:.1f} GiB (>= 4 GiB)"
    return 2, "auto: every file is below 4 GiB"


def build_iso(
    layout: Mapping[str, Path],
    out: Path,
    *,
    volume_id: str,
    source_date_epoch: int,
    iso_level: Literal["auto", 2, 3] = "auto",
    implant_md5: bool = True,
    bios: bool = True,
    uefi: bool = True,
) -> IsoResult:
    """Build `out` from `layout` (ISO path -> local file) and inspect it.

    Raises IsoBuildError when the label is invalid, a file is missing, xorriso is not
    installed or exits non-zero, or the finished image fails inspection (El Torito entries,
    hybrid system area, file list, labels); `out` is then left untouched.
    """
    started = time.monotonic()
    warnings = validate_volume_id(volume_id)
    sizes = _checked_sizes(layout, bios=bios, uefi=uefi)
    level, level_reason = choose_iso_level(sizes, iso_level)
    log.info("iso level %d: %s", level, level_reason)
    if shutil.which("xorriso") is None:
        raise IsoBuildError(
            "xorriso is not installed; the ISO is built only with xorriso (no genisoimage or "
            "mkisofs fallback, they drop deep trees silently): apt-get install xorriso"
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        partial = work / out.name
        path_list = work / "path-list"
        path_list.write_text(path_list_text(_resolved(layout)))
        argv = xorriso_argv(
            path_list=path_list,
            out=partial,
            volume_id=volume_id,
            iso_level=level,
            source_date_epoch=source_date_epoch,
            bios=bios,
            uefi=uefi,
        )
        try:
            run_tool(argv, env={"SOURCE_DATE_EPOCH": str(source_date_epoch)})
        except ToolError as exc:
            raise IsoBuildError(
                f"xorriso could not build {out.name}; no ISO written: {exc}"
            ) from exc
        implanted = _implant_md5(partial) if implant_md5 else False

        inspect_iso(partial, expected_paths=set(layout), volume_id=volume_id, bios=bios, uefi=uefi)
        sha256, size = sha256_file(partial)
        partial.replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    log.info(
        "built %s: %.1f MiB, %d files, sha256 %s, %.2f s",
        out.name,
        size / 1024**2,
        len(layout),
        sha256[:12],
        time.monotonic() - started,
    )
    return IsoResult(
        path=out,
        sha256=sha256,
        size=size,
        volume_id=volume_id,
        iso_level=level,
        iso_level_reason=level_reason,
        implanted_md5=implanted,
        warnings=warnings,
        argv=argv,
    )


def _checked_sizes(layout: Mapping[str, Path], *, bios: bool, uefi: bool) -> dict[str, int]:
    """File sizes by ISO path; raises IsoBuildError for a bad ISO path or missing file."""
    required = ([ISOLINUX_BIN] if bios else []) + ([EFIBOOT_IMAGE] if uefi else [])
    absent = [path for path in required if path not in layout]
    if absent:
        raise IsoBuildError(
            f"ISO layout lacks {', '.join(absent)}; BIOS boot needs bios_boot_files() and "
            f"UEFI boot needs images/efiboot.img from build_efiboot_image()"
        )
    sizes: dict[str, int] = {}
    for iso_path, source in layout.items():
        parts = PurePosixPath(iso_path).parts
        if not parts or iso_path.startswith("/") or ".." in parts or "\n" in iso_path:
            raise IsoBuildError(f"ISO path {iso_path!r} must be relative, without '..' or newline")
        if "\n" in str(source):
            raise IsoBuildError(f"{iso_path}: source path {source!r} holds a newline")
        if not source.is_file():
            raise IsoBuildError(f"{iso_path}: source file {source} does not exist")
        sizes[iso_path] = source.stat().st_size
    # xorriso exits 0 and silently drops the file when a path is also another's directory.
    parents = {str(parent) for iso_path in layout for parent in PurePosixPath(iso_path).parents}
    if clashes := sorted(parents & set(layout)):
        raise IsoBuildError(f"ISO path {clashes[0]} is both a file and a directory in the layout")
    return sizes


def _resolved(layout: Mapping[str, Path]) -> dict[str, Path]:
    # A cache may hand out symlinks; xorriso would store the link, not the file.
    return {iso_path: source.resolve() for iso_path, source in layout.items()}


def _escape_pathspec(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=")


def _implant_md5(iso: Path) -> bool:
    """Implant the media checksum anaconda's rd.live.check verifies; skipped when absent."""
    if shutil.which("implantisomd5") is None:
        log.info("implantisomd5 skipped: not installed (package isomd5sum)")
        return False
    run_tool(["implantisomd5", str(iso)])
    return True
