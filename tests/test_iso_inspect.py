"""Post-build inspection on real ISOs: the good build passes every check, and each bad
variant from the field cases (uefi01, usb01, iso03, uefi04) fails with the case message."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from iso_assets.errors import IsoBuildError
from iso_assets.iso.efiboot import build_efiboot_image
from iso_assets.iso.inspect import (
    BootEntry,
    check_boot_entries,
    check_file_list,
    check_labels,
    check_system_area,
    inspect_iso,
    read_el_torito,
    read_volume_id,
)
from iso_assets.iso.xorriso import build_iso
from iso_assets.process import run_tool
from tests.test_iso_xorriso import EPOCH, VOLID, make_layout

DATA = Path(__file__).parent / "data" / "iso"
CASES = "cases"
NO_UEFI = (
    "out.iso: no UEFI El Torito entry (platform_id 0xef); expected -eltorito-alt-boot "
    "-e images/efiboot.img -no-emul-boot"
)
NOT_HYBRID = (
    "out.iso is not hybrid: no MBR/GPT in system area; USB (dd) boot will fail. "
    "Add -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -isohybrid-gpt-basdat"
)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """(ISO, layout) of one good build, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("good")
    layout = make_layout(root / "src")
    result = build_iso(layout, root / "out.iso", volume_id=VOLID, source_date_epoch=EPOCH)
    return result.path, layout


def build_with_case_args(args_file: Path, layout: dict[str, Path], work: Path) -> Path:
    """Build out.iso from a staged copy of `layout` with a case's (bad) xorriso arguments."""
    staging = work / "staging"
    for iso_path, source in layout.items():
        (staging / iso_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / iso_path)
    words = shlex.split(args_file.read_text(), comments=True)
    run_tool(["xorriso", *words], cwd=work)
    return work / "out.iso"


def test_good_build_passes_every_check(good: tuple[Path, dict[str, Path]]) -> None:
    iso, layout = good
    assert read_el_torito(iso) == [
        BootEntry("BIOS", "/isolinux/isolinux.bin"),
        BootEntry("UEFI", "/images/efiboot.img"),
    ]
    assert check_boot_entries(iso) == []
    assert check_system_area(iso) == []
    head = iso.read_bytes()[:1024]
    assert head[510:512] == b"\x55\xaa" and head[512:520] == b"EFI PART"
    assert check_file_list(iso, layout) == []
    assert read_volume_id(iso) == VOLID
    assert check_labels(iso, VOLID) == []
    inspect_iso(iso, expected_paths=layout, volume_id=VOLID)


@pytest.mark.parametrize(
    "args_file",
    [f"{CASES}/uefi01-missing-eltorito-efi/xorriso-args.bad", "xorriso-args.bios-only"],
)
def test_missing_uefi_entry(
    args_file: str, good: tuple[Path, dict[str, Path]], request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:  # fmt: skip
    path = _input(args_file, request)
    iso = build_with_case_args(path, good[1], tmp_path)
    assert [entry.platform for entry in read_el_torito(iso)] == ["BIOS"]
    assert check_boot_entries(iso) == [NO_UEFI]
    if args_file.startswith(CASES):
        assert " ".join(NO_UEFI.split()) in " ".join(
            (path.parent / "expected.txt").read_text().split()
        )
    with pytest.raises(IsoBuildError, match="no UEFI El Torito entry"):
        inspect_iso(iso, expected_paths=good[1], volume_id=VOLID)


@pytest.mark.parametrize(
    "args_file", [f"{CASES}/usb01-no-gpt-uefi-usb/xorriso-args.bad", "xorriso-args.not-hybrid"]
)
def test_not_hybrid(
    args_file: str, good: tuple[Path, dict[str, Path]], request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:  # fmt: skip
    iso = build_with_case_args(_input(args_file, request), good[1], tmp_path)
    assert [entry.platform for entry in read_el_torito(iso)] == ["BIOS", "UEFI"]
    assert iso.read_bytes()[: 32 * 1024] == bytes(32 * 1024)
    assert check_system_area(iso) == [NOT_HYBRID]


def test_case_iso03_deep_file_kept_by_xorriso_and_a_dropped_one_is_named(
    shared_dir: Path, tmp_path: Path
) -> None:
    run_tool(["bash", shared_dir / "cases/iso03-deep-dirs-dropped/make_tree.sh"], cwd=tmp_path)
    manifest = (tmp_path / "manifest.expected").read_text().split()
    assert manifest == ["extras/a/b/c/d/e/f/g/h/i/j/leaf.txt"]
    _check_deep_tree(tmp_path, manifest, {path: tmp_path / "staging" / path for path in manifest})


def test_self_made_deep_tree(tmp_path: Path) -> None:
    deep = "vendor/" + "/".join(f"level{n}" for n in range(12)) + "/tool.bin"
    shallow = "vendor/README"
    files = {deep: tmp_path / "tool.bin", shallow: tmp_path / "README"}
    for source in files.values():
        source.write_text("payload\n")
    _check_deep_tree(tmp_path, [deep, shallow], files)


def _check_deep_tree(work: Path, manifest: list[str], files: dict[str, Path]) -> None:
    def build(layout: dict[str, Path], out: Path) -> Path:
        result = build_iso(
            layout, out, volume_id=VOLID, source_date_epoch=EPOCH, bios=False, uefi=False
        )
        return result.path

    kept = build(files, work / "kept" / "out.iso")
    assert check_file_list(kept, manifest) == []

    # What genisoimage without Rock Ridge did: the deepest file silently left out.
    deepest = max(manifest, key=lambda path: path.count("/"))
    partial = {path: source for path, source in files.items() if path != deepest}
    if not partial:  # the ISO needs at least one file
        partial = {"marker.txt": files[deepest]}
        manifest = [*manifest, "marker.txt"]
    dropped = build(partial, work / "dropped" / "out.iso")
    assert check_file_list(dropped, manifest) == [
        f"out.iso is missing 1 file present in staging: {deepest}"
    ]


@pytest.mark.parametrize("source", ["case", "self-made"])
def test_stale_label_in_grub_cfg_inside_efiboot_fails_the_build(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if source == "case":
        case = request.getfixturevalue("shared_dir") / f"{CASES}/uefi04-grub-search-label-mismatch"
        bad_cfg, stale = case / "grub.cfg.bad", "RHEL-9-4-0-BaseOS-x86_64"
        line = 2
    else:
        bad_cfg, stale, line = DATA / "grub.cfg.bad-label", "UPSTREAM-10-0-BaseOS", 2
    layout = make_layout(tmp_path / "src")
    # efiboot.img built from a stale grub.cfg while the ISO's own grub.cfg is correct.
    stale_image = build_efiboot_image(
        {"EFI/BOOT/BOOTX64.EFI": layout["EFI/BOOT/BOOTX64.EFI"], "EFI/BOOT/grub.cfg": bad_cfg},
        tmp_path / "stale-efiboot.img",
        source_date_epoch=EPOCH,
    )
    layout["images/efiboot.img"] = stale_image.path
    out = tmp_path / "out.iso"
    with pytest.raises(IsoBuildError) as caught:
        build_iso(layout, out, volume_id=VOLID, source_date_epoch=EPOCH)
    problems = str(caught.value).splitlines()
    expected = f"efiboot.img:EFI/BOOT/grub.cfg:{line} search label '{stale}' != volume id '{VOLID}'"
    assert expected in problems
    assert any("differs from EFI/BOOT/grub.cfg on the ISO" in problem for problem in problems)
    assert not out.exists()


def test_wrong_expected_volume_id_is_reported_everywhere(
    good: tuple[Path, dict[str, Path]],
) -> None:
    problems = check_labels(good[0], "OTHER-LABEL")
    assert problems[0] == f"out.iso volume id '{VOLID}' != expected volume id 'OTHER-LABEL'"
    assert "grub.cfg:7 search label 'ACME-9-4-X86_64' != volume id 'OTHER-LABEL'" in problems
    assert any(problem.startswith("isolinux.cfg:") for problem in problems)
    assert any(problem.startswith("efiboot.img:EFI/BOOT/grub.cfg:") for problem in problems)


def _input(name: str, request: pytest.FixtureRequest) -> Path:
    if name.startswith(CASES):
        return request.getfixturevalue("shared_dir") / name
    return DATA / name
