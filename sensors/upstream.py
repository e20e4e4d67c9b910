"""Sensor `upstream_repo_changes`: a new repomd.xml upstream rebuilds the active versions.

Per tick and upstream repo it fetches repodata/repomd.xml only (a few KiB, whatever the size
of primary.xml) and compares its sha256 with the cursor, which holds one (revision, sha256)
per repo: its size does not depend on how many packages the repos hold (case dag02). The
first sight of a repo only records it. A change records an observation on `mirrored_repo`
for each active version (the mirror is stale) and requests its rebuild with a run key per
(version, changed repos at their new revisions), so one revision starts at most one build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from iso_assets.errors import MirrorError
from iso_assets.jobs import BUILD_JOB
from iso_assets.mirror.repomd import parse_repomd
from iso_assets.schedules import active_versions
from iso_assets.spec.models import ProductSpec, UpstreamRepo
from resources.product import ProductSpecResource

log = logging.getLogger(__name__)

SENSOR_NAME = "upstream_repo_changes"
CURSOR_FORMAT = 1
REPOMD_HREF = "repodata/repomd.xml"
FETCH_TIMEOUT_SECONDS = 10.0
MAX_REPOMD_BYTES = 8 * 1024 * 1024
MINIMUM_INTERVAL_SECONDS = 600


@dataclass(frozen=True)
class RepoState:
    revision: str
    sha256: str


@dataclass
class UpstreamTick:
    states: dict[str, RepoState]
    changed: dict[str, RepoState]
    notes: list[str]
    seconds: float


def dump_cursor(states: dict[str, RepoState]) -> str:
    repos = {repo: [state.revision, state.sha256] for repo, state in sorted(states.items())}
    return json.dumps({"v": CURSOR_FORMAT, "repos": repos}, separators=(",", ":"))


def load_cursor(text: str | None) -> dict[str, RepoState]:
    if not text:
        return {}
    try:
        data = json.loads(text)
        if data.get("v") != CURSOR_FORMAT:
            return {}
        return {repo: RepoState(str(rev), str(sha)) for repo, (rev, sha) in data["repos"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("cursor %r is unreadable; every repo is seen for the first time", text)
        return {}


def fetch_repomd(client: httpx.Client, repo: UpstreamRepo) -> bytes:
    """repodata/repomd.xml of one repo (http(s) or file://); raises MirrorError naming the URL."""
    url = urljoin(repo.baseurl.rstrip("/") + "/", REPOMD_HREF)
    if urlsplit(url).scheme == "file":
        path = Path(unquote(urlsplit(url).path))
        try:
            return path.read_bytes()
        except OSError as exc:
            raise MirrorError(f"upstream {repo.id}: cannot read {path} ({exc})") from exc
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise MirrorError(f"upstream {repo.id}: cannot fetch {url} ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise MirrorError(f"upstream {repo.id}: {url} answered HTTP {response.status_code}")
    if len(response.content) > MAX_REPOMD_BYTES:
        raise MirrorError(f"upstream {repo.id}: {url} is over {MAX_REPOMD_BYTES} bytes")
    return response.content


def read_repo_state(client: httpx.Client, repo: UpstreamRepo) -> RepoState:
    """Revision and sha256 of one repo's repomd.xml; raises MirrorError (incl. malformed XML)."""
    content = fetch_repomd(client, repo)
    repomd = parse_repomd(content, source=f"{repo.id} {REPOMD_HREF}")
    return RepoState(revision=repomd.revision or "", sha256=hashlib.sha256(content).hexdigest())


def check_upstream(spec: ProductSpec, cursor: str | None) -> UpstreamTick:
    """Read every repo's repomd.xml; an unreachable repo keeps its last known state."""
    started = time.monotonic()
    known = load_cursor(cursor)
    states: dict[str, RepoState] = {}
    changed: dict[str, RepoState] = {}
    notes: list[str] = []
    # One client per tick: creating one costs ~0.1 s (TLS context), a repomd.xml ~0.01 s.
    with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True) as client:
        fetched = {}
        for repo in spec.upstream:
            try:
                fetched[repo.id] = read_repo_state(client, repo)
            except MirrorError as exc:
                notes.append(f"{repo.id}: repomd.xml not read, keeping the last state ({exc})")
                if repo.id in known:
                    states[repo.id] = known[repo.id]
    for repo_id, state in fetched.items():
        states[repo_id] = state
        before = known.get(repo_id)
        if before is None:
            notes.append(f"{repo_id}: first seen at revision {state.revision}")
        elif before.sha256 != state.sha256:
            changed[repo_id] = state
            notes.append(
                f"{repo_id}: repomd.xml changed, revision {before.revision} -> {state.revision}"
            )
    return UpstreamTick(states, changed, notes, time.monotonic() - started)


def rebuild_requests(
    versions: list[str], changed: dict[str, RepoState]
) -> tuple[list[RunRequest], list[AssetObservation]]:
    """One rebuild per version, keyed by the changed repos' new repomd sha256s."""
    changes = ",".join(f"{repo}@{state.sha256[:12]}" for repo, state in sorted(changed.items()))
    requests = [
        RunRequest(
            partition_key=version,
            run_key=f"upstream:{version}:{changes}",
            tags={"iso_assets/trigger": SENSOR_NAME, "iso_assets/upstream": changes},
        )
        for version in versions
    ]
    observations = [
        AssetObservation(
            asset_key="mirrored_repo",
            partition=version,
            metadata={
                "stale": "upstream repomd.xml changed",
                **{f"{repo}_revision": state.revision for repo, state in changed.items()},
            },
        )
        for version in versions
    ]
    return requests, observations


def build_upstream_sensor(
    *,
    active_limit: int | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> SensorDefinition:
    """The sensor; `active_limit` rebuilds only the newest N versions (None: all)."""

    def upstream_repo_changes(
        context: SensorEvaluationContext, product: ProductSpecResource
    ) -> SensorResult:
        spec = product.load()
        tick = check_upstream(spec, context.cursor)
        for note in tick.notes:
            context.log.info(note)
        context.log.info("read %d repomd.xml in %.2f s", len(tick.states), tick.seconds)
        cursor = dump_cursor(tick.states)
        if not tick.changed:
            return SensorResult(skip_reason="no upstream repo changed", cursor=cursor)
        versions = active_versions(context.instance, limit=active_limit)
        if not versions:
            return SensorResult(
                skip_reason="upstream changed but no product version is registered",
                cursor=cursor,
            )
        requests, observations = rebuild_requests(versions, tick.changed)
        return SensorResult(run_requests=requests, asset_events=observations, cursor=cursor)

    return sensor(
        name=SENSOR_NAME,
        job_name=BUILD_JOB,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=default_status,
        description="Rebuilds the active versions when an upstream repo publishes new metadata.",
    )(upstream_repo_changes)


upstream_repo_changes = build_upstream_sensor()
