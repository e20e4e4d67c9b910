"""Fetch files below a repo's baseurl: http(s) through one httpx.Client, file:// from disk.

Every download streams to a `.part` file while hashing in the same pass, and is renamed into
place only when complete. Connect errors, timeouts and 5xx answers are retried (3 attempts);
anything else fails at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from iso_assets.errors import MirrorError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
ATTEMPTS = 3


class NotFoundError(MirrorError):
    """Raised when the upstream answers 404 (or a file:// path does not exist)."""


class _ServerError(Exception):
    """A 5xx answer: worth retrying, unlike 4xx."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    # hashlib algorithm name -> hex digest; always has "sha256".
    digests: dict[str, str]


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | _ServerError)


class Fetcher:
    """Downloads hrefs relative to one baseurl; safe to share between threads."""

    def __init__(self, baseurl: str, *, repo_label: str, timeout: float = 60.0) -> None:
        self.repo_label = repo_label
        self.baseurl = baseurl if baseurl.endswith("/") else baseurl + "/"
        self.is_local = urlsplit(self.baseurl).scheme == "file"
        self.client = httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_of(self, href: str, *, base: str | None = None) -> str:
        root = base if base else self.baseurl
        return urljoin(root if root.endswith("/") else root + "/", href)

    def download(
        self,
        href: str,
        target: Path,
        *,
        algorithms: tuple[str, ...] = (),
        base: str | None = None,
    ) -> Fetched:
        """Stream `href` to `target`, hashing with sha256 and `algorithms`.

        Raises NotFoundError on 404, MirrorError naming the URL when the upstream is
        unreachable after retries or answers another error status.
        """
        url = self.url_of(href, base=base)
        names = tuple(dict.fromkeys(("sha256", *algorithms)))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            retrying = Retrying(
                stop=stop_after_attempt(ATTEMPTS),
                wait=wait_exponential(multiplier=0.2, max=2),
                retry=retry_if_exception(_is_transient),
                before_sleep=before_sleep_log(log, logging.WARNING),
                reraise=True,
            )
            size, digests = retrying(self._fetch_once, url, partial, names)
        except (httpx.TransportError, _ServerError) as exc:
            partial.unlink(missing_ok=True)
            raise MirrorError(
                f"mirror {self.repo_label}: cannot fetch {url} ({type(exc).__name__}: {exc}); "
                f"check the repo's baseurl and the network"
            ) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return Fetched(path=target, size=size, digests=digests)

    def _fetch_once(
        self, url: str, partial: Path, names: tuple[str, ...]
    ) -> tuple[int, dict[str, str]]:
        hashers = {name: hashlib.new(name) for name in names}
        size = 0
        with partial.open("wb") as out:
            for chunk in self._chunks(url):
                out.write(chunk)
                size += len(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
        return size, {name: hasher.hexdigest() for name, hasher in hashers.items()}

    def _chunks(self, url: str) -> Iterator[bytes]:
        if self.is_local:
            source = Path(unquote(urlsplit(url).path))
            if not source.is_file():
                raise NotFoundError(f"mirror {self.repo_label}: {url} does not exist")
            with source.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
            return
        with self.client.stream("GET", url) as response:
            if response.status_code == 404:
                raise NotFoundError(f"mirror {self.repo_label}: {url} answered 404 Not Found")
            if response.status_code >= 500:
                raise _ServerError(f"{url}: HTTP {response.status_code}")
            if response.status_code >= 400:
                raise MirrorError(
                    f"mirror {self.repo_label}: {url} answered HTTP {response.status_code}; "
                    f"check the repo's baseurl and access rights"
                )
            yield from response.iter_bytes(CHUNK)
