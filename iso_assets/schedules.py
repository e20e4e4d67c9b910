"""The nightly rebuild of the active product versions, and what "active" means.

Dagster's partitioned-schedule helper rejects dynamic partitions (case dag06), so the
schedule lists the registered `product_version` keys itself and requests one run per version,
highest version first by `version_sort_key` (Dagster returns keys in insertion order). Adding
versions stays with the `new_product_rpms` sensor.

Cron and timezone come from the environment and are checked when this module is imported, so
a typo stops the code location from loading with a message naming the variable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import (
    DagsterInstance,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from dagster._core.errors import DagsterInvalidDefinitionError

from iso_assets.errors import IsoAssetsError, PartitionKeyError
from iso_assets.jobs import BUILD_JOB
from iso_assets.partitions import PARTITIONS_NAME, version_key, version_sort_key

log = logging.getLogger(__name__)

TIMEZONE_ENV = "ISO_ASSETS_SCHEDULE_TZ"
CRON_ENV = "ISO_ASSETS_SCHEDULE_CRON"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_CRON = "0 2 * * *"
SCHEDULE_NAME = "nightly_build"


class ScheduleConfigError(IsoAssetsError):
    """Raised at import when the schedule's cron or timezone from the environment is invalid."""


def schedule_timezone(env: Mapping[str, str] = os.environ) -> str:
    """The IANA timezone the schedule runs in; raises ScheduleConfigError for an unknown one."""
    name = env.get(TIMEZONE_ENV, "") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleConfigError(
            f"{TIMEZONE_ENV}={name!r} is not a timezone the zoneinfo database knows; use an "
            f"IANA name such as Asia/Shanghai, Europe/Berlin or UTC"
        ) from exc
    return name


def schedule_cron(env: Mapping[str, str] = os.environ) -> str:
    """The cron expression (5 fields); raises ScheduleConfigError when it is malformed."""
    cron = (env.get(CRON_ENV, "") or DEFAULT_CRON).strip()
    if len(cron.split()) != 5:
        raise ScheduleConfigError(
            f"{CRON_ENV}={cron!r} is not a cron expression of 5 fields (minute hour "
            f"day-of-month month day-of-week); the default is {DEFAULT_CRON!r} (02:00 daily)"
        )
    return cron


def active_versions(instance: DagsterInstance, *, limit: int | None = None) -> list[str]:
    """Registered product versions, highest first; keys that are not versions are left out.

    `limit` keeps only the newest N (None: all).
    """
    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    versions = []
    for key in keys:
        try:
            if version_key(key) != key:
                raise PartitionKeyError(f"{key!r} is not in canonical form {version_key(key)!r}")
        except PartitionKeyError as exc:
            log.warning("partition %r is not rebuilt: %s", key, exc)
            continue
        versions.append(key)
    versions.sort(key=version_sort_key, reverse=True)
    return versions if limit is None else versions[:limit]


def nightly_run_requests(versions: list[str], night: date) -> list[RunRequest]:
    """One run per version; the run key names the night, so a repeated tick adds nothing."""
    return [
        RunRequest(
            partition_key=version,
            run_key=f"nightly:{night.isoformat()}:{version}",
            tags={"iso_assets/trigger": "nightly", "iso_assets/night": night.isoformat()},
        )
        for version in versions
    ]


def build_nightly_schedule(
    *, cron: str | None = None, timezone: str | None = None
) -> ScheduleDefinition:
    """The nightly schedule; cron and timezone default to the environment's (validated)."""
    cron = schedule_cron({CRON_ENV: cron} if cron else os.environ)
    timezone = schedule_timezone({TIMEZONE_ENV: timezone} if timezone else os.environ)

    def evaluate(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        versions = active_versions(context.instance)
        if not versions:
            return SkipReason("no product_version partition is registered; nothing to rebuild")
        scheduled = context.scheduled_execution_time or datetime.now(ZoneInfo(timezone))
        night = scheduled.astimezone(ZoneInfo(timezone)).date()
        context.log.info("nightly %s: rebuilding %s", night.isoformat(), ", ".join(versions))
        return nightly_run_requests(versions, night)

    try:
        return schedule(
            cron,
            name=SCHEDULE_NAME,
            job_name=BUILD_JOB,
            execution_timezone=timezone,
            description=f"Rebuild every registered product version ({cron}, {timezone}).",
        )(evaluate)
    except DagsterInvalidDefinitionError as exc:
        raise ScheduleConfigError(
            f"{CRON_ENV}={cron!r} is not a cron expression Dagster accepts ({exc}); "
            f"the default is {DEFAULT_CRON!r} (02:00 daily)"
        ) from exc


nightly_build = build_nightly_schedule()
