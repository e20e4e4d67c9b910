"""Shared test fixtures: real RPMs built with rpmbuild, a loopback HTTP server, ../shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iso_assets.demo.serve import serve_directory
from iso_assets.rpm.build import build_rpms, write_simple_spec

pytest_plugins = ["tests.pipeline_fixtures", "tests.s3_fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
TEST_EPOCH = 1700000000


@pytest.fixture(autouse=True)
def restore_defs_state_storage() -> Iterator[None]:
    """Dagster 1.13.27's DagsterInstance.__exit__ leaves its defs-state storage current; a
    sensor context's instance would then break later `get_repository_def()` calls."""
    from dagster._core.storage.defs_state.base import _current_storage

    saved = _current_storage.get()
    yield
    _current_storage.set(saved)


@pytest.fixture
def shared_dir() -> Path:
    """The project's shared/ folder (cases and third-party fixtures), beside the checkout."""
    if not (SHARED_DIR / "cases").is_dir():
        pytest.skip(f"{SHARED_DIR} is absent: shared cases and fixtures live beside the checkout")
    return SHARED_DIR


MakeRpm = Callable[..., Path]


@pytest.fixture
def make_rpm(tmp_path: Path) -> MakeRpm:
    """Build a tiny real RPM with rpmbuild: make_rpm(name, version, out_dir, **spec_options)."""
    counter = iter(range(10_000))

    def build(name: str, version: str, out_dir: Path, **options: object) -> Path:
        target = options.pop("target", None)
        spec_dir = tmp_path / f"spec-{next(counter)}"
        spec_dir.mkdir()
        spec = write_simple_spec(spec_dir / f"{name}.spec", name=name, version=version, **options)  # type: ignore[arg-type]
        built = build_rpms(spec, out_dir, source_date_epoch=TEST_EPOCH, target=target)  # type: ignore[arg-type]
        return built[0]

    return build


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(folder, base URL): a folder served over HTTP on 127.0.0.1 for the test's duration."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as url:
        yield root, url
