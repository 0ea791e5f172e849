"""The sensors, evaluated as the daemon would, with `build_sensor_context` on a real instance.

Each tick's dynamic partition requests are applied to the instance before the next tick
and its cursor is handed on, as `dagster-daemon` does; run requests are executed in
process where a test needs their effect.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from dagster import AddDynamicPartitionsRequest, DagsterRunStatus, build_sensor_context

from contract_assets.definitions import build_definitions, resources_for
from contract_assets.approvals.approvals import Approver
from contract_assets.platform.files import sha256_file
from contract_assets.approvals.signing import read_private_key, read_public_key, write_keypair
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.intake.defs.sensors import INBOX_BATCH, inbox_sensor
from contract_assets.documents.defs.sensors import executed_sensor
from contract_assets.pipeline.defs.sensors import progress_sensor
from contract_assets_tests.harness import INVALID, SAMPLES, record_approval
from contract_assets_tests.pipeline.test_pipeline import run_revision

MSA_R1 = SAMPLES / "02-msa-high-value.yaml"
MSA_R2 = SAMPLES / "05-msa-revision-2.yaml"
SOW = SAMPLES / "03-sow-under-msa.yaml"
NDA = SAMPLES / "01-mutual-nda.yaml"
BAD = INVALID / "bad-email-and-type-mismatch.yaml"


# --- driving the sensors ---------------------------------------------------------------


def tick(sensor, home, instance, cursor=None, **replaced):
    """Evaluate one tick of `sensor` and apply its partition requests, as the daemon does
    (with resources replaced by key: `clock=ClockAhead(hours=48)`)."""
    context = build_context(home, instance, cursor, **replaced)
    result = sensor.evaluate_tick(context)
    apply_partition_requests(result, instance)
    return result


def apply_partition_requests(result, instance) -> None:
    """Add the requested partitions that do not exist yet (dagster/_daemon/sensor.py does
    the same, before it launches the tick's runs and stores its cursor)."""
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, AddDynamicPartitionsRequest)
        name = request.partitions_def_name
        missing = [k for k in request.partition_keys if not instance.has_dynamic_partition(name, k)]
        if missing:
            instance.add_dynamic_partitions(name, missing)


def build_context(home, instance, cursor, **replaced):
    return build_sensor_context(
        instance=instance,
        # The daemon passes the instance's ref too; with it, run requests for dynamic
        # partitions are resolved against the instance and this tick's partition requests.
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources=resources_for(home, **replaced),
        definitions=build_definitions(home, **replaced),
    )


def drop(home, source: Path, name: str, mtime: float | None = None) -> Path:
    """Put a request file into the inbox under `name` (optionally with its arrival time)."""
    target = home.inbox_dir / name
    shutil.copyfile(source, target)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


def run_keys(result) -> list[str]:
    return [request.run_key for request in result.run_requests]


def execute(home, instance, request):
    """Run one run request in process, as the run launcher would."""
    if request.asset_selection is None:  # the whole job
        return run_revision(home, instance, request.partition_key)
    steps = [asset.path[-1] for asset in request.asset_selection]
    return run_revision(home, instance, request.partition_key, steps)


def stage_of(ops, key: str) -> str:
    return ops.status_of(ops.workspace.registry.get(key)).stage.value


# --- inbox_sensor ----------------------------------------------------------------------


def test_inbox_takes_files_in_order_of_arrival_not_by_name(home, ops):
    now = time.time()
    # The SOW sorts first by name but arrived second: it must validate against the MSA.
    drop(home, MSA_R1, "b-msa.yaml", mtime=now - 60)
    drop(home, SOW, "a-sow.yaml", mtime=now - 30)

    result = tick(inbox_sensor, home, ops.instance)

    assert [r.partition_key for r in result.run_requests] == [
        "blue-fjord-msa.r1",
        "blue-fjord-sow-1.r1",
    ]
    assert list(home.quarantine_dir.iterdir()) == []


def test_inbox_sow_arriving_before_its_msa_is_quarantined(home, ops):
    """The control for the test above: by arrival order, the SOW really does come first."""
    now = time.time()
    drop(home, SOW, "z-sow.yaml", mtime=now - 60)
    drop(home, MSA_R1, "a-msa.yaml", mtime=now - 30)

    result = tick(inbox_sensor, home, ops.instance)

    assert [r.partition_key for r in result.run_requests] == ["blue-fjord-msa.r1"]
    report = json.loads((home.quarantine_dir / "z-sow.yaml.error.json").read_text())
    assert "sow.parent_contract_id" in [e["path"] for e in report["errors"]]


def test_inbox_ignores_files_still_being_written_and_dotfiles(home, ops):
    drop(home, NDA, "01-mutual-nda.yaml.part")
    drop(home, NDA, ".01-mutual-nda.yaml")
    drop(home, NDA, ".hidden.yaml.part")

    result = tick(inbox_sensor, home, ops.instance)

    assert result.run_requests == []
    assert result.skip_message
    assert ops.workspace.registry.all() == []
    assert sorted(p.name for p in home.inbox_dir.iterdir()) == [
        ".01-mutual-nda.yaml",
        ".hidden.yaml.part",
        "01-mutual-nda.yaml.part",
    ]
    assert list(home.quarantine_dir.iterdir()) == []

    # The writer renames the finished file: now it is taken.
    (home.inbox_dir / "01-mutual-nda.yaml.part").rename(home.inbox_dir / "01-mutual-nda.yaml")
    result = tick(inbox_sensor, home, ops.instance, result.cursor)
    assert [r.partition_key for r in result.run_requests] == ["acme-robotics-nda.r1"]


def test_inbox_quarantines_an_invalid_file_with_its_field_paths(home, ops):
    drop(home, BAD, "bad.yaml")

    result = tick(inbox_sensor, home, ops.instance)

    assert result.run_requests == []
    assert not result.dynamic_partitions_requests
    assert not (home.inbox_dir / "bad.yaml").exists()
    assert (home.quarantine_dir / "bad.yaml").read_bytes() == BAD.read_bytes()
    report = json.loads((home.quarantine_dir / "bad.yaml.error.json").read_text())
    paths = [error["path"] for error in report["errors"]]
    assert "counterparty.signatory.email" in paths
    assert "nda" in paths
    assert all(error["message"] for error in report["errors"])
    assert ops.workspace.registry.all() == []
    assert ops.instance.get_dynamic_partitions(REVISIONS) == []

    # The next tick has nothing left to do with it.
    again = tick(inbox_sensor, home, ops.instance, result.cursor)
    assert again.run_requests == []
    assert sorted(p.name for p in home.quarantine_dir.iterdir()) == ["bad.yaml", "bad.yaml.error.json"]


def test_inbox_registers_valid_files_and_moves_them_out_one_tick_later(home, ops):
    now = time.time()
    drop(home, NDA, "nda.yaml", mtime=now - 20)
    drop(home, MSA_R1, "msa.yaml", mtime=now - 10)

    first = tick(inbox_sensor, home, ops.instance)

    revisions = {r.partition_key: r for r in ops.workspace.registry.all()}
    assert sorted(revisions) == ["acme-robotics-nda.r1", "blue-fjord-msa.r1"]
    assert [r.partition_key for r in first.run_requests] == ["acme-robotics-nda.r1", "blue-fjord-msa.r1"]
    for request in first.run_requests:
        assert revisions[request.partition_key].content_hash[:16] in request.run_key
    assert len(set(run_keys(first))) == 2
    (add,) = first.dynamic_partitions_requests
    assert add.partitions_def_name == REVISIONS
    assert sorted(add.partition_keys) == sorted(revisions)
    assert set(ops.instance.get_dynamic_partitions(REVISIONS)) == set(revisions)
    # Until Dagster has stored this tick's result, the files stay where they were.
    assert sorted(p.name for p in home.inbox_dir.iterdir()) == ["msa.yaml", "nda.yaml"]
    assert list(home.processed_dir.iterdir()) == []

    second = tick(inbox_sensor, home, ops.instance, first.cursor)

    assert second.run_requests == []
    assert list(home.inbox_dir.iterdir()) == []
    assert sorted(p.name for p in home.processed_dir.iterdir()) == ["msa.yaml", "nda.yaml"]
    assert (home.processed_dir / "nda.yaml").read_bytes() == NDA.read_bytes()
    assert len(ops.workspace.registry.all()) == 2

    third = tick(inbox_sensor, home, ops.instance, second.cursor)
    assert third.run_requests == [] and third.skip_message


def test_inbox_tick_evaluated_twice_after_a_crash_has_no_second_effect(home, ops):
    drop(home, NDA, "nda.yaml")
    drop(home, BAD, "bad.yaml")
    first = tick(inbox_sensor, home, ops.instance)

    # The daemon died before storing the result: the same tick runs again from the old cursor.
    replay = tick(inbox_sensor, home, ops.instance, cursor=None)

    assert run_keys(replay) == run_keys(first)
    assert [r.partition_key for r in ops.workspace.registry.all()] == ["acme-robotics-nda.r1"]
    assert sorted(p.name for p in home.quarantine_dir.iterdir()) == ["bad.yaml", "bad.yaml.error.json"]
    assert replay.cursor == first.cursor

    # Once a run exists for the revision, a replay asks for no further run under a new key.
    execute(home, ops.instance, first.run_requests[0])
    replay = tick(inbox_sensor, home, ops.instance, cursor=None)
    assert set(run_keys(replay)) <= set(run_keys(first))

    done = tick(inbox_sensor, home, ops.instance, replay.cursor)
    assert done.run_requests == []
    assert [p.name for p in home.processed_dir.iterdir()] == ["nda.yaml"]
    # Archiving from the same cursor again (a second crash) finds nothing more to move.
    tick(inbox_sensor, home, ops.instance, replay.cursor)
    assert [p.name for p in home.processed_dir.iterdir()] == ["nda.yaml"]


def test_inbox_second_drop_of_identical_content_registers_nothing_new(home, ops):
    drop(home, NDA, "nda.yaml")
    first = tick(inbox_sensor, home, ops.instance)
    tick(inbox_sensor, home, ops.instance, first.cursor)
    execute(home, ops.instance, first.run_requests[0])

    drop(home, NDA, "nda-again.yaml")
    again = tick(inbox_sensor, home, ops.instance)

    assert [r.partition_key for r in ops.workspace.registry.all()] == ["acme-robotics-nda.r1"]
    assert set(run_keys(again)) <= set(run_keys(first))
    assert ops.instance.get_dynamic_partitions(REVISIONS) == ["acme-robotics-nda.r1"]
    tick(inbox_sensor, home, ops.instance, again.cursor)
    assert list(home.inbox_dir.iterdir()) == []


def test_inbox_identical_files_in_one_tick_register_once(home, ops):
    drop(home, NDA, "nda.yaml")
    drop(home, NDA, "nda copy.yaml")

    result = inbox_sensor.evaluate_tick(build_context(home, ops.instance, None))

    assert [r.partition_key for r in ops.workspace.registry.all()] == ["acme-robotics-nda.r1"]
    assert len(set(run_keys(result))) == 1
    # A key named twice makes the daemon's insert fail: the tick errors, its cursor is never
    # stored, and every later tick fails the same way, so the inbox stalls for good.
    (add,) = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["acme-robotics-nda.r1"]
    apply_partition_requests(result, ops.instance)
    assert ops.instance.get_dynamic_partitions(REVISIONS) == ["acme-robotics-nda.r1"]


def test_inbox_registers_a_large_drop_over_bounded_ticks_none_lost_none_twice(home, ops):
    count = 450
    template = NDA.read_text()
    assert "contract_id: acme-robotics-nda" in template
    for number in range(count):
        text = template.replace("contract_id: acme-robotics-nda", f"contract_id: bulk-nda-{number:04d}")
        (home.inbox_dir / f"bulk-{number:04d}.yaml").write_text(text)

    keys, cursor, durations = [], None, []
    for _ in range(10):
        started = time.monotonic()
        result = tick(inbox_sensor, home, ops.instance, cursor)
        durations.append(time.monotonic() - started)
        assert len(result.run_requests) <= INBOX_BATCH
        keys += run_keys(result)
        cursor = result.cursor
        if not result.run_requests and not list(home.inbox_dir.iterdir()):
            break
    print(f"inbox ticks for {count} files: " + ", ".join(f"{d:.1f} s" for d in durations))

    assert len(durations) >= 3  # more than one batch
    assert all(duration < 60 for duration in durations)
    assert len(keys) == count and len(set(keys)) == count
    revisions = ops.workspace.registry.all()
    assert len(revisions) == count
    assert {r.contract_id for r in revisions} == {f"bulk-nda-{n:04d}" for n in range(count)}
    assert len(ops.instance.get_dynamic_partitions(REVISIONS)) == count
    assert list(home.inbox_dir.iterdir()) == []
    assert len(list(home.processed_dir.iterdir())) == count


# --- progress_sensor -------------------------------------------------------------------

REQUESTER = "sam.okafor@orbital.example"  # requested_by of the blue-fjord samples


@pytest.fixture
def approver_keys(ops, tmp_path):
    """Key files of two registered approvers: `fin` (finance) and `lex` (legal)."""
    keys = {}
    for name, role in (("fin", "finance"), ("lex", "legal")):
        private = tmp_path / "keys" / f"{name}.key"
        public = write_keypair(private)
        ops.workspace.approvers.add(
            Approver(name=name, email=f"{name}@orbital.example", roles=[role], public_key=read_public_key(public))
        )
        keys[name] = (role, read_private_key(private))
    return keys


def approve_all(ops, key: str, approver_keys) -> None:
    """Every approver in `approver_keys` approves revision `key` in their role."""
    for name, (role, private_pem) in approver_keys.items():
        record_approval(ops, key, name, role, private_pem)


def msa_r2_awaiting_approval(home, ops) -> str:
    ops.submit(MSA_R1)
    key = ops.submit(MSA_R2).revision.partition_key
    assert run_revision(home, ops.instance, key).success
    assert stage_of(ops, key) == "awaiting_approval"
    return key


def test_progress_asks_for_nothing_while_approvals_are_missing(home, ops):
    msa_r2_awaiting_approval(home, ops)

    result = tick(progress_sensor, home, ops.instance)

    assert result.run_requests == []
    assert result.skip_message


def test_progress_continues_a_revision_once_its_approvals_are_in(home, ops, approver_keys):
    key = msa_r2_awaiting_approval(home, ops)
    approve_all(ops, key, approver_keys)

    first = tick(progress_sensor, home, ops.instance)

    (request,) = first.run_requests
    assert request.partition_key == key
    steps = [asset.path[-1] for asset in request.asset_selection]
    assert steps[0] == "approval_record"
    assert {"contract_documents", "signature_package"} <= set(steps)
    assert "contract_request" not in steps
    again = tick(progress_sensor, home, ops.instance)
    assert run_keys(again) == run_keys(first)

    assert execute(home, ops.instance, request).success
    assert stage_of(ops, key) == "ready_for_signature"
    assert tick(progress_sensor, home, ops.instance).run_requests == []


def test_progress_unblocks_a_sow_once_its_msa_is_approved(home, ops, approver_keys):
    msa = msa_r2_awaiting_approval(home, ops)
    sow = ops.submit(SOW).revision.partition_key
    assert run_revision(home, ops.instance, sow).success
    assert stage_of(ops, sow) == "blocked"
    assert tick(progress_sensor, home, ops.instance).run_requests == []

    approve_all(ops, msa, approver_keys)
    (msa_request,) = tick(progress_sensor, home, ops.instance).run_requests
    assert msa_request.partition_key == msa  # the SOW waits until the MSA's record is stored
    assert execute(home, ops.instance, msa_request).success

    (sow_request,) = tick(progress_sensor, home, ops.instance).run_requests
    assert sow_request.partition_key == sow
    assert run_keys(tick(progress_sensor, home, ops.instance)) == [sow_request.run_key]
    assert execute(home, ops.instance, sow_request).success
    assert stage_of(ops, sow) == "ready_for_signature"
    assert tick(progress_sensor, home, ops.instance).run_requests == []


def test_progress_starts_no_second_run_beside_one_in_progress(home, ops, approver_keys):
    key = msa_r2_awaiting_approval(home, ops)
    approve_all(ops, key, approver_keys)
    (request,) = tick(progress_sensor, home, ops.instance).run_requests
    # The requested run has stored approval_record and is still rendering.
    assert run_revision(home, ops.instance, key, ["approval_record"]).success
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    ops.instance.create_run_for_job(
        job_def=job,
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": key, "dagster/run_key": request.run_key},
    )

    result = tick(progress_sensor, home, ops.instance)

    assert result.run_requests == [], run_keys(result)


# --- executed_sensor -------------------------------------------------------------------

PDF = b"%PDF-1.7\n% countersigned\n"


def test_executed_copy_of_a_revision_ready_for_signature_starts_a_run(home, ops):
    key = ops.submit(NDA).revision.partition_key
    assert run_revision(home, ops.instance, key).success
    dropped = home.executed_dir / f"{key}.pdf"
    dropped.write_bytes(PDF)

    first = tick(executed_sensor, home, ops.instance)

    (request,) = first.run_requests
    assert request.partition_key == key
    assert sha256_file(dropped)[:16] in request.run_key
    assert run_keys(tick(executed_sensor, home, ops.instance)) == [request.run_key]
    assert dropped.exists()  # the run reads it
    assert list(home.quarantine_dir.iterdir()) == []

    job = build_definitions(home).resolve_job_def("executed_copy_job")
    assert job.execute_in_process(instance=ops.instance, partition_key=key).success
    assert stage_of(ops, key) == "executed"
    assert tick(executed_sensor, home, ops.instance).run_requests == []
    assert not dropped.exists()
    assert (home.processed_dir / f"{key}.pdf").read_bytes() == PDF


@pytest.mark.parametrize("name", ["nobody-nda.r1.pdf", "not-a-revision-key.pdf"])
def test_executed_copy_for_an_unknown_revision_is_quarantined(home, ops, name):
    (home.executed_dir / name).write_bytes(PDF)

    result = tick(executed_sensor, home, ops.instance)

    assert result.run_requests == []
    assert not (home.executed_dir / name).exists()
    assert (home.quarantine_dir / name).read_bytes() == PDF
    report = json.loads((home.quarantine_dir / f"{name}.error.json").read_text())
    assert Path(name).stem in report["errors"][0]["message"]


def test_executed_copy_of_a_revision_not_ready_is_quarantined_with_its_stage(home, ops):
    key = msa_r2_awaiting_approval(home, ops)
    (home.executed_dir / f"{key}.pdf").write_bytes(PDF)

    result = tick(executed_sensor, home, ops.instance)

    assert result.run_requests == []
    report = json.loads((home.quarantine_dir / f"{key}.pdf.error.json").read_text())
    assert "awaiting_approval" in report["errors"][0]["message"]
    assert stage_of(ops, key) == "awaiting_approval"
