"""A real S3 server for tests: moto's server mode on a free 127.0.0.1 port, with fixtures for
its endpoint, a client, a fresh bucket per test, and a counter of the GetObject requests a
module's client factory sends (the requests still go to the server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port; yields its endpoint URL."""
    saved = {key: os.environ.get(key) for key in TEST_CREDENTIALS}
    os.environ.update(TEST_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


test_client.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def new_bucket(endpoint: str) -> str:
    name = f"iso-assets-{uuid.uuid4().hex[:12]}"
    test_client(endpoint).create_bucket(Bucket=name)
    return name


def count_get_objects(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    factory: str,
    hooks: list[Callable[..., None]] | None = None,
) -> list[str]:
    """Wrap `module.<factory>` (a client factory taking endpoint_url) so every GetObject its
    clients send is recorded; `hooks` are registered on the same event (fault injection)."""
    calls: list[str] = []
    real_factory = getattr(module, factory)

    def counting_factory(endpoint_url: str | None) -> Any:
        client = real_factory(endpoint_url)
        client.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: calls.append(params["Key"])
        )
        for hook in hooks if hooks is not None else []:
            client.meta.events.register("before-parameter-build.s3.GetObject", hook)
        return client

    monkeypatch.setattr(module, factory, counting_factory)
    return calls


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def s3(endpoint: str) -> Any:
    return test_client(endpoint)


@pytest.fixture
def bucket(endpoint: str) -> str:
    return new_bucket(endpoint)
