"""sync_incoming, the build and the sensor on an s3:// incoming prefix, against a real S3 server
over HTTP on 127.0.0.1 (moto's server mode). GetObject calls are counted with a botocore hook on
the client sync_incoming makes; the requests still go to the server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from dagster import instance_for_test

from iso_assets import incoming_s3
from iso_assets.incoming_s3 import STATE_FILE, IncomingSyncError, sync_incoming
from iso_assets.partitions import PARTITIONS_NAME
from iso_assets.paths import DEMO_SPEC
from iso_assets.product_rpms import ProductRpmsError, product_rpms_for_version
from iso_assets.spec import load_product_spec
from tests.conftest import MakeRpm
from tests.s3_fixtures import count_get_objects
from tests.test_sensors_new_rpms import (
    DEMO_INCOMING,
    evaluate,
    partitions_of,
    skip_text,
)


@pytest.fixture
def get_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys of every GetObject that sync_incoming sends."""
    return count_get_objects(monkeypatch, incoming_s3, "make_incoming_client")


@pytest.fixture
def rpms(make_rpm: MakeRpm, tmp_path: Path) -> dict[str, Path]:
    """Real product RPMs: acme-server and acme-tools 1.1.0, acme-server 1.2.0."""
    out = tmp_path / "built"
    return {
        "server": make_rpm("acme-server", "1.1.0", out / "a", arch="x86_64", target="x86_64"),
        "tools": make_rpm("acme-tools", "1.1.0", out / "b", arch="noarch"),
        "server-1.2.0": make_rpm("acme-server", "1.2.0", out / "c", arch="x86_64", target="x86_64"),
    }


def spec_with_s3_incoming(tmp_path: Path, url: str) -> Path:
    """The demo spec with its incoming location pointed at `url`."""
    path = tmp_path / "product.yaml"
    path.write_text(DEMO_SPEC.read_text().replace(DEMO_INCOMING, url))
    return path


def upload(s3: Any, bucket: str, key: str, rpm: Path) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=rpm.read_bytes())


def local_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def test_sync_downloads_only_what_changed_and_removes_what_vanished(
    s3: Any,
    bucket: str,
    endpoint: str,
    get_calls: list[str],
    rpms: dict[str, Path],
    tmp_path: Path,
) -> None:
    upload(s3, bucket, "drop/acme-server.rpm", rpms["server"])
    upload(s3, bucket, "drop/tools/acme-tools.rpm", rpms["tools"])
    s3.put_object(Bucket=bucket, Key="drop/README.txt", Body=b"not mirrored\n")
    s3.put_object(Bucket=bucket, Key="drop-other/x.rpm", Body=b"another prefix\n")
    url = f"s3://{bucket}/drop"

    folder = sync_incoming(url, tmp_path / "cache", endpoint_url=endpoint)
    assert folder.parent == tmp_path / "cache"
    assert local_files(folder) == {
        "acme-server.rpm": rpms["server"].read_bytes(),
        "tools/acme-tools.rpm": rpms["tools"].read_bytes(),
    }
    assert sorted(get_calls) == ["drop/acme-server.rpm", "drop/tools/acme-tools.rpm"]
    server_inode = (folder / "acme-server.rpm").stat().st_ino

    get_calls.clear()
    assert sync_incoming(url + "/", tmp_path / "cache", endpoint_url=endpoint) == folder
    assert get_calls == []
    assert (folder / "acme-server.rpm").stat().st_ino == server_inode

    upload(s3, bucket, "drop/acme-server-1.2.0.rpm", rpms["server-1.2.0"])
    sync_incoming(url, tmp_path / "cache", endpoint_url=endpoint)
    assert get_calls == ["drop/acme-server-1.2.0.rpm"]
    assert (folder / "acme-server-1.2.0.rpm").read_bytes() == rpms["server-1.2.0"].read_bytes()

    get_calls.clear()
    s3.delete_object(Bucket=bucket, Key="drop/tools/acme-tools.rpm")
    sync_incoming(url, tmp_path / "cache", endpoint_url=endpoint)
    assert get_calls == []
    assert sorted(local_files(folder)) == ["acme-server-1.2.0.rpm", "acme-server.rpm"]
    assert not (folder / "tools").exists()
    assert {path.name for path in folder.iterdir()} == {
        ".s3-sync.lock",
        STATE_FILE,
        "acme-server-1.2.0.rpm",
        "acme-server.rpm",
    }


def test_replaced_object_is_downloaded_again(
    s3: Any,
    bucket: str,
    endpoint: str,
    get_calls: list[str],
    rpms: dict[str, Path],
    tmp_path: Path,
) -> None:
    upload(s3, bucket, "acme.rpm", rpms["server"])
    folder = sync_incoming(f"s3://{bucket}", tmp_path / "cache", endpoint_url=endpoint)
    upload(s3, bucket, "acme.rpm", rpms["server-1.2.0"])
    get_calls.clear()

    sync_incoming(f"s3://{bucket}", tmp_path / "cache", endpoint_url=endpoint)

    assert get_calls == ["acme.rpm"]
    assert (folder / "acme.rpm").read_bytes() == rpms["server-1.2.0"].read_bytes()


def test_build_finds_the_version_uploaded_to_s3(
    s3: Any,
    bucket: str,
    endpoint: str,
    rpms: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ISO_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ISO_ASSETS_S3_ENDPOINT_URL", endpoint)
    for label in ("server", "tools", "server-1.2.0"):
        upload(s3, bucket, f"rpms/{rpms[label].name}", rpms[label])
    spec = load_product_spec(spec_with_s3_incoming(tmp_path, f"s3://{bucket}/rpms"))

    found = product_rpms_for_version(spec, "1.1.0")

    assert sorted(rpm.header.name for rpm in found) == ["acme-server", "acme-tools"]
    assert all(rpm.path.is_relative_to(tmp_path / "home" / "incoming") for rpm in found)
    assert found[0].path.read_bytes() == rpms["server"].read_bytes()


def test_sensor_adds_the_partition_of_a_version_uploaded_to_s3(
    s3: Any,
    bucket: str,
    endpoint: str,
    rpms: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ISO_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ISO_ASSETS_S3_ENDPOINT_URL", endpoint)
    spec_path = spec_with_s3_incoming(tmp_path, f"s3://{bucket}/incoming")
    upload(s3, bucket, "incoming/acme-server-1.1.0.rpm", rpms["server"])
    with instance_for_test() as instance:
        first = evaluate(instance, spec_path, None)
        assert partitions_of(first) == ["1.1.0"]
        [add] = first.dynamic_partitions_requests or []
        assert add.partitions_def_name == PARTITIONS_NAME and list(add.partition_keys) == ["1.1.0"]
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.1.0"])

        unchanged = evaluate(instance, spec_path, first.cursor)
        assert "no new product RPMs" in skip_text(unchanged)

        upload(s3, bucket, "incoming/acme-server-1.2.0.rpm", rpms["server-1.2.0"])
        second = evaluate(instance, spec_path, unchanged.cursor)
        assert partitions_of(second) == ["1.2.0"]


def test_missing_bucket_is_a_sync_error_and_a_sensor_skip(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IncomingSyncError) as raised:
        sync_incoming("s3://no-such-bucket-x/p", tmp_path, endpoint_url=endpoint)
    assert str(raised.value) == (
        "cannot list s3://no-such-bucket-x/p: the bucket does not exist; create it or fix "
        "product_rpms.incoming"
    )
    monkeypatch.setenv("ISO_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ISO_ASSETS_S3_ENDPOINT_URL", endpoint)
    spec_path = spec_with_s3_incoming(tmp_path, "s3://no-such-bucket-x/p")
    with pytest.raises(ProductRpmsError, match="the bucket does not exist"):
        product_rpms_for_version(load_product_spec(spec_path), "1.1.0")
    with instance_for_test() as instance:
        result = evaluate(instance, spec_path, None)
    assert "s3://no-such-bucket-x/p: the bucket does not exist" in skip_text(result)


def test_unreachable_endpoint_names_the_settings(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incoming_s3, "MAX_ATTEMPTS", 1)  # no retry backoff in the test
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed
    with pytest.raises(IncomingSyncError, match=r"cannot list s3://b/p: S3 not reachable") as err:
        sync_incoming("s3://b/p", tmp_path, endpoint_url=dead)
    assert "ISO_ASSETS_S3_ENDPOINT_URL" in str(err.value)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("p/a.rpm", "a.rpm"),
        ("p/sub/a.rpm", "sub/a.rpm"),
        ("p/../a.rpm", None),
        ("p//a.rpm", None),
        ("p/.partial.rpm", None),
        ("p/notes.txt", None),
    ],
)
def test_only_safe_rpm_keys_are_mirrored(key: str, expected: str | None) -> None:
    assert incoming_s3.local_path_of(key, "p") == expected
