"""The Dagster UI: dagster-webserver on 127.0.0.1 with workspace.yaml, driven through GraphQL
and headless Chromium (Debian's `chromium` through Playwright; no browser download)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iso_assets.paths import DEMO_SPEC, REPO_ROOT
from tests.pipeline_fixtures import DemoInputs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = REPO_ROOT / "tests/output/ui-asset-lineage.png"
LOCATION = "iso_assets"
REPOSITORY = "__repository__"
ASSETS = {
    "mirrored_repo",
    "repodata",
    "rootfs",
    "kickstart",
    "iso",
    "iso_checksum",
    "vm_test_report",
    "trivy_scan",
}
# The test's instance launches runs at once (no daemon) and sends no telemetry.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not answer /server_info in {timeout} s:\n{log.read_text()}")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the webserver's own session (it and its code server); SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def webserver(demo_inputs: DemoInputs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a dagster-webserver loading workspace.yaml, with the demo inputs served."""
    root = tmp_path_factory.mktemp("ui")
    dagster_home = root / "dagster-home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "ISO_ASSETS_HOME": str(root / "iso-assets-home"),
        "ISO_ASSETS_PRODUCT": str(DEMO_SPEC),
    }
    port = free_port()
    argv = [
        "env",
        "--default-signal=INT,TERM",
        str(Path(sys.executable).parent / "dagster-webserver"),
        "-w",
        "workspace.yaml",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    log = root / "webserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        wait_for_server(url, process, log, timeout=120)
        print(f"\ndagster-webserver answered /server_info after {time.monotonic() - started:.1f} s")
        yield url
    finally:
        stop_process_group(process)


def graphql(url: str, query: str, **variables: object) -> dict:
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


ASSET_NODES = """
query { assetNodes { assetKey { path } dependencyKeys { path } } }
"""
ADD_PARTITION = """
mutation($key: String!) {
  addDynamicPartition(
    repositorySelector: {repositoryLocationName: "iso_assets", repositoryName: "__repository__"}
    partitionsDefName: "product_version"
    partitionKey: $key
  ) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on PythonError { message }
  }
}
"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { status stepStats { stepKey status } }
  }
}
"""
PARTITION_STATS = """
query($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions } }
  }
}
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def add_partition(url: str, key: str) -> None:
    result = graphql(url, ADD_PARTITION, key=key)["addDynamicPartition"]
    assert result["__typename"] == "AddDynamicPartitionSuccess", result


def test_graphql_shows_the_assets_and_their_lineage(webserver: str) -> None:
    from iso_assets.assets import ALL_ASSETS

    nodes = graphql(webserver, ASSET_NODES)["assetNodes"]
    shown = {
        "/".join(node["assetKey"]["path"]): {"/".join(d["path"]) for d in node["dependencyKeys"]}
        for node in nodes
    }
    assert set(shown) >= ASSETS
    # The UI shows exactly the lineage the code declares.
    for definition in ALL_ASSETS:
        for key, deps in definition.asset_deps.items():
            assert shown[key.to_user_string()] == {dep.to_user_string() for dep in deps}, key
    assert shown["repodata"] == {"mirrored_repo"}
    assert "iso" in shown["vm_test_report"]


def test_partition_added_and_materialized_through_graphql(webserver: str) -> None:
    add_partition(webserver, "1.0.0")
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "build_iso",
            "assetSelection": [{"path": ["mirrored_repo"]}],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "1.0.0"}]},
        "runConfigData": {},
    }
    launched = graphql(webserver, LAUNCH_RUN, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + 180
    status = "QUEUED"
    while time.monotonic() < deadline:
        run = graphql(webserver, RUN_STATUS, runId=run_id)["runOrError"]
        status = run["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS", run
    assert [step["status"] for step in run["stepStats"]] == ["SUCCESS"]
    stats = graphql(webserver, PARTITION_STATS, path=["mirrored_repo"])["assetNodeOrError"]
    assert stats["partitionStats"]["numMaterialized"] == 1


def test_backfill_of_versions_can_be_launched(webserver: str) -> None:
    """Case dag04: backfills over valid version keys launch (the UI splits keys on commas)."""
    keys = ["9.4", "8.10", "9.10"]
    for key in keys:
        add_partition(webserver, key)
    params = {"partitionNames": keys, "assetSelection": [{"path": ["mirrored_repo"]}]}
    result = graphql(webserver, LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result


def test_browser_shows_the_asset_graph(webserver: str) -> None:
    # Both come with `make test` (dev dependency, Debian's chromium): missing is a failure.
    from playwright import sync_api

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # The iso asset's lineage, five steps both ways: the whole graph, ungrouped.
            page.goto(f"{webserver}/assets/iso?view=lineage&lineageScope=neighbors&lineageDepth=5")
            for name in sorted(ASSETS):
                page.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=60_000)
            # Dagster's first-visit community prompt would cover the graph.
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()
            edges = page.locator("svg path").count()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert edges >= 9, f"{edges} lineage edges drawn"
    assert SCREENSHOT.stat().st_size > 20_000
    print(f"\nscreenshot: {SCREENSHOT}")
