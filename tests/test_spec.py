"""product.yaml loading: the demo spec validates; bad specs name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.errors import SpecError
from iso_assets.spec import load_product_spec

DEMO_SPEC = Path(__file__).resolve().parents[1] / "examples/demo/product.yaml"


def test_demo_spec_loads() -> None:
    spec = load_product_spec(DEMO_SPEC)
    assert spec.name == "acme-server"
    assert spec.kickstart_handler == "RHEL9"
    assert spec.volume_id_for("1.0.0") == "ACME-1-0-0-X86_64"
    assert spec.resolve("x") == (DEMO_SPEC.parent / "x").resolve()


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "product.yaml"
    path.write_text(text)
    return path


def demo_text_without(key: str) -> str:
    lines = DEMO_SPEC.read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith(f"{key}:"))


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = write_spec(tmp_path, demo_text_without("release"))
    with pytest.raises(SpecError) as error:
        load_product_spec(path)
    assert str(path) in str(error.value)
    assert "release: field required" in str(error.value)


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = write_spec(tmp_path, DEMO_SPEC.read_text() + "\nisoo: {}\n")
    with pytest.raises(SpecError, match="isoo: unknown field"):
        load_product_spec(path)


def test_repo_without_keys_must_opt_out_explicitly(tmp_path: Path) -> None:
    text = DEMO_SPEC.read_text().replace(
        '    gpg_keys: ["${DEMO_BUILD_DIR:-../../build/demo}/upstream/RPM-GPG-KEY-acme-demo"]\n', ""
    )
    with pytest.raises(SpecError, match="upstream.0: repo 'BaseOS': no gpg_keys given"):
        load_product_spec(write_spec(tmp_path, text))


def test_selinux_cannot_be_relaxed(tmp_path: Path) -> None:
    text = DEMO_SPEC.read_text().replace("  text: true\n", "  text: true\n  selinux: permissive\n")
    with pytest.raises(SpecError, match="kickstart.selinux"):
        load_product_spec(write_spec(tmp_path, text))


def test_unset_environment_variable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    text = DEMO_SPEC.read_text().replace("hostname: acme-node", "hostname: ${NO_SUCH_VAR}")
    with pytest.raises(SpecError, match="kickstart.hostname uses \\$\\{NO_SUCH_VAR\\}"):
        load_product_spec(write_spec(tmp_path, text))


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        load_product_spec(write_spec(tmp_path, "name: [unclosed\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="product spec not found"):
        load_product_spec(tmp_path / "nope.yaml")
