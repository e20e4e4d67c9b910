"""Bad inputs fail with a clear error and leave no manifest (nothing half-built registered)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iso_assets.demo.serve import serve_directory
from resources.store import ArtifactStore
from tests.pipeline_fixtures import (
    DemoInputs,
    copy_spec,
    copy_upstream,
    failure_text,
    make_store,
    run_build,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
UPSTREAM = "${DEMO_UPSTREAM_URL:-http://127.0.0.1:8731}"


def stored_assets(store: ArtifactStore, version: str = "1.0.0") -> list[str]:
    folder = Path(store.root) / "products" / "acme-server" / version
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def test_bad_version_key(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    result = run_build(store, version="1.0,0")
    assert not result.success
    assert "',' not allowed in partition keys" in failure_text(result)
    assert not (Path(store.root) / "products").exists()


def test_spec_with_missing_field(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    result = run_build(store, spec_path=copy_spec(tmp_path, {"release: el9\n": ""}))
    assert not result.success
    assert "release: field required" in failure_text(result)
    assert stored_assets(store) == []


def test_unreachable_upstream(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    # Port 9 (discard) has no listener here: the connection is refused at once.
    spec = copy_spec(tmp_path, {UPSTREAM: "http://127.0.0.1:9"})
    result = run_build(store, spec_path=spec)
    assert not result.success
    text = failure_text(result)
    assert "http://127.0.0.1:9/BaseOS" in text and "baseurl" in text
    assert stored_assets(store) == []


def test_package_with_wrong_checksum(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    upstream = copy_upstream(demo_inputs, tmp_path / "upstream")
    victim = sorted((upstream / "BaseOS/Packages").rglob("demo-shell-*.rpm"))[0]
    victim.write_bytes(victim.read_bytes() + b"tampered")
    store = make_store(tmp_path)
    with serve_directory(upstream) as url:
        result = run_build(store, spec_path=copy_spec(tmp_path, {UPSTREAM: url}))
    assert not result.success
    text = failure_text(result)
    assert victim.name in text and "checksum" in text.lower()
    assert stored_assets(store) == []


def test_plaintext_password_keeps_the_previous_build(
    demo_inputs: DemoInputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path)
    assert run_build(store).success
    before = {a: store.read_manifest("acme-server", "1.0.0", a) for a in ("kickstart", "iso")}

    monkeypatch.setenv("ISO_ROOT_PASSWORD_HASH", "Secret-Plain-1")
    result = run_build(store)
    assert not result.success
    text = failure_text(result)
    assert "ISO_ROOT_PASSWORD_HASH" in text and "Secret-Plain-1" not in text
    after = {a: store.read_manifest("acme-server", "1.0.0", a) for a in ("kickstart", "iso")}
    assert after == before
    assert os.environ["ISO_ROOT_PASSWORD_HASH"] == "Secret-Plain-1"


def test_preflight_rejects_a_label_before_any_iso(demo_inputs: DemoInputs, tmp_path: Path) -> None:
    """Case ks02: a volume id over 32 characters stops the preflight job at the kickstart."""
    from iso_assets.assets import kickstart, mirrored_repo, repodata

    store = make_store(tmp_path)
    spec = copy_spec(
        tmp_path,
        {"ACME-{version_id}-X86_64": "ACME-Server-Installer-{version}-x86_64"},
    )
    result = run_build(store, spec_path=spec, selection=[mirrored_repo, repodata, kickstart])
    assert not result.success
    assert "is 34 characters; ISO 9660 volume IDs are at most 32" in failure_text(result)
    assert stored_assets(store) == ["mirrored_repo", "repodata"]
