"""select_newest: newest EVR per name from real RPM headers (not file names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iso_assets.errors import RootfsError
from iso_assets.rootfs.selection import select_newest
from iso_assets.rpm.build import build_rpms, write_simple_spec
from tests.conftest import TEST_EPOCH


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """foo 1.9 and 1.10 (numeric, not string, order), bar 2.0 and bar 1:1.0 (epoch wins)."""
    out = tmp_path_factory.mktemp("rpms")
    specs = tmp_path_factory.mktemp("specs")
    built = []
    for name, version, release in (
        ("foo", "1.9", "1"),
        ("foo", "1.10", "1"),
        ("bar", "2.0", "1"),
        ("bar", "1.0", "1"),
    ):
        spec = write_simple_spec(
            specs / f"{name}-{version}.spec", name=name, version=version, release=release
        )
        if (name, version) == ("bar", "1.0"):
            spec.write_text(spec.read_text().replace("Version: 1.0", "Epoch: 1\nVersion: 1.0"))
        built += build_rpms(spec, out, source_date_epoch=TEST_EPOCH)
    return built


def test_newest_by_header_evr(builds: list[Path], tmp_path: Path) -> None:
    # Misleading file names: the choice must come from the headers.
    renamed = []
    for index, rpm in enumerate(builds):
        renamed.append(tmp_path / f"pkg-{index}.rpm")
        shutil.copy2(rpm, renamed[-1])
    chosen = select_newest(renamed, ["foo", "bar"])
    names = [builds[renamed.index(path)].name for path in chosen]
    assert names == ["foo-1.10-1.noarch.rpm", "bar-1.0-1.noarch.rpm"]  # bar: epoch 1 wins


def test_missing_names_are_all_listed(builds: list[Path]) -> None:
    with pytest.raises(RootfsError) as error:
        select_newest(builds, ["foo", "busybox", "demo-shell"])
    message = str(error.value)
    assert "rootfs.packages: no RPM named 'busybox', 'demo-shell' among the 4 RPM files" in message
