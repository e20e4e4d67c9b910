"""The typed product spec (product.yaml) and its loader."""

from iso_assets.spec.load import load_product_spec
from iso_assets.spec.models import ProductSpec

__all__ = ["ProductSpec", "load_product_spec"]
