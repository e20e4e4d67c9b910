"""The nightly schedule over dynamic partitions (case dag06) and its configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetSelection,
    Definitions,
    RunRequest,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    define_asset_job,
    instance_for_test,
)
from dagster._core.errors import DagsterInvalidDefinitionError

from iso_assets.assets import ALL_ASSETS
from iso_assets.jobs import ALL_JOBS, BUILD_JOB
from iso_assets.partitions import PARTITIONS_NAME, product_version_partitions
from iso_assets.paths import REPO_ROOT
from iso_assets.schedules import (
    CRON_ENV,
    TIMEZONE_ENV,
    ScheduleConfigError,
    active_versions,
    build_nightly_schedule,
    schedule_cron,
    schedule_timezone,
)


def evaluate(schedule, instance, when: datetime) -> tuple[list[RunRequest], str | None]:
    """(run requests, skip message), evaluated as the daemon does: partition keys checked."""
    defs = Definitions(
        assets=ALL_ASSETS,
        jobs=ALL_JOBS,
        schedules=[schedule],
        resources={"product": 0, "store": 0},
    )
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    data = schedule.evaluate_tick(context)
    requests = [r for r in data.run_requests or [] if isinstance(r, RunRequest)]
    return requests, data.skip_message


def test_defaults_are_two_oclock_in_shanghai() -> None:
    schedule = build_nightly_schedule()
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == BUILD_JOB


def test_two_active_versions_at_two_oclock_local_time() -> None:
    schedule = build_nightly_schedule(timezone="Asia/Shanghai")
    # 02:00 in Shanghai is 18:00 UTC the day before: the night is named in local time.
    at_two = datetime(2025, 3, 1, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with instance_for_test() as instance:
        # Insertion order is not version order: 1.10.0 must come before 1.9.0.
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.9.0", "1.10.0"])
        requests, _ = evaluate(schedule, instance, at_two.astimezone(ZoneInfo("UTC")))
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("1.10.0", "nightly:2025-03-01:1.10.0"),
        ("1.9.0", "nightly:2025-03-01:1.9.0"),
    ]
    assert requests[0].tags["iso_assets/trigger"] == "nightly"


def test_configured_timezone_names_its_own_night() -> None:
    schedule = build_nightly_schedule(timezone="America/New_York")
    at_two = datetime(2025, 3, 1, 2, 0, tzinfo=ZoneInfo("America/New_York"))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.0.0"])
        [request], _ = evaluate(schedule, instance, at_two)
    assert schedule.execution_timezone == "America/New_York"
    assert request.run_key == "nightly:2025-03-01:1.0.0"


def test_no_versions_is_a_skip() -> None:
    with instance_for_test() as instance:
        requests, skipped = evaluate(build_nightly_schedule(), instance, datetime(2025, 3, 1, 2))
    assert requests == [] and "no product_version partition" in str(skipped)


def test_active_versions_sorts_by_version_and_limits() -> None:
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["9.1", "9.10", "9.2", "9.4-eus", "9.4"])
        assert active_versions(instance) == ["9.10", "9.4", "9.4-eus", "9.2", "9.1"]
        assert active_versions(instance, limit=2) == ["9.10", "9.4"]


def test_partitioned_schedule_helper_rejects_dynamic_partitions() -> None:
    """Why the schedule is an explicit @schedule (case dag06)."""
    job = define_asset_job(
        "dynamic_job",
        selection=AssetSelection.groups("build"),
        partitions_def=product_version_partitions,
    )
    defs = Definitions(assets=ALL_ASSETS, jobs=[job], resources={"product": 0, "store": 0})
    with pytest.raises(DagsterInvalidDefinitionError):
        build_schedule_from_partitioned_job(defs.resolve_job_def("dynamic_job"))


def test_schedule_targets_a_defined_job() -> None:
    names = {job.name for job in ALL_JOBS}
    assert build_nightly_schedule().job_name in names


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({TIMEZONE_ENV: "Mars/Olympus_Mons"}, "'Mars/Olympus_Mons' is not a timezone"),
        ({TIMEZONE_ENV: "../etc/passwd"}, "is not a timezone"),
        ({CRON_ENV: "0 2 * *"}, "not a cron expression of 5 fields"),
        ({CRON_ENV: "61 2 * * *"}, "not a cron expression Dagster accepts"),
        ({CRON_ENV: "0 2 30 2 *"}, "not a cron expression Dagster accepts"),
    ],
)
def test_bad_configuration_fails_clearly(env: dict[str, str], words: str) -> None:
    with pytest.raises(ScheduleConfigError, match=words) as error:
        build_nightly_schedule(cron=env.get(CRON_ENV), timezone=env.get(TIMEZONE_ENV))
    assert next(iter(env)) in str(error.value)


def test_environment_is_read() -> None:
    env = {TIMEZONE_ENV: "Europe/Berlin", CRON_ENV: "30 3 * * 1-5"}
    assert schedule_timezone(env) == "Europe/Berlin"
    assert schedule_cron(env) == "30 3 * * 1-5"
    assert schedule_timezone({}) == "Asia/Shanghai" and schedule_cron({}) == "0 2 * * *"


def test_bad_timezone_stops_the_code_location_from_loading() -> None:
    env = {**os.environ, TIMEZONE_ENV: "Asia/Shanghia"}
    loaded = subprocess.run(
        [sys.executable, "-c", "import iso_assets.schedules"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0
    assert "ScheduleConfigError: ISO_ASSETS_SCHEDULE_TZ='Asia/Shanghia'" in loaded.stderr
