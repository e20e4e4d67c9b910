"""The demo product's inputs: product RPMs, base runtime tarball, signed upstream repo tree.

Real rpmbuild, rpmsign/gpg, createrepo_c, rpmkeys and rpm --root on small real inputs.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import tarfile
from pathlib import Path

import createrepo_c as cr
import libcomps
import pytest

from iso_assets.demo.base_runtime import applet_link, build_base_runtime, stamp_path
from iso_assets.demo.boottree import BootTree
from iso_assets.demo.product_rpms import ProductRpmError, build_product_rpms
from iso_assets.demo.upstream import (
    DemoUpstream,
    build_upstream,
    createrepo_argv,
    rpmsign_argv,
    treeinfo_text,
)
from iso_assets.process import run_tool
from iso_assets.rpm.header import read_rpm_header

EPOCH = 1735689600


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def product_rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("product") / "rpms"
    return build_product_rpms(out, version="1.0.0", source_date_epoch=EPOCH)


@pytest.fixture(scope="module")
def small_boot_tree(tmp_path_factory: pytest.TempPathFactory) -> BootTree:
    """Tiny stand-in boot files: the upstream builder only copies and checksums them."""
    folder = tmp_path_factory.mktemp("boot")
    for name in ("vmlinuz", "initrd.img", "install.img"):
        (folder / name).write_bytes(f"demo {name}\n".encode())
    return BootTree(folder / "vmlinuz", folder / "initrd.img", folder / "install.img")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, small_boot_tree: BootTree) -> DemoUpstream:
    root = tmp_path_factory.mktemp("upstream") / "upstream"
    return build_upstream(root, source_date_epoch=EPOCH, boot_tree=small_boot_tree)


def test_product_rpm_headers(product_rpms: list[Path]) -> None:
    headers = {read_rpm_header(path).name: read_rpm_header(path) for path in product_rpms}

    assert sorted(headers) == ["acme-server", "acme-tools"]
    assert {h.version for h in headers.values()} == {"1.0.0"}
    assert {h.release for h in headers.values()} == {"1.el9"}
    assert headers["acme-server"].arch == "x86_64"
    assert headers["acme-tools"].arch == "noarch"
    assert [p.name for p in product_rpms] == [h.expected_file_name for h in headers.values()]


def test_product_rpm_contents_and_scriptlet(product_rpms: list[Path]) -> None:
    server = product_rpms[0]
    files = run_tool(["rpm", "-qpl", str(server)]).stdout.decode().split()
    requires = run_tool(["rpm", "-qpR", str(server)]).stdout.decode().split("\n")
    scripts = run_tool(["rpm", "-qp", "--scripts", str(server)]).stdout.decode()

    assert "/opt/acme-server/bin/start.sh" in files
    assert "/opt/acme-server/etc/defaults.conf" in files
    assert "/bin/sh" in requires
    assert "postinstall scriptlet (using /bin/sh)" in scripts


def test_product_rpms_rebuild_byte_identical(product_rpms: list[Path], tmp_path: Path) -> None:
    again = build_product_rpms(tmp_path / "again", version="1.0.0", source_date_epoch=EPOCH)

    assert [sha256(path) for path in again] == [sha256(path) for path in product_rpms]


def test_product_rpms_cached_by_stamp(tmp_path: Path) -> None:
    out = tmp_path / "rpms"
    first = build_product_rpms(out, version="2.1.0", source_date_epoch=EPOCH)
    mtimes = [path.stat().st_mtime_ns for path in first]

    second = build_product_rpms(out, version="2.1.0", source_date_epoch=EPOCH)

    assert second == first
    assert [path.stat().st_mtime_ns for path in second] == mtimes
    assert stamp_path(out).is_file()


def test_product_version_that_rpm_cannot_carry_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ProductRpmError, match="'9.4-eus' cannot be an RPM Version"):
        build_product_rpms(tmp_path, version="9.4-eus", source_date_epoch=EPOCH)


def test_base_runtime_reproducible_and_rocky_like(tmp_path: Path) -> None:
    first = build_base_runtime(tmp_path / "a" / "base.tar.gz", source_date_epoch=EPOCH)
    second = build_base_runtime(tmp_path / "b" / "base.tar.gz", source_date_epoch=EPOCH)

    assert sha256(first) == sha256(second)
    assert first.read_bytes()[4:8] == bytes(4)  # gzip header mtime 0
    with tarfile.open(first) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        os_release = tar.extractfile("etc/os-release").read().decode()  # type: ignore[union-attr]
        shadow = tar.extractfile("etc/shadow").read().decode()  # type: ignore[union-attr]
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, EPOCH)}
    assert 'ID="rocky"' in os_release and 'VERSION_ID="9.4"' in os_release
    assert "(iso-assets demo)" in os_release
    assert shadow.startswith("root:!:")
    links = {m.name: m.linkname for m in members if m.issym()}
    assert links["bin"] == "usr/bin" and links["usr/bin/sh"] == "busybox"
    assert {"tmp", "var/tmp", "run", "dev", "proc", "sys"} <= set(names)


def test_applet_links_follow_merged_usr() -> None:
    assert applet_link("bin/sh") == ("usr/bin/sh", "busybox")
    assert applet_link("sbin/ifconfig") == ("usr/sbin/ifconfig", "../bin/busybox")
    assert applet_link("usr/bin/awk") == ("usr/bin/awk", "busybox")
    assert applet_link("usr/sbin/chroot") == ("usr/sbin/chroot", "../bin/busybox")
    assert applet_link("linuxrc") is None


def test_upstream_layout(upstream: DemoUpstream) -> None:
    root = upstream.root
    assert upstream.gpg_key == root / "RPM-GPG-KEY-acme-demo"
    assert sorted(upstream.repos) == ["AppStream", "BaseOS"]
    assert "Packages/d/demo-shell-5.1.8-6.el9.x86_64.rpm" in upstream.packages["BaseOS"]
    for repo_id, names in upstream.packages.items():
        for name in names:
            assert (root / repo_id / name).is_file()
    assert not any(root.rglob("*secring*")) and not any(root.rglob("private-keys-v1.d"))
    assert upstream.repo_url("http://127.0.0.1:8731/", "BaseOS") == "http://127.0.0.1:8731/BaseOS"


def test_upstream_repodata_has_groups_and_modules(upstream: DemoUpstream) -> None:
    baseos = upstream.root / "BaseOS"
    repomd = cr.Repomd(str(baseos / "repodata" / "repomd.xml"))
    records = {record.type: record for record in repomd.records}
    comps = libcomps.Comps()
    comps.fromxml_f(str(baseos / records["group"].location_href))
    appstream = cr.Repomd(str(upstream.root / "AppStream" / "repodata" / "repomd.xml"))

    assert {"primary", "filelists", "other", "group"} <= set(records)
    assert repomd.revision == str(EPOCH)
    assert {group.id for group in comps.groups} == {"core", "standard"}
    environment = comps.environments[0]
    assert environment.id == "minimal-environment"
    assert [g.name for g in environment.group_ids] == ["core"]
    core = next(group for group in comps.groups if group.id == "core")
    assert "demo-shell" in {package.name for package in core.packages}
    assert {"group", "modules"} <= {record.type for record in appstream.records}


def test_upstream_treeinfo_checksums_match(upstream: DemoUpstream) -> None:
    baseos = upstream.root / "BaseOS"
    treeinfo = configparser.ConfigParser()
    treeinfo.read(baseos / ".treeinfo")

    assert treeinfo["header"]["version"] == "1.2"
    assert treeinfo["stage2"]["mainimage"] == "images/install.img"
    assert treeinfo["images-x86_64"]["kernel"] == "images/pxeboot/vmlinuz"
    assert treeinfo["variant-BaseOS"]["repository"] == "."
    assert len(treeinfo["checksums"]) == 3
    for relative, checksum in treeinfo["checksums"].items():
        assert checksum == f"sha256:{sha256(baseos / relative)}"


def test_treeinfo_text_lists_every_image() -> None:
    text = treeinfo_text({"images/install.img": "ab" * 32}, timestamp=EPOCH)
    parsed = configparser.ConfigParser()
    parsed.read_string(text)

    assert parsed["checksums"]["images/install.img"] == "sha256:" + "ab" * 32
    assert parsed["general"]["timestamp"] == str(EPOCH)


def checksig(rpm: Path, key: Path, dbpath: Path) -> int:
    dbpath.mkdir(exist_ok=True)
    run_tool(["rpmkeys", "--dbpath", str(dbpath), "--import", str(key)])
    result = run_tool(
        [
            "rpmkeys",
            "--dbpath",
            str(dbpath),
            "--define",
            "_pkgverify_level signature",
            "--checksig",
            str(rpm),
        ],
        check=False,
    )
    return result.returncode


def test_upstream_rpms_signed_by_exported_key(
    upstream: DemoUpstream, product_rpms: list[Path], tmp_path: Path
) -> None:
    for repo_id, names in upstream.packages.items():
        for name in names:
            rpm = upstream.root / repo_id / name
            assert checksig(rpm, upstream.gpg_key, tmp_path / "db") == 0, rpm
    # The same check rejects an unsigned package (the product RPMs are not signed).
    assert checksig(product_rpms[0], upstream.gpg_key, tmp_path / "db") != 0


def test_upstream_rebuild_with_same_key_is_byte_identical(
    upstream: DemoUpstream, small_boot_tree: BootTree, tmp_path: Path
) -> None:
    gnupg_home = upstream.root.with_name(upstream.root.name + ".gnupg")
    again = build_upstream(
        tmp_path / "upstream",
        source_date_epoch=EPOCH,
        boot_tree=small_boot_tree,
        gnupg_home=gnupg_home,
    )

    def tree(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): sha256(path) for path in root.rglob("*") if path.is_file()
        }

    assert tree(again.root) == tree(upstream.root)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod /dev/null in the root needs root")
def test_upstream_and_product_install_into_base_runtime(
    upstream: DemoUpstream, product_rpms: list[Path], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    base = build_base_runtime(tmp_path / "base.tar.gz", source_date_epoch=EPOCH)
    with tarfile.open(base) as tar:
        tar.extractall(root, filter="fully_trusted")
    os.mknod(root / "dev" / "null", 0o666 | 0o020000, os.makedev(1, 3))
    baseos = [upstream.root / "BaseOS" / name for name in upstream.packages["BaseOS"]]
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]

    run_tool([*rpm, "--import", str(upstream.gpg_key)])
    run_tool([*rpm, "-i", *map(str, baseos), *map(str, product_rpms)])

    installed = run_tool([*rpm, "-qa", "--qf", "%{NAME}\n"]).stdout.decode().split()
    assert {"acme-server", "acme-tools", "demo-shell", "demo-filesystem"} <= set(installed)
    # %post scriptlets ran under the root's busybox /bin/sh
    assert (root / "var/lib/acme-server/installed-version").read_text() == (
        "acme-server-1.0.0-1.el9\n"
    )
    assert (root / "var/lib/demo-core-tools/post-ran").is_file()
    assert (root / "var/lib/rpm/rpmdb.sqlite").is_file()


def test_createrepo_argv_is_reproducible_and_keeps_groups(tmp_path: Path) -> None:
    argv = createrepo_argv(tmp_path / "BaseOS", tmp_path / "comps.xml", source_date_epoch=EPOCH)

    assert argv[1:] == [
        "--revision",
        str(EPOCH),
        "--set-timestamp-to-revision",
        "--compatibility",
        "--no-database",
        "--groupfile",
        str(tmp_path / "comps.xml"),
        "--workers",
        "1",
        str(tmp_path / "BaseOS"),
    ]


def test_rpmsign_argv_uses_debian_gpg_and_fixed_time(tmp_path: Path) -> None:
    argv = rpmsign_argv([tmp_path / "a.rpm"], tmp_path / "gnupg", "ABCD", source_date_epoch=EPOCH)

    assert argv[:2] == ["rpmsign", "--addsign"]
    assert "__gpg /usr/bin/gpg" in argv and "_gpg_name ABCD" in argv
    assert f"_gpg_path {tmp_path / 'gnupg'}" in argv
    assert any(f"--faked-system-time={EPOCH}!" in item for item in argv)
    assert argv[-1] == str(tmp_path / "a.rpm")
