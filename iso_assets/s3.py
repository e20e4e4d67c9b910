"""What every S3 user here shares: s3:// URLs, endpoint and region from the environment, and
one client factory (standard credential chain, standard retries)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

ENDPOINT_ENV = "ISO_ASSETS_S3_ENDPOINT_URL"
MAX_ATTEMPTS = 5


def split_s3_url(url: str) -> tuple[str, str] | None:
    """(bucket, prefix without surrounding slashes) of s3://bucket/prefix; None otherwise."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        return None
    return bucket, prefix.strip("/")


def endpoint_from_env(
    explicit: str | None = None, env: Mapping[str, str] = os.environ
) -> str | None:
    """`explicit`, else ISO_ASSETS_S3_ENDPOINT_URL (an S3-compatible server); None for AWS."""
    return explicit or env.get(ENDPOINT_ENV) or None


def region_from_env(env: Mapping[str, str] = os.environ) -> str | None:
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    max_pool_connections: int = 10,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """A boto3 S3 client; credentials always come from boto3's standard chain."""
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )
