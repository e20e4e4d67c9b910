"""Default locations, overridable by environment: where the store and scratch space live."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = REPO_ROOT / "examples/demo/product.yaml"


def iso_assets_home() -> Path:
    """ISO_ASSETS_HOME, default `.iso-assets` in the checkout: store, work dirs, Dagster home."""
    return Path(os.environ.get("ISO_ASSETS_HOME", REPO_ROOT / ".iso-assets")).resolve()


def product_spec_path() -> Path:
    return Path(os.environ.get("ISO_ASSETS_PRODUCT", DEMO_SPEC)).resolve()
