"""A product RPM of a new version lands; the sensor adds the partition and its run builds the
ISO (case dag05-sensor-adds-partition), evaluated the way the daemon does against a real
instance, then the requested run executed in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import (
    Definitions,
    RunRequest,
    SensorResult,
    build_sensor_context,
    instance_for_test,
    sensor,
)
from dagster._core.errors import DagsterUnknownPartitionError

from iso_assets.assets import ALL_ASSETS
from iso_assets.demo.product_rpms import build_product_rpms
from iso_assets.jobs import ALL_JOBS, BUILD_JOB
from iso_assets.partitions import PARTITIONS_NAME
from iso_assets.paths import DEMO_SPEC
from iso_assets.spec import load_product_spec
from resources.product import ProductSpecResource
from sensors.new_rpms import build_new_rpms_sensor
from tests.pipeline_fixtures import (
    CACHE,
    DemoInputs,
    copy_spec,
    failure_text,
    make_store,
    run_build,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NEW_VERSION = "1.1.0"


def definitions_with(sensor_def, spec_path: Path, store_root: Path) -> Definitions:
    return Definitions(
        assets=ALL_ASSETS,
        jobs=ALL_JOBS,
        sensors=[sensor_def],
        resources={
            "product": ProductSpecResource(spec_path=str(spec_path)),
            "store": make_store(store_root),
        },
    )


def test_new_version_is_added_built_and_not_requested_twice(
    demo_inputs: DemoInputs, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    shutil.copytree(demo_inputs.build_dir / "incoming", incoming)
    spec_path = copy_spec(tmp_path, {"${DEMO_BUILD_DIR:-../../build/demo}/incoming": str(incoming)})
    sensor_def = build_new_rpms_sensor(settle_seconds=0)
    definitions = definitions_with(sensor_def, spec_path, tmp_path)

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.0.0"])

        def tick(cursor: str | None):
            context = build_sensor_context(
                instance_ref=instance.get_ref(),
                cursor=cursor,
                definitions=definitions,
                resources={"product": ProductSpecResource(spec_path=str(spec_path))},
            )
            # evaluate_tick validates partition keys as the daemon does (case dag05).
            return sensor_def.evaluate_tick(context)

        baseline = tick(None)
        assert [r.partition_key for r in baseline.run_requests] == ["1.0.0"]
        assert baseline.dynamic_partitions_requests == []

        epoch = load_product_spec(DEMO_SPEC).source_date_epoch
        for rpm in build_product_rpms(
            CACHE / f"sensor-rpms-{NEW_VERSION}", version=NEW_VERSION, source_date_epoch=epoch
        ):
            shutil.copy(rpm, incoming / rpm.name)

        arrival = tick(baseline.cursor)
        [request] = arrival.run_requests
        [add] = arrival.dynamic_partitions_requests
        assert request.partition_key == NEW_VERSION and request.job_name in (None, BUILD_JOB)
        assert add.partition_keys == [NEW_VERSION]
        # What the daemon does with the result: register the partition, launch the run.
        instance.add_dynamic_partitions(add.partitions_def_name, add.partition_keys)
        store = make_store(tmp_path)
        result = run_build(store, request.partition_key, spec_path=spec_path, instance=instance)
        assert result.success, failure_text(result)
        iso = store.read_manifest("acme-server", NEW_VERSION, "iso")
        assert iso is not None and f"acme-server-{NEW_VERSION}-x86_64.iso" in iso.files

        quiet = tick(arrival.cursor)
        assert quiet.run_requests == [] and "no new product RPMs" in quiet.skip_message

        # Replaying the same tick asks for the same run key (the daemon skips it) and does
        # not add the partition again.
        replay = tick(baseline.cursor)
        assert [r.run_key for r in replay.run_requests] == [request.run_key]
        assert replay.dynamic_partitions_requests == []
        assert sorted(instance.get_dynamic_partitions(PARTITIONS_NAME)) == ["1.0.0", NEW_VERSION]


def test_run_request_without_add_request_is_rejected(tmp_path: Path) -> None:
    """Why the sensor adds the partition in the same SensorResult (case dag05)."""

    @sensor(job_name=BUILD_JOB)
    def run_only(context) -> SensorResult:
        return SensorResult(run_requests=[RunRequest(partition_key="9.5", run_key="9.5:x")])

    definitions = definitions_with(run_only, DEMO_SPEC, tmp_path)
    with instance_for_test() as instance:
        context = build_sensor_context(instance_ref=instance.get_ref(), definitions=definitions)
        with pytest.raises(DagsterUnknownPartitionError, match="9.5"):
            run_only.evaluate_tick(context)
