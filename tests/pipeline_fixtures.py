"""The demo product's inputs, built once per test session and served on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from iso_assets.assets import BUILD_ASSETS
from iso_assets.demo.__main__ import DEMO_ROOT_HASH, materialization_metadata
from iso_assets.demo.base_runtime import build_base_runtime
from iso_assets.demo.boottree import build_boot_tree
from iso_assets.demo.product_rpms import build_product_rpms
from iso_assets.demo.serve import serve_directory
from iso_assets.demo.upstream import build_upstream
from iso_assets.partitions import PARTITIONS_NAME
from iso_assets.paths import DEMO_SPEC
from iso_assets.spec import load_product_spec
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CACHE = Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache" / "iso-assets"))


@dataclass
class DemoInputs:
    build_dir: Path
    upstream_url: str


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoInputs]:
    """Demo inputs (boot tree, signed upstream, product RPMs 1.0.0, base tarball), served."""
    build_dir = tmp_path_factory.mktemp("demo-build")
    epoch = load_product_spec(DEMO_SPEC).source_date_epoch
    boot = build_boot_tree(
        build_dir / "boot", cache_dir=CACHE / "demo-boot", source_date_epoch=epoch
    )
    build_upstream(build_dir / "upstream", source_date_epoch=epoch, boot_tree=boot)
    build_product_rpms(build_dir / "incoming", version="1.0.0", source_date_epoch=epoch)
    build_base_runtime(build_dir / "base-runtime.tar.gz", source_date_epoch=epoch)
    saved = {
        k: os.environ.get(k)
        for k in ("DEMO_BUILD_DIR", "DEMO_UPSTREAM_URL", "ISO_ROOT_PASSWORD_HASH")
    }
    with serve_directory(build_dir / "upstream") as url:
        os.environ.update(
            DEMO_BUILD_DIR=str(build_dir),
            DEMO_UPSTREAM_URL=url,
            ISO_ROOT_PASSWORD_HASH=DEMO_ROOT_HASH,
        )
        try:
            yield DemoInputs(build_dir, url)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def make_store(root: Path) -> ArtifactStore:
    return ArtifactStore(root=str(root / "store"), work_dir=str(root / "work"))


def run_build(
    store: ArtifactStore,
    version: str = "1.0.0",
    *,
    spec_path: Path = DEMO_SPEC,
    instance: DagsterInstance | None = None,
    selection: list | None = None,
) -> ExecuteInProcessResult:
    """Materialize the build assets for `version` in-process against a real instance."""
    instance = instance or DagsterInstance.ephemeral()
    if not instance.has_dynamic_partition(PARTITIONS_NAME, version):
        instance.add_dynamic_partitions(PARTITIONS_NAME, [version])
    return materialize(
        selection or BUILD_ASSETS,
        partition_key=version,
        instance=instance,
        resources={"product": ProductSpecResource(spec_path=str(spec_path)), "store": store},
        raise_on_error=False,
    )


asset_metadata = materialization_metadata


def failure_text(result: ExecuteInProcessResult) -> str:
    return "\n".join(
        event.event_specific_data.error.to_string()  # type: ignore[union-attr]
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    )


def copy_spec(tmp_path: Path, replace: dict[str, str]) -> Path:
    """A copy of the demo spec with text replaced; relative paths keep resolving."""
    text = DEMO_SPEC.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace("../../build/demo", os.environ["DEMO_BUILD_DIR"])
    path = tmp_path / "product.yaml"
    path.write_text(text)
    return path


def copy_upstream(inputs: DemoInputs, dest: Path) -> Path:
    shutil.copytree(inputs.build_dir / "upstream", dest)
    return dest
