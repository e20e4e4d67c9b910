"""Load and validate product.yaml, with error messages that name the field."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from iso_assets.errors import SpecError
from iso_assets.spec.models import ProductSpec

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, *, where: str, path: Path) -> Any:
    """Replace ${NAME} / ${NAME:-default} in strings; an unset NAME without default is an error."""
    if isinstance(value, dict):
        return {k: expand_env(v, where=f"{where}.{k}", path=path) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, where=f"{where}[{i}]", path=path) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SpecError(
            f"{path}: field {where.lstrip('.')} uses ${{{name}}} but environment variable "
            f"{name} is not set; set it or write the value into the file"
        )

    return ENV_REFERENCE.sub(substitute, value)


def format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s) in the product spec:"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "field required; add it (see README, 'Product spec reference')"
        elif item["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against the spec reference"
        lines.append(f"  - {field}: {message}")
    return "\n".join(lines)


def load_product_spec(path: Path | str) -> ProductSpec:
    """Read product.yaml; raise SpecError naming the file and every bad field."""
    spec_path = Path(path).resolve()
    try:
        raw = yaml.safe_load(spec_path.read_text())
    except FileNotFoundError as exc:
        raise SpecError(
            f"{spec_path}: product spec not found; point ISO_ASSETS_PRODUCT (or the `product` "
            f"resource's spec_path) at an existing product.yaml"
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{spec_path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(
            f"{spec_path}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    expanded = expand_env(raw, where="", path=spec_path)
    try:
        return ProductSpec.model_validate({**expanded, "spec_dir": spec_path.parent})
    except ValidationError as exc:
        raise SpecError(format_validation_error(spec_path, exc)) from exc
