"""sync_repo against real repos (rpmbuild + createrepo_c) served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from iso_assets.demo.serve import QuietHandler
from iso_assets.errors import ChecksumMismatchError, MirrorError
from iso_assets.mirror.sync import RepoSnapshot, sync_repo
from iso_assets.process import run_tool
from iso_assets.rpm.build import build_rpms, write_simple_spec
from iso_assets.spec.models import UpstreamRepo
from tests.conftest import TEST_EPOCH

COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group><id>core</id><name>Core</name><packagelist>
    <packagereq type="mandatory">foo</packagereq></packagelist></group>
  <environment><id>minimal-environment</id><name>Minimal</name>
    <grouplist><groupid>core</groupid></grouplist></environment>
</comps>
"""
ALLOWED = ("x86_64", "noarch")


def build_package(name: str, version: str, out_dir: Path, work: Path, arch: str = "noarch") -> Path:
    spec = write_simple_spec(
        work / f"{name}-{version}-{arch}.spec", name=name, version=version, arch=arch
    )
    target = None if arch == "noarch" else arch
    return build_rpms(spec, out_dir, source_date_epoch=TEST_EPOCH, target=target)[0]


def createrepo(repo: Path, *, comps: bool = False) -> None:
    argv = ["createrepo_c", "--quiet", "--revision", "42"]
    if comps:
        (repo / "comps.xml").write_text(COMPS)
        argv += ["-g", "comps.xml"]  # resolved against the repo folder
    run_tool([*argv, str(repo)])


@contextlib.contextmanager
def serve_counting(root: Path, *, flaky: tuple[str, ...] = ()) -> Iterator[tuple[str, list[str]]]:
    """Serve `root` on 127.0.0.1; yield (base URL, list of request paths as they arrive).

    The first request for a path ending in one of `flaky` answers 503, as an overloaded
    mirror might.
    """
    requests: list[str] = []

    class CountingHandler(QuietHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            if self.path.endswith(flaky or "\0") and requests.count(self.path) == 1:
                self.send_error(503, "try again")
                return
            super().do_GET()

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(CountingHandler, directory=str(root))
    )
    # A short poll interval: shutdown() waits for it (the default 0.5 s per test adds up).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def upstream(baseurl: str, **options: object) -> UpstreamRepo:
    return UpstreamRepo.model_validate(
        {"id": "baseos", "baseurl": baseurl, "allow_unsigned": True, **options}
    )


def no_blobs(_sha256: str) -> Path | None:
    return None


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """foo 1.0 + 1.1 (noarch), bar (x86_64), agent (aarch64), built once for the module."""
    work = tmp_path_factory.mktemp("rpms")
    out = work / "out"
    built = [
        build_package("foo", "1.0", out, work),
        build_package("foo", "1.1", out, work),
        build_package("bar", "2.0", out, work, arch="x86_64"),
        build_package("agent", "2.0", out, work, arch="aarch64"),
    ]
    return {path.name: path for path in built}


@pytest.fixture
def repo_dir(tmp_path: Path, rpms: dict[str, Path]) -> Path:
    repo = tmp_path / "www" / "baseos"
    for name, path in rpms.items():
        (repo / "Packages" / name[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, repo / "Packages" / name[0] / name)
    createrepo(repo, comps=True)
    return repo


def by_path(snapshot: RepoSnapshot) -> dict[str, object]:
    return {f.path: f for f in snapshot.files}


def test_sync_keeps_every_metadata_file_and_filters_foreign_arches(
    tmp_path: Path, repo_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_counting(repo_dir.parent) as (url, _), caplog.at_level(logging.WARNING):
        snapshot = sync_repo(
            upstream(f"{url}/baseos"),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )

    kinds = {f.path: f.kind for f in snapshot.files}
    assert kinds["repodata/repomd.xml"] == "metadata"
    metadata = [p for p, kind in kinds.items() if kind == "metadata"]
    assert any("comps" in p for p in metadata), metadata  # group data kept
    assert sorted(p for p, kind in kinds.items() if kind == "package") == [
        "Packages/b/bar-2.0-1.el9.x86_64.rpm",
        "Packages/f/foo-1.0-1.el9.noarch.rpm",
        "Packages/f/foo-1.1-1.el9.noarch.rpm",
    ]
    assert snapshot.revision == "42"
    assert snapshot.filtered is True
    assert snapshot.skipped == ["agent-2.0-1.el9.aarch64"]
    assert snapshot.signature_policy.startswith("allow_unsigned")
    assert snapshot.stats.downloaded_packages == 3
    assert snapshot.installer_tree is None
    for mirrored in snapshot.files:
        assert mirrored.local == tmp_path / "mirror" / mirrored.path
        assert mirrored.local.stat().st_size == mirrored.size
    assert (
        "mirror baseos (x86_64, noarch): skipped 1 packages of other arches: "
        "agent-2.0-1.el9.aarch64" in caplog.text
    )


def test_keep_newest_and_name_filters(tmp_path: Path, repo_dir: Path) -> None:
    with serve_counting(repo_dir.parent) as (url, _):
        snapshot = sync_repo(
            upstream(f"{url}/baseos", keep_newest=1, exclude=["bar"]),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    packages = [f.path for f in snapshot.files if f.kind == "package"]
    assert packages == ["Packages/f/foo-1.1-1.el9.noarch.rpm"]
    assert snapshot.skipped == [
        "agent-2.0-1.el9.aarch64",
        "bar-2.0-1.el9.x86_64",
        "foo-1.0-1.el9.noarch",
    ]


def test_second_sync_downloads_no_package(tmp_path: Path, repo_dir: Path) -> None:
    with serve_counting(repo_dir.parent) as (url, requests):
        first = sync_repo(
            upstream(f"{url}/baseos"),
            tmp_path / "first",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
        assert requests[0] == "/baseos/repodata/repomd.xml"  # repomd first, always
        store = {f.sha256: f.local for f in first.files if f.kind == "package"}
        requests.clear()
        second = sync_repo(
            upstream(f"{url}/baseos"),
            tmp_path / "second",
            allowed_arches=ALLOWED,
            known_blob=store.get,
            spec_dir=tmp_path,
        )

    assert requests[0] == "/baseos/repodata/repomd.xml"
    assert [r for r in requests if r.endswith(".rpm")] == []
    assert second.stats.downloaded_packages == 0
    assert second.stats.reused_packages == 3
    assert {f.sha256 for f in second.files if f.kind == "package"} == set(store)
    assert not (tmp_path / "second" / "Packages").exists()


def test_tampered_package_raises_checksum_mismatch(tmp_path: Path, repo_dir: Path) -> None:
    tampered = repo_dir / "Packages" / "f" / "foo-1.1-1.el9.noarch.rpm"
    data = bytearray(tampered.read_bytes())
    data[-5] ^= 0xFF
    tampered.write_bytes(bytes(data))

    with serve_counting(repo_dir.parent) as (url, _), pytest.raises(ChecksumMismatchError) as err:
        sync_repo(
            upstream(f"{url}/baseos"),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    message = str(err.value)
    assert "foo-1.1-1.el9.noarch" in message
    assert f"{url}/baseos/Packages/f/foo-1.1-1.el9.noarch.rpm" in message
    assert "primary.xml expects" in message
    assert not (tmp_path / "mirror" / "Packages" / "f" / "foo-1.1-1.el9.noarch.rpm").exists()
    assert not list((tmp_path / "mirror").rglob("*.part"))
    assert not list((tmp_path / "mirror").rglob("*.incoming"))
    # The repo is not published half-done: no repomd.xml was moved into place.
    assert not (tmp_path / "mirror" / "repodata" / "repomd.xml").exists()


def test_unreachable_upstream_raises_mirror_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MirrorError) as err:
        sync_repo(
            upstream(f"http://127.0.0.1:{port}/baseos"),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    message = str(err.value)
    assert f"http://127.0.0.1:{port}/baseos/repodata/repomd.xml" in message
    assert "ConnectError" in message
    assert "check the repo's baseurl and the network" in message


def test_server_errors_are_retried(tmp_path: Path, repo_dir: Path) -> None:
    flaky = ("repomd.xml", "foo-1.1-1.el9.noarch.rpm")
    with serve_counting(repo_dir.parent, flaky=flaky) as (url, requests):
        snapshot = sync_repo(
            upstream(f"{url}/baseos"),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    assert requests[:2] == ["/baseos/repodata/repomd.xml"] * 2
    assert requests.count("/baseos/Packages/f/foo-1.1-1.el9.noarch.rpm") == 2
    assert snapshot.stats.downloaded_packages == 3


def test_missing_repodata_says_where_it_looked(tmp_path: Path, repo_dir: Path) -> None:
    with serve_counting(repo_dir.parent) as (url, _), pytest.raises(MirrorError) as err:
        sync_repo(
            upstream(f"{url}/nothing-here"),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    assert "must be the folder that holds repodata/" in str(err.value)


def test_file_name_arch_that_is_not_the_header_arch_is_an_error(
    tmp_path: Path, rpms: dict[str, Path]
) -> None:
    repo = tmp_path / "www" / "vendor"
    repo.mkdir(parents=True)
    # The aarch64 build published under an x86_64 file name (case repo06).
    shutil.copy2(rpms["agent-2.0-1.el9.aarch64.rpm"], repo / "agent-2.0-1.el9.x86_64.rpm")
    createrepo(repo)
    with pytest.raises(MirrorError) as err:
        sync_repo(
            upstream(repo.as_uri()),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    assert "file name says arch x86_64 but the RPM header says aarch64" in str(err.value)


def make_installer_tree(repo: Path, *, wrong_checksum: str | None = None) -> None:
    """A small tree in the productmd layout: kernel, initrd, stage2, efiboot + checksums."""
    images = {
        "images/pxeboot/vmlinuz": b"kernel bytes",
        "images/pxeboot/initrd.img": b"initrd bytes",
        "images/install.img": b"stage2 bytes",
        "images/efiboot.img": b"efiboot bytes",
    }
    for path, content in images.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(content)
    sums = {p: hashlib.sha256(c).hexdigest() for p, c in images.items()}
    if wrong_checksum:
        sums[wrong_checksum] = "0" * 64
    template = (Path(__file__).parent / "data" / "mirror" / "treeinfo-minimal").read_text()
    fields = {path.replace("/", "_").replace(".", "_"): digest for path, digest in sums.items()}
    (repo / ".treeinfo").write_text(template.format(**fields))


def test_installer_tree_is_mirrored_and_verified(tmp_path: Path, repo_dir: Path) -> None:
    make_installer_tree(repo_dir)
    snapshot = sync_repo(
        upstream(repo_dir.as_uri(), installer_tree=True),
        tmp_path / "mirror",
        allowed_arches=ALLOWED,
        known_blob=no_blobs,
        spec_dir=tmp_path,
    )
    tree = snapshot.installer_tree
    assert tree is not None
    assert (tree.kernel, tree.initrd, tree.stage2, tree.efiboot) == (
        "images/pxeboot/vmlinuz",
        "images/pxeboot/initrd.img",
        "images/install.img",
        "images/efiboot.img",
    )
    installer = sorted(f.path for f in snapshot.files if f.kind == "installer")
    assert installer == [
        ".treeinfo",
        "images/efiboot.img",
        "images/install.img",
        "images/pxeboot/initrd.img",
        "images/pxeboot/vmlinuz",
    ]  # no .discinfo upstream: that is fine
    assert (tmp_path / "mirror" / "images" / "pxeboot" / "vmlinuz").read_bytes() == b"kernel bytes"


def test_installer_image_with_wrong_checksum_is_rejected(tmp_path: Path, repo_dir: Path) -> None:
    make_installer_tree(repo_dir, wrong_checksum="images/install.img")
    with pytest.raises(ChecksumMismatchError) as err:
        sync_repo(
            upstream(repo_dir.as_uri(), installer_tree=True),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    assert "images/install.img" in str(err.value)
    assert ".treeinfo [checksums] expects " + "0" * 64 in str(err.value)


def test_case_repo06_foreign_arch(
    shared_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = shared_dir / "cases" / "repo06-foreign-arch"
    run_tool(["bash", str(case / "make_upstream.sh")], cwd=tmp_path)
    with serve_counting(tmp_path) as (url, _), caplog.at_level(logging.WARNING):
        snapshot = sync_repo(
            UpstreamRepo(id="vendor", baseurl=f"{url}/x86_64", allow_unsigned=True),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
            label="vendor/9.4",
        )
    assert (
        "mirror vendor/9.4 (x86_64, noarch): skipped 2 packages of other arches: "
        "agent-2.0-1.aarch64, legacy-lib-1.0-1.i686" in caplog.text
    )
    packages = sorted(f.path for f in snapshot.files if f.kind == "package")
    assert packages == ["agent-2.0-1.x86_64.rpm", "docs-1.0-1.noarch.rpm"]
    assert snapshot.filtered
