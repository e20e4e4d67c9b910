"""Overlay rendering and validation (pure), and the rpm argv the rootfs stage runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso_assets.errors import RootfsError
from iso_assets.process import run_tool
from iso_assets.rootfs.install import install_error, rpm_install_argv, rpm_query_argv
from iso_assets.rootfs.overlay import overlay_files, render_overlay, replaced_files
from iso_assets.spec.load import load_product_spec
from iso_assets.spec.models import RootfsSpec

DATA = Path(__file__).parent / "data" / "rootfs"


@pytest.fixture(scope="module")
def rootfs() -> RootfsSpec:
    return load_product_spec(DATA / "product.yaml").rootfs


def changed(rootfs: RootfsSpec, **update: object) -> RootfsSpec:
    return rootfs.model_copy(update=update)


def test_overlay_paths_and_modes(rootfs: RootfsSpec) -> None:
    files = {item.path: item.mode for item in overlay_files(rootfs)}
    assert files == {
        "/etc/acme-server/product.conf": 0o644,
        "/usr/lib/systemd/system/acme-server.service": 0o644,
        "/opt/acme-server/bin/start.sh": 0o755,
        "/usr/lib/tmpfiles.d/acme-server.conf": 0o644,
        "/etc/security/limits.d/acme-server.conf": 0o644,
        "/etc/sysctl.d/90-acme-server.conf": 0o644,
        "/etc/logrotate.d/acme-server": 0o644,
    }


def test_config_is_sourceable_shell(rootfs: RootfsSpec, tmp_path: Path) -> None:
    config = next(f for f in overlay_files(rootfs) if f.path.endswith("product.conf"))
    assert "banner='ACME server; it'\"'\"'s fine'\n" in config.content
    assert "tls=true\n" in config.content
    conf = tmp_path / "product.conf"
    conf.write_text(config.content)
    shown = run_tool(["sh", "-c", f'set -eu; . "{conf}"; printf %s "$banner|$listen_port"'])
    assert shown.stdout.decode() == "ACME server; it's fine|8443"


def test_optional_files_are_left_out(rootfs: RootfsSpec) -> None:
    bare = changed(rootfs, sysctl={}, limits={}, logrotate=None, data_dirs=[])
    paths = {item.path for item in overlay_files(bare)}
    assert paths == {
        "/etc/acme-server/product.conf",
        "/usr/lib/systemd/system/acme-server.service",
        "/opt/acme-server/bin/start.sh",
    }
    unit = next(f.content for f in overlay_files(bare) if f.path.endswith(".service"))
    assert "Limit" not in unit


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"config": {"listen-port": 1}}, "rootfs.config key 'listen-port' is not a shell"),
        ({"config": {"motd": "a\nb"}}, "rootfs.config.motd must be one line"),
        ({"limits": {"openfiles": 10}}, "rootfs.limits item 'openfiles' is unknown"),
        ({"sysctl": {"vm swappiness": 1}}, "rootfs.sysctl key 'vm swappiness'"),
        ({"config_path": "etc/product.conf"}, "rootfs.config_path 'etc/product.conf' must be"),
        ({"data_dirs": ["/var/lib/../../x"]}, "rootfs.data_dirs"),
        ({"install_dir": "/srv/acme"}, "exec_start '/opt/acme-server/bin/start.sh' is not under"),
    ],
)
def test_bad_values_name_their_field(
    rootfs: RootfsSpec, update: dict[str, object], message: str
) -> None:
    with pytest.raises(RootfsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        overlay_files(changed(rootfs, **update))


def test_rpm_argv_puts_the_db_inside_the_tree() -> None:
    argv = rpm_install_argv(Path("/w/tree"), [Path("/r/b.rpm"), Path("/r/a.rpm")])
    assert argv == [
        "rpm", "--root", "/w/tree", "--dbpath", "/var/lib/rpm", "--noplugins", "-i",
        "/r/a.rpm", "/r/b.rpm",
    ]  # fmt: skip
    assert rpm_query_argv(Path("/w/tree")) == [
        "rpm", "--root", "/w/tree", "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NEVRA}\\n",
    ]  # fmt: skip


def test_rpm_failure_without_dependency_lines_keeps_stderr() -> None:
    error = install_error("error: unpacking of archive failed: cpio: Bad magic\n", [Path("x")])
    assert "cpio: Bad magic" in str(error)


def test_render_into_tree_and_detect_files_an_rpm_replaced(
    rootfs: RootfsSpec, tmp_path: Path
) -> None:
    written = render_overlay(rootfs, tmp_path)
    assert replaced_files(tmp_path, written) == []
    start = tmp_path / "opt/acme-server/bin/start.sh"
    assert start.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "var/lib/acme-server/data").stat().st_mode & 0o777 == 0o750
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants/acme-server.service"
    assert wants.resolve() == (tmp_path / "usr/lib/systemd/system/acme-server.service").resolve()

    # What rpm -i does when the product package ships its own startup script.
    start.write_text("#!/bin/sh\nexec /opt/acme-server/bin/acmectl run\n")
    assert replaced_files(tmp_path, written) == ["/opt/acme-server/bin/start.sh"]
