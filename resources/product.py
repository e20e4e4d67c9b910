"""The product spec as a Dagster resource: which product.yaml this code location builds."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from iso_assets.spec import ProductSpec, load_product_spec


class ProductSpecResource(ConfigurableResource):
    """Loads and validates product.yaml once per run."""

    spec_path: str = Field(description="path of product.yaml")

    def load(self) -> ProductSpec:
        return load_product_spec(self.spec_path)
