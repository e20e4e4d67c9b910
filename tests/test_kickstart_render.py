"""Rendering ks.cfg from a product spec: clean under RHEL9, deterministic, secrets kept out."""

from __future__ import annotations

from typing import Any

import pytest
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

from iso_assets.errors import KickstartError
from iso_assets.kickstart import (
    INSTALL_OK_MARKER,
    install_marker,
    render_kickstart,
    root_password_hash_from_env,
    validate_kickstart,
)
from iso_assets.process import run_tool
from iso_assets.repodata.facts import MediaFacts, RepoFacts
from iso_assets.spec.models import ProductSpec

HASH_ENV = "ACME_ROOT_HASH"


def spec_data(**kickstart: Any) -> dict[str, Any]:
    return {
        "name": "acme",
        "release": "el9",
        "source_date_epoch": 1700000000,
        "upstream": [
            {
                "id": "baseos",
                "baseurl": "http://127.0.0.1/b",
                "allow_unsigned": True,
                "installer_tree": True,
            },
            {"id": "appstream", "baseurl": "http://127.0.0.1/a", "allow_unsigned": True},
        ],
        "product_rpms": {"incoming": "/srv/incoming", "packages": ["acme-server"]},
        "rootfs": {
            "base_tarball": "base.tar",
            "service": {"name": "acme", "exec_start": "/opt/acme/bin/run"},
        },
        "kickstart": {
            "root_password_hash_env": HASH_ENV,
            "firewall": {"services": ["ssh"], "ports": ["8443:tcp"]},
            "bootloader": {"append": "console=tty0 console=ttyS0,115200"},
            "packages": ["@^minimal-environment", "chrony"],
            "post": "systemctl enable acme.service\necho configured > /etc/acme.stamp",
            **kickstart,
        },
        "iso": {"volume_id": "ACME-{version_id}"},
    }


@pytest.fixture(scope="module")
def sha512_hash() -> str:
    """A real sha512crypt hash made by openssl (the password is a throwaway test value)."""
    result = run_tool(
        ["openssl", "passwd", "-6", "-salt", "isoassets", "-stdin"],
        input_bytes=b"test-only-password\n",
    )
    return result.stdout.decode().strip()


def media() -> MediaFacts:
    return MediaFacts(
        [
            RepoFacts("baseos", {"bash", "kernel"}, {"core"}, {"minimal-environment"}, True),
            RepoFacts("appstream", {"chrony"}, set(), set(), True),
            RepoFacts("product", {"acme-server"}),
        ]
    )


def render(spec: ProductSpec, password_hash: str, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "version": "9.4.1",
        "volume_id": spec.volume_id_for("9.4.1"),
        "repo_ids": ["baseos", "appstream"],
        "root_password_hash": password_hash,
        "rootfs_image": None,
    }
    arguments.update(overrides)
    return render_kickstart(spec, **arguments)


def test_rendered_repos_kickstart_validates_clean(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(spec_data())
    text = render(spec, sha512_hash)

    assert validate_kickstart(text, handler="RHEL9", media=media(), release_version="9.4.1") == []
    lines = text.splitlines()
    assert "url --url=file:///run/install/repo/baseos" in lines
    assert "repo --name=appstream --baseurl=file:///run/install/repo/appstream" in lines
    assert "repo --name=product --baseurl=file:///run/install/repo/product" in lines
    assert f"rootpw --iscrypted {sha512_hash}" in lines
    assert "firewall --enabled --service=ssh --port=8443:tcp" in lines
    assert "timezone UTC --utc" in lines
    assert f'echo "{install_marker("acme", "9.4.1")}" > /dev/ttyS0' in lines
    assert install_marker("acme", "9.4.1").startswith(INSTALL_OK_MARKER + " product=acme")
    assert lines[-1] == "reboot"


def test_rendered_kickstart_as_pykickstart_reads_it(sha512_hash: str) -> None:
    text = render(ProductSpec.model_validate(spec_data()), sha512_hash)
    parser = KickstartParser(makeVersion("RHEL9"))
    parser.readKickstartFromString(text)
    handler = parser.handler

    assert handler.bootloader.appendLine == "console=tty0 console=ttyS0,115200"
    assert handler.bootloader.timeout == 5
    assert handler.reqpart.reqpart
    assert [(p.mountpoint, p.size) for p in handler.partition.partitions] == [
        ("/boot", 1024),
        ("pv.01", 1),
    ]
    assert [(v.name, v.vgname, v.grow) for v in handler.logvol.lvList] == [
        ("swap", "vg_system", False),
        ("root", "vg_system", True),
    ]
    assert handler.packages.environment == "minimal-environment"
    assert handler.packages.packageList == ["acme-server", "chrony"]
    product_post, marker_post = handler.scripts
    assert product_post.errorOnFail and product_post.logfile == "/root/ks-post.log"
    assert INSTALL_OK_MARKER in marker_post.script


def test_rendering_is_deterministic(sha512_hash: str) -> None:
    first = render(ProductSpec.model_validate(spec_data()), sha512_hash)
    second = render(ProductSpec.model_validate(spec_data()), sha512_hash)
    assert first.encode() == second.encode()
    assert render(ProductSpec.model_validate(spec_data()), sha512_hash, version="9.4.2") != first


def test_static_network_and_single_disk(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(
        spec_data(
            network={
                "bootproto": "static",
                "ip": "192.0.2.10",
                "netmask": "255.255.255.0",
                "gateway": "192.0.2.1",
                "nameservers": ["192.0.2.53"],
            },
            hostname="acme-node",
            partitioning={"disk": "vda"},
            reboot=False,
        )
    )
    text = render(spec, sha512_hash)
    lines = text.splitlines()
    assert (
        "network --bootproto=static --device=link --ip=192.0.2.10 --netmask=255.255.255.0 "
        "--gateway=192.0.2.1 --nameserver=192.0.2.53 --activate --hostname=acme-node"
    ) in lines
    assert "clearpart --all --initlabel --drives=vda" in lines
    assert "ignoredisk --only-use=vda" in lines
    assert "part pv.01 --size=1 --grow --ondisk=vda" in lines
    assert lines[-1] == "poweroff"
    assert validate_kickstart(text, handler="RHEL9", media=media()) == []


def test_liveimg_source_has_no_packages(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(spec_data(install_source="liveimg"))
    text = render(spec, sha512_hash, repo_ids=[], rootfs_image="images/rootfs.tar.gz")

    assert "liveimg --url=file:///run/install/repo/images/rootfs.tar.gz" in text.splitlines()
    assert "%packages" not in text and "repo --name" not in text
    assert validate_kickstart(text, handler="RHEL9", media=None) == []
    with pytest.raises(KickstartError, match="no rootfs image"):
        render(spec, sha512_hash, rootfs_image=None)


@pytest.mark.parametrize("handler", ["RHEL8", "RHEL10"])
def test_rendered_kickstart_is_valid_for_other_releases(sha512_hash: str, handler: str) -> None:
    text = render(ProductSpec.model_validate(spec_data()), sha512_hash)
    assert validate_kickstart(text, handler=handler, media=media()) == []


def test_hash_from_environment(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(spec_data())
    assert root_password_hash_from_env(spec, {HASH_ENV: sha512_hash + "\n"}) == sha512_hash


def test_unset_hash_variable_is_named() -> None:
    spec = ProductSpec.model_validate(spec_data())
    with pytest.raises(KickstartError, match=f"{HASH_ENV} .* is not set"):
        root_password_hash_from_env(spec, {})


def test_plaintext_in_hash_variable_is_rejected_without_echo(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level("DEBUG")
    secret = "Sup3r-Secret-Root-Pw"
    monkeypatch.setenv(HASH_ENV, secret)
    spec = ProductSpec.model_validate(spec_data())

    with pytest.raises(KickstartError) as raised:
        root_password_hash_from_env(spec)
    assert HASH_ENV in str(raised.value) and "does not hold a crypt(3) hash" in str(raised.value)
    assert secret not in str(raised.value) and secret not in caplog.text

    with pytest.raises(KickstartError) as rendered:
        render(spec, secret)
    assert secret not in str(rendered.value) and secret not in caplog.text


def test_post_that_would_end_the_section_is_refused(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(spec_data(post="echo one\n%end\necho two"))
    with pytest.raises(KickstartError, match="kickstart.post line 2"):
        render(spec, sha512_hash)


def test_logical_volume_without_size_is_refused(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(
        spec_data(partitioning={"logical_volumes": [{"name": "root", "mountpoint": "/"}]})
    )
    with pytest.raises(KickstartError, match="'root': give size_mib, grow"):
        render(spec, sha512_hash)


def test_rootfs_image_path_must_be_a_plain_url_path(sha512_hash: str) -> None:
    spec = ProductSpec.model_validate(spec_data(install_source="liveimg"))
    with pytest.raises(KickstartError, match="must not hold spaces"):
        render(spec, sha512_hash, rootfs_image="images/root fs.tar")
