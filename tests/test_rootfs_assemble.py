"""assemble_rootfs end to end: busybox base tarball, real rpmbuild RPMs, real rpm --root."""

from __future__ import annotations

import io
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from iso_assets.errors import RootfsError
from iso_assets.process import run_tool
from iso_assets.rootfs.assemble import RootfsResult, assemble_rootfs
from iso_assets.rpm.build import build_rpms, write_simple_spec
from iso_assets.spec.load import load_product_spec
from iso_assets.spec.models import ProductSpec
from tests.conftest import TEST_EPOCH

DATA = Path(__file__).parent / "data" / "rootfs"
BUSYBOX = Path("/bin/busybox")
OS_RELEASE = """NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""
PASSWD = "root:x:0:0:root:/root:/bin/sh\nacme:x:990:990:ACME:/var/lib/acme-server:/sbin/nologin\n"
GROUP = "root:x:0:\nacme:x:990:\n"


def add_file(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1600000000
    archive.addfile(info, io.BytesIO(data))


def add_entry(archive: tarfile.TarFile, name: str, kind: bytes, mode: int, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3
    archive.addfile(info)


@pytest.fixture(scope="module")
def base_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Rocky-9-like busybox root: hard link, symlink, sticky /tmp, a device node."""
    assert BUSYBOX.is_file(), "busybox-static is not installed (/bin/busybox)"
    path = tmp_path_factory.mktemp("base") / "base-runtime.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, mode in (
            ("bin", 0o755),
            ("dev", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/bin", 0o755),
            ("var", 0o755),
            ("var/tmp", 0o1777),
        ):
            add_entry(archive, name, tarfile.DIRTYPE, mode)
        add_file(archive, "bin/busybox", BUSYBOX.read_bytes(), 0o755)
        add_entry(archive, "usr/bin/env", tarfile.LNKTYPE, 0o755, "bin/busybox")
        add_entry(archive, "bin/ls", tarfile.SYMTYPE, 0o777, "busybox")
        add_entry(archive, "dev/null", tarfile.CHRTYPE, 0o666)
        add_file(archive, "etc/os-release", OS_RELEASE.encode())
        add_file(archive, "etc/passwd", PASSWD.encode())
        add_file(archive, "etc/group", GROUP.encode())
    return path


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """demo-shell (/bin/sh -> busybox), acme-server (with %post), and one with a lost dep."""
    out = tmp_path_factory.mktemp("rpms")
    specs = tmp_path_factory.mktemp("specs")
    built = {
        "shell": build_rpms(DATA / "shell.spec", out, source_date_epoch=TEST_EPOCH)[0],
        "product": build_rpms(DATA / "product.spec", out, source_date_epoch=TEST_EPOCH)[0],
    }
    needy = write_simple_spec(
        specs / "acme-plugin.spec",
        name="acme-plugin",
        version="1.0",
        requires=["libacme-crypto.so.3()(64bit)"],
    )
    built["needy"] = build_rpms(needy, out, source_date_epoch=TEST_EPOCH)[0]
    return built


@pytest.fixture(scope="module")
def spec() -> ProductSpec:
    return load_product_spec(DATA / "product.yaml")


@pytest.fixture(scope="module")
def assembled(
    tmp_path_factory: pytest.TempPathFactory,
    spec: ProductSpec,
    base_tarball: Path,
    rpms: dict[str, Path],
) -> tuple[Path, RootfsResult]:
    work = tmp_path_factory.mktemp("work")
    result = assemble_rootfs(
        spec,
        base_tarball=base_tarball,
        rpms=[rpms["product"], rpms["shell"]],
        work_dir=work,
        out_tarball=work / "out" / "rootfs.tar.gz",
    )
    return work, result


def test_packages_come_from_the_trees_rpmdb(
    assembled: tuple[Path, RootfsResult], tmp_path: Path
) -> None:
    _, result = assembled
    assert result.packages == ["acme-server-2.1-1.el9.noarch", "demo-shell-1.0-1.el9.noarch"]

    unpacked = tmp_path / "unpacked"
    with tarfile.open(result.tarball) as archive:
        names = archive.getnames()
        archive.extractall(unpacked, filter="tar")
    assert "var/lib/rpm/rpmdb.sqlite" in names
    assert not [n for n in names if n.endswith((".rpm.lock", "-shm", "-wal"))]
    listed = run_tool(
        ["rpm", "--root", str(unpacked), "--dbpath", "/var/lib/rpm", "-qa"],
        env={"HOME": str(tmp_path)},
    )
    assert sorted(listed.stdout.decode().split()) == result.packages


def test_tar_entries_are_normalised(
    assembled: tuple[Path, RootfsResult], spec: ProductSpec
) -> None:
    _, result = assembled
    raw = result.tarball.read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime
    with tarfile.open(result.tarball) as archive:
        members = archive.getmembers()
        for member in members:
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")
            assert member.mtime == spec.source_date_epoch
            assert not {"atime", "ctime"} & set(member.pax_headers)
        names = [m.name for m in members]
        by_name = {m.name: m for m in members}
    assert names == sorted(names, key=lambda n: [p.encode() for p in n.split("/")])
    assert "dev/null" not in names and "dev" in names  # device nodes are left out
    assert by_name["usr/bin/env"].islnk() and by_name["usr/bin/env"].linkname == "bin/busybox"
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "busybox"
    assert by_name["tmp"].mode == 0o1777
    assert by_name["root"].mode == 0o700


def test_overlay_files_and_post_scriptlet(assembled: tuple[Path, RootfsResult]) -> None:
    _, result = assembled
    with tarfile.open(result.tarball) as archive:
        by_name = {m.name: m for m in archive.getmembers()}

        def text(name: str) -> str:
            handle = archive.extractfile(by_name[name])
            assert handle is not None
            return handle.read().decode()

        unit = text("usr/lib/systemd/system/acme-server.service")
        assert "User=acme\nGroup=acme\n" in unit
        assert "ExecStart=/opt/acme-server/bin/start.sh\n" in unit
        assert "LimitNOFILE=65536\n" in unit and "Restart=on-failure\n" in unit
        assert "NoNewPrivileges=yes\n" in unit
        assert 'Environment="ACME_NOTE=quoted \\"text\\" 100%%"\n' in unit
        start = by_name["opt/acme-server/bin/start.sh"]
        assert stat.S_IMODE(start.mode) == 0o755
        assert "set -eu\n" in text(start.name)
        assert ". /etc/acme-server/product.conf\n" in text(start.name)
        assert "listen_port=8443\n" in text("etc/acme-server/product.conf")
        assert "acme hard nofile 65536\n" in text("etc/security/limits.d/acme-server.conf")
        assert "vm.swappiness = 10\n" in text("etc/sysctl.d/90-acme-server.conf")
        assert "rotate 14\n" in text("etc/logrotate.d/acme-server")
        tmpfiles = text("usr/lib/tmpfiles.d/acme-server.conf")
        assert "d /var/lib/acme-server/data 0750 acme acme -\n" in tmpfiles
        assert by_name["var/lib/acme-server/data"].isdir()
        assert by_name["opt/acme-server"].isdir()
        wants = by_name["etc/systemd/system/multi-user.target.wants/acme-server.service"]
        assert wants.linkname == "../../../../usr/lib/systemd/system/acme-server.service"
        # The product's %post ran chrooted in the tree, with /bin/sh from demo-shell.
        assert text("var/lib/acme-server/post-install.txt") == "post ran for install 1\n"
        assert "opt/acme-server/bin/acme-server" in by_name
    assert "/usr/lib/systemd/system/acme-server.service" in result.overlay_files
    assert result.overlay_replaced == []


def test_second_assembly_is_byte_identical(
    assembled: tuple[Path, RootfsResult],
    spec: ProductSpec,
    base_tarball: Path,
    rpms: dict[str, Path],
    tmp_path: Path,
) -> None:
    _, first = assembled
    # Different input order and an existing work tree must not matter.
    (tmp_path / "tree" / "stale").mkdir(parents=True)
    second = assemble_rootfs(
        spec,
        base_tarball=base_tarball,
        rpms=[rpms["shell"], rpms["product"]],
        work_dir=tmp_path,
        out_tarball=tmp_path / "rootfs.tar.gz",
    )
    assert second.sha256 == first.sha256
    assert second.tarball.read_bytes() == first.tarball.read_bytes()


def test_missing_dependency_names_package_and_capability(
    spec: ProductSpec, base_tarball: Path, rpms: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(RootfsError) as error:
        assemble_rootfs(
            spec,
            base_tarball=base_tarball,
            rpms=[rpms["product"], rpms["needy"]],
            work_dir=tmp_path,
            out_tarball=tmp_path / "rootfs.tar.gz",
        )
    message = str(error.value)
    assert (
        "acme-server-2.1-1.el9.noarch needs 'demo-shell', which no RPM in the install set "
        "provides" in message
    )
    assert "acme-plugin-1.0-1.el9.noarch needs 'libacme-crypto.so.3()(64bit)'" in message
    assert "add the package that provides each of them to rootfs.packages" in message
    assert not (tmp_path / "rootfs.tar.gz").exists()


def test_service_user_missing_from_the_tree(
    spec: ProductSpec, base_tarball: Path, rpms: dict[str, Path], tmp_path: Path
) -> None:
    rootfs = spec.rootfs.model_copy(
        update={"service": spec.rootfs.service.model_copy(update={"user": "nobody2"})}
    )
    other = spec.model_copy(update={"rootfs": rootfs})
    with pytest.raises(RootfsError, match="rootfs.service.user 'nobody2' is not in the rootfs"):
        assemble_rootfs(
            other,
            base_tarball=base_tarball,
            rpms=[rpms["product"], rpms["shell"]],
            work_dir=tmp_path,
            out_tarball=tmp_path / "rootfs.tar.gz",
        )


def test_unsafe_base_tarball_is_refused(
    spec: ProductSpec, rpms: dict[str, Path], tmp_path: Path
) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        add_entry(archive, "etc", tarfile.SYMTYPE, 0o777, str(tmp_path / "outside"))
        add_file(archive, "etc/passwd", b"root:x:0:0::/:/bin/sh\n")
    (tmp_path / "outside").mkdir()
    with pytest.raises(RootfsError, match="would be written through a symlink"):
        assemble_rootfs(
            spec,
            base_tarball=evil,
            rpms=[rpms["product"]],
            work_dir=tmp_path / "work",
            out_tarball=tmp_path / "rootfs.tar.gz",
        )
    assert not (tmp_path / "outside" / "passwd").exists()
    shutil.rmtree(tmp_path / "work")
