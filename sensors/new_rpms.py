"""Sensor `new_product_rpms`: product RPMs of a new version in the incoming folder start a build.

A tick lists the incoming folder with stat only and keeps the files whose change time (ctime)
is past the cursor's watermark; only their headers are read. ctime rather than mtime because
`mv`, `cp -p` and rsync keep an old mtime, while a rename or write always sets ctime to now.
Files changed within the settle window may still be being written and wait for the next tick.
The cursor is one watermark (ctime_ns, relative path) and a digest of the folder, so its size
does not grow with the number of files, and a changed folder starts over.

An `s3://` incoming prefix is first mirrored into a local folder by incoming_dir (one listing,
downloads of new or changed objects only), and that folder is watched the same way. A sync
failure (bucket missing, access denied, endpoint unreachable) is the tick's skip reason.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from iso_assets.artifacts import digest_of
from iso_assets.errors import PartitionKeyError
from iso_assets.jobs import BUILD_JOB
from iso_assets.partitions import PARTITIONS_NAME, product_version_partitions, version_key
from iso_assets.product_rpms import ProductRpmsError, incoming_dir
from iso_assets.rpm.header import RpmHeader, RpmHeaderError, read_rpm_header
from iso_assets.spec.models import ProductSpec
from resources.product import ProductSpecResource

log = logging.getLogger(__name__)

SENSOR_NAME = "new_product_rpms"
CURSOR_FORMAT = 1
DEFAULT_SETTLE_SECONDS = 10.0
# Header reading stops after this long and the rest waits for the next tick: Dagster cancels
# a sensor evaluation after 60 s.
DEFAULT_HEADER_BUDGET_SECONDS = 30.0
MINIMUM_INTERVAL_SECONDS = 30


@dataclass(frozen=True, order=True)
class Watermark:
    """The last file a tick handled, in (ctime_ns, relative path) order."""

    ctime_ns: int
    path: str


START = Watermark(0, "")


@dataclass(frozen=True)
class Arrival:
    path: Path
    mark: Watermark


@dataclass
class Plan:
    """What one tick asks Dagster for, and why it left files or versions out."""

    add_versions: list[str] = field(default_factory=list)
    run_requests: list[RunRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Tick:
    plan: Plan
    cursor: str
    listed: int
    headers_read: int
    seconds: float


def location_digest(folder: Path) -> str:
    return digest_of(str(folder))[:12]


def dump_cursor(folder: Path, mark: Watermark) -> str:
    return json.dumps(
        {
            "v": CURSOR_FORMAT,
            "loc": location_digest(folder),
            "ctime_ns": mark.ctime_ns,
            "path": mark.path,
        },
        separators=(",", ":"),
    )


def load_cursor(text: str | None, folder: Path) -> Watermark:
    """The watermark to continue from: START without a cursor or for another folder."""
    if not text:
        return START
    try:
        data = json.loads(text)
        if data.get("v") != CURSOR_FORMAT or data.get("loc") != location_digest(folder):
            log.info(
                "cursor %s is for another folder or format; listing %s from the start", text, folder
            )
            return START
        return Watermark(int(data["ctime_ns"]), str(data["path"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("cursor %r is unreadable; listing %s from the start", text, folder)
        return START


def list_arrivals(root: Path, after: Watermark, *, settled_before_ns: int) -> list[Arrival]:
    """`*.rpm` files below `root` past `after` and older than `settled_before_ns`, in order.

    Stat only; hidden names (upload tools' temporary files) and symlinks are skipped.
    """
    found: list[Arrival] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                    continue
                if not entry.name.endswith(".rpm") or not entry.is_file(follow_symlinks=False):
                    continue
                ctime_ns = entry.stat(follow_symlinks=False).st_ctime_ns
                if ctime_ns >= settled_before_ns:
                    continue
                mark = Watermark(ctime_ns, Path(entry.path).relative_to(root).as_posix())
                if mark > after:
                    found.append(Arrival(Path(entry.path), mark))
    found.sort(key=lambda arrival: arrival.mark)
    return found


def ignore_reason(header: RpmHeader, spec: ProductSpec) -> str | None:
    """Why a package is not a product RPM of this build, or None when it is one."""
    if header.name not in spec.product_rpms.packages:
        return f"{header.nevra} is not a product package ({', '.join(spec.product_rpms.packages)})"
    if header.is_source:
        return f"{header.nevra} is a source package"
    if header.arch not in spec.allowed_arches:
        return f"{header.nevra}: arch {header.arch} is not one of {', '.join(spec.allowed_arches)}"
    return None


def partition_of(header: RpmHeader) -> str:
    """The partition key of a product RPM's Version; raises PartitionKeyError."""
    key = version_key(header.version)
    if key != header.version:
        # The build finds a version's RPMs by their exact header Version.
        raise PartitionKeyError(
            f"{header.nevra}: Version {header.version!r} would become partition {key!r}, but "
            f"the build matches RPMs by exact Version; release it as {key!r}"
        )
    return key


def plan_runs(
    packages: list[tuple[Path, RpmHeader]], spec: ProductSpec, registered: set[str]
) -> Plan:
    """Partitions to add and runs to request for the product RPMs that just arrived.

    A version is added when its `version_from` package (default: the first product package)
    arrives; other product packages of an unregistered version wait for it. A registered
    version whose RPMs change is built again. The run key is a digest of the arrived RPMs'
    sha256s, so the same files seen twice ask for nothing new.
    """
    plan = Plan()
    version_from = spec.product_rpms.version_from or spec.product_rpms.packages[0]
    by_version: dict[str, list[RpmHeader]] = {}
    for path, header in packages:
        reason = ignore_reason(header, spec)
        if reason:
            plan.notes.append(f"ignored {path.name}: {reason}")
            continue
        try:
            key = partition_of(header)
        except PartitionKeyError as exc:
            plan.notes.append(f"ignored {path.name}: {exc}")
            continue
        by_version.setdefault(key, []).append(header)

    for key, headers in sorted(by_version.items()):
        names = {header.name for header in headers}
        if key not in registered and version_from not in names:
            plan.notes.append(
                f"version {key}: {', '.join(sorted(names))} arrived; waiting for {version_from} "
                f"{key} before adding the partition"
            )
            continue
        if key not in registered:
            plan.add_versions.append(key)
        sha256s = sorted({header.sha256 for header in headers})
        plan.run_requests.append(
            RunRequest(
                partition_key=key,
                run_key=f"rpms:{key}:{digest_of(sha256s)[:16]}",
                tags={"iso_assets/trigger": SENSOR_NAME, "iso_assets/rpms": str(len(sha256s))},
            )
        )
        plan.notes.append(
            f"version {key}: {'new' if key not in registered else 'changed'}, "
            f"{len(sha256s)} RPM(s): {', '.join(sorted(h.nevra for h in headers))}"
        )
    return plan


def evaluate_incoming(
    spec: ProductSpec,
    cursor: str | None,
    registered: set[str],
    *,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    budget_seconds: float = DEFAULT_HEADER_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Tick:
    """One tick without Dagster: list, read the new headers (within budget), plan runs.

    Raises ProductRpmsError when the incoming folder is missing or its S3 sync fails.
    """
    started = clock()
    root = incoming_dir(spec)
    if not root.is_dir():
        raise ProductRpmsError(
            f"product_rpms.incoming {root} does not exist; create it or fix the product spec"
        )
    after = load_cursor(cursor, root)
    settled_before_ns = time.time_ns() - int(settle_seconds * 1e9)
    arrivals = list_arrivals(root, after, settled_before_ns=settled_before_ns)

    packages: list[tuple[Path, RpmHeader]] = []
    notes: list[str] = []
    mark = after
    for count, arrival in enumerate(arrivals):
        # At least one file per tick, so a huge RPM cannot stall the sensor for good.
        if count and clock() - started > budget_seconds:
            notes.append(
                f"read {count} headers in {clock() - started:.1f} s; "
                f"{len(arrivals) - count} new file(s) wait for the next tick"
            )
            break
        try:
            packages.append((arrival.path, read_rpm_header(arrival.path)))
        except RpmHeaderError as exc:
            notes.append(f"ignored {arrival.path.name}: {exc}")
        mark = arrival.mark

    plan = plan_runs(packages, spec, registered)
    plan.notes[:0] = notes
    return Tick(
        plan=plan,
        cursor=dump_cursor(root, mark),
        listed=len(arrivals),
        headers_read=len(packages),
        seconds=clock() - started,
    )


def build_new_rpms_sensor(
    *,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    budget_seconds: float = DEFAULT_HEADER_BUDGET_SECONDS,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> SensorDefinition:
    """The sensor; tests shorten the settle window (a freshly written file is 'too young')."""

    def new_product_rpms(
        context: SensorEvaluationContext, product: ProductSpecResource
    ) -> SensorResult:
        spec = product.load()
        registered = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
        try:
            tick = evaluate_incoming(
                spec,
                context.cursor,
                registered,
                settle_seconds=settle_seconds,
                budget_seconds=budget_seconds,
            )
        except ProductRpmsError as exc:
            return SensorResult(skip_reason=str(exc))

        for note in tick.plan.notes:
            context.log.info(note)
        context.log.info(
            "listed %d new file(s), read %d header(s) in %.2f s",
            tick.listed,
            tick.headers_read,
            tick.seconds,
        )
        plan = tick.plan
        if not plan.run_requests:
            return SensorResult(
                skip_reason=f"no new product RPMs ({tick.listed} new file(s) listed)",
                cursor=tick.cursor,
            )
        additions = (
            [product_version_partitions.build_add_request(plan.add_versions)]
            if plan.add_versions
            else []
        )
        return SensorResult(
            run_requests=plan.run_requests,
            dynamic_partitions_requests=additions,
            cursor=tick.cursor,
        )

    return sensor(
        name=SENSOR_NAME,
        job_name=BUILD_JOB,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=default_status,
        description="Adds the product_version partition of newly landed product RPMs and "
        "builds it.",
    )(new_product_rpms)


new_product_rpms = build_new_rpms_sensor()
