"""xorriso build: exact argv, ISO level pre-flight (case iso01), real hybrid builds that are
bit-identical on rebuild, and failures that leave no ISO behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iso_assets.errors import IsoBuildError
from iso_assets.iso.boottree import make_boot_tree
from iso_assets.iso.inspect import check_system_area, read_el_torito
from iso_assets.iso.xorriso import (
    bios_boot_files,
    build_iso,
    choose_iso_level,
    path_list_text,
    xorriso_argv,
)
from iso_assets.process import run_tool

EPOCH = 1700000000
VOLID = "ACME-9-4-X86_64"


def make_layout(root: Path) -> dict[str, Path]:
    """A tiny but complete installer layout: boot tree, ks.cfg, a package, odd names."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "vmlinuz": b"kernel" * 700,
        "initrd.img": b"initrd" * 500,
        "ks.cfg": b"text\nreboot\n",
        "pkg.rpm": b"rpm" * 300,
        "odd=name.txt": b"equals sign in a name\n",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    layout = make_boot_tree(
        root / "boot",
        volume_id=VOLID,
        title="ACME 9.4",
        kernel=root / "vmlinuz",
        initrd=root / "initrd.img",
        boot_args=["console=ttyS0,115200"],
        menu_timeout=5,
        source_date_epoch=EPOCH,
    )
    layout["ks.cfg"] = root / "ks.cfg"
    layout["BaseOS/Packages/p/pkg-1.0-1.el9.x86_64.rpm"] = root / "pkg.rpm"
    layout["extras/odd=name.txt"] = root / "odd=name.txt"
    return layout


def test_argv_is_the_hybrid_form_with_fixed_dates() -> None:
    argv = xorriso_argv(
        path_list=Path("/w/path-list"),
        out=Path("/w/out.iso"),
        volume_id=VOLID,
        iso_level=2,
        source_date_epoch=EPOCH,
    )
    assert argv == [
        "xorriso", "-as", "mkisofs", "-o", "/w/out.iso", "-V", VOLID, "-iso-level", "2", "-R",
        "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin",
        "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin", "-no-emul-boot",
        "-boot-load-size", "4", "-boot-info-table",
        "-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat",
        "--modification-date=2023111422132000", "--set_all_file_dates", "=1700000000",
        "--gpt_disk_guid", "modification-date",
        "-graft-points", "-path-list", "/w/path-list",
    ]  # fmt: skip
    assert "-J" not in argv


def test_argv_without_hybrid_or_uefi() -> None:
    argv = xorriso_argv(
        path_list=Path("p"), out=Path("o"), volume_id="X", iso_level=3, source_date_epoch=0,
        uefi=False, hybrid=False,
    )  # fmt: skip
    assert "-isohybrid-mbr" not in argv and "-e" not in argv and "-eltorito-alt-boot" not in argv
    assert argv[argv.index("-iso-level") + 1] == "3"
    assert "--modification-date=1970010100000000" in argv


def test_path_list_escapes_equals_and_backslash() -> None:
    text = path_list_text({"b/x=y": Path("/c/a=b"), "a\\b": Path("/c/d")})
    assert text == "/a\\\\b=/c/d\n/b/x\\=y=/c/a\\=b\n"


def test_iso_level_auto_keeps_2_for_small_files() -> None:
    assert choose_iso_level({"a": 10, "b": 4 * 1024**3 - 1}, "auto") == (
        2,
        "auto: every file is below 4 GiB",
    )
    assert choose_iso_level({"a": 10}, 3)[0] == 3


def run_make_tree(script: Path, cwd: Path) -> Path:
    run_tool(["bash", script], cwd=cwd)
    return cwd / "staging"


def check_level_with_xorriso(staging: Path, tmp_path: Path, level: int) -> int:
    """Exit code of xorriso sizing the tree with our argv at `level` (-print-size: no write)."""
    layout = {str(p.relative_to(staging)): p for p in staging.rglob("*") if p.is_file()}
    path_list = tmp_path / f"path-list-{level}"
    path_list.write_text(path_list_text(layout))
    argv = xorriso_argv(
        path_list=path_list, out=Path("unused"), volume_id=VOLID, iso_level=level,
        source_date_epoch=EPOCH, bios=False, uefi=False,
    )  # fmt: skip
    at = argv.index("-o")
    argv[at : at + 2] = ["-print-size"]
    return run_tool(argv, check=False).returncode


@pytest.mark.parametrize("source", ["case", "self-made"])
def test_file_over_4gib_switches_to_level_3(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if source == "case":
        shared = request.getfixturevalue("shared_dir")
        staging = run_make_tree(shared / "cases/iso01-file-over-4gib/make_tree.sh", tmp_path)
        big = "LiveOS/squashfs.img"
    else:
        staging = tmp_path / "staging"
        (staging / "images").mkdir(parents=True)
        big = "images/install.img"
        with (staging / big).open("wb") as handle:
            handle.truncate(4 * 1024**3)  # sparse: exactly 4 GiB, one byte over the limit
    files = [path for path in staging.rglob("*") if path.is_file()]
    sizes = {str(path.relative_to(staging)): path.stat().st_size for path in files}

    level, reason = choose_iso_level(sizes, "auto")
    assert level == 3 and reason.startswith(f"auto: {big} is 4.0 GiB")
    with pytest.raises(IsoBuildError) as caught:
        choose_iso_level(sizes, 2)
    assert str(caught.value) == (
        f"{big} is 4.0 GiB; ISO 9660 level 1/2 limit is 4 GiB-1; enable iso_level: 3"
    )
    assert check_level_with_xorriso(staging, tmp_path, 3) == 0
    assert check_level_with_xorriso(staging, tmp_path, 2) != 0


def test_build_is_hybrid_bios_uefi_and_bit_identical_on_rebuild(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "src")
    first = build_iso(layout, tmp_path / "1" / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH)

    for source in set(layout.values()) - set(bios_boot_files().values()):
        os.utime(source, (EPOCH + 12345, EPOCH + 12345))  # new mtimes, same content
    second = build_iso(layout, tmp_path / "2" / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH)

    assert first.sha256 == second.sha256
    assert (first.iso_level, first.implanted_md5) == (2, True)
    assert [(e.platform, e.path) for e in read_el_torito(first.path)] == [
        ("BIOS", "/isolinux/isolinux.bin"),
        ("UEFI", "/images/efiboot.img"),
    ]
    assert check_system_area(first.path) == []
    assert run_tool(["checkisomd5", first.path]).returncode == 0
    assert sorted(p.name for p in (tmp_path / "1").iterdir()) == ["out.iso"]  # no temp left


def test_xorriso_failure_leaves_no_iso_and_keeps_the_old_one(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "src")
    # Sparse 401 GiB: over xorriso's level-3 limit (400 GiB - 200 KiB), so it exits non-zero.
    huge = tmp_path / "src" / "huge.img"
    with huge.open("wb") as handle:
        handle.truncate(401 * 1024**3)
    layout["LiveOS/huge.img"] = huge
    out = tmp_path / "out" / "out.iso"
    out.parent.mkdir()
    out.write_bytes(b"previous ISO")
    with pytest.raises(IsoBuildError, match="xorriso could not build out.iso; no ISO written"):
        build_iso(layout, out, volume_id=VOLID, source_date_epoch=EPOCH)
    assert out.read_bytes() == b"previous ISO"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.iso"]


def test_file_that_is_also_a_directory_is_refused_before_xorriso(tmp_path: Path) -> None:
    # xorriso itself exits 0 here and silently drops ks.cfg.
    layout = make_layout(tmp_path / "src")
    layout["ks.cfg/nested"] = layout["ks.cfg"]
    with pytest.raises(IsoBuildError, match="ISO path ks.cfg is both a file and a directory"):
        build_iso(layout, tmp_path / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH)


def test_long_label_fails_before_xorriso(tmp_path: Path) -> None:
    layout = {"ks.cfg": tmp_path / "ks.cfg"}
    layout["ks.cfg"].write_text("text\n")
    with pytest.raises(IsoBuildError, match="is 39 characters"):
        build_iso(
            layout,
            tmp_path / "out" / "out.iso",
            volume_id="ACME-Server-Installer-9.4-x86_64-2024Q3",
            source_date_epoch=EPOCH,
            bios=False,
            uefi=False,
        )
    assert not (tmp_path / "out").exists()


def test_missing_xorriso_is_a_clear_error_without_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = {"ks.cfg": tmp_path / "ks.cfg"}
    layout["ks.cfg"].write_text("text\n")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(IsoBuildError, match=r"xorriso is not installed; .*\(no genisoimage"):
        build_iso(
            layout, tmp_path / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH,
            bios=False, uefi=False,
        )  # fmt: skip


def test_layout_without_boot_files_is_refused(tmp_path: Path) -> None:
    layout = {"ks.cfg": tmp_path / "ks.cfg"}
    layout["ks.cfg"].write_text("text\n")
    with pytest.raises(IsoBuildError, match="lacks isolinux/isolinux.bin, images/efiboot.img"):
        build_iso(layout, tmp_path / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH)
