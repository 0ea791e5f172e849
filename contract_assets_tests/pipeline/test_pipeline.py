"""Each asset materialized on a real (temporary SQLite) instance, one revision at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from contract_assets.drafting.defs import assets as draft_module  # where drafts are assembled
from contract_assets.intake.defs.checks import deliverables_add_up
from contract_assets.drafting.defs.checks import mandatory_clauses_present
from contract_assets.documents.defs.checks import manifest_matches_files
from contract_assets.definitions import CHECKS, REVISION_ASSETS, build_definitions, resources_for
from contract_assets.platform.files import sha256_file
from contract_assets.platform.models import ContractDraft
from contract_assets.register.register_report import RegisterReport
from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS
from contract_assets_tests.harness import SAMPLES, cli, operations_for


def run_revision(home, instance: DagsterInstance, key: str, steps=PIPELINE_STEPS, raise_on_error=True):
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    return job.execute_in_process(
        instance=instance,
        partition_key=key,
        asset_selection=[AssetKey(s) for s in steps],
        raise_on_error=raise_on_error,
    )


def materialized(instance: DagsterInstance, key: str) -> set[str]:
    return {a for a in PIPELINE_STEPS if key in instance.get_materialized_partitions(AssetKey(a))}


def test_auto_approved_nda_materializes_every_asset_and_passes_every_check(home, ops):
    submitted = ops.submit(SAMPLES / "01-mutual-nda.yaml")
    key = submitted.revision.partition_key
    assert key == "acme-robotics-nda.r1"
    assert submitted.stage.value == "received"

    result = run_revision(home, ops.instance, key)

    assert result.success
    assert materialized(ops.instance, key) == set(PIPELINE_STEPS)  # r1's redline: not applicable
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "deliverables_add_up": True,
        "mandatory_clauses_present": True,
        "manifest_matches_files": True,
        "package_verifies": True,  # unsealed here: nothing to verify but the hashes above
    }
    status = ops.status_of(submitted.revision).as_json()
    assert status["stage"] == "ready_for_signature"
    assert status["required_approvals"] == []
    for kind in ("html", "pdf", "docx", "manifest"):
        assert Path(status["artifacts"][kind]).is_file(), kind
    manifest = json.loads(Path(status["artifacts"]["manifest"]).read_text())
    assert [s["role"] for s in manifest["signers"]] == ["us", "counterparty"]
    for entry in manifest["files"]:
        path = Path(status["artifacts"]["manifest"]).parent / entry["path"]  # beside the manifest
        assert sha256_file(path) == entry["sha256"]


def test_revision_needing_finance_stops_at_awaiting_approval_without_documents(home, ops):
    key = ops.submit(SAMPLES / "02-msa-high-value.yaml").revision.partition_key

    assert run_revision(home, ops.instance, key).success

    done = materialized(ops.instance, key)
    assert "approval_routing" in done and "review_copy" in done
    assert "contract_documents" not in done and "signature_package" not in done
    status = ops.statuses("blue-fjord-msa")[0].as_json()
    assert status["stage"] == "awaiting_approval"
    assert status["required_approvals"] == [{"role": "finance", "tier": 1}]
    assert status["annexes"] == ["dpa"]
    review = Path(status["artifacts"]["review_html"]).read_text()
    assert "Data Processing" in review


def test_sow_is_blocked_until_its_msa_has_an_approved_revision(home, ops):
    ops.submit(SAMPLES / "02-msa-high-value.yaml")
    sow = ops.submit(SAMPLES / "03-sow-under-msa.yaml").revision

    assert run_revision(home, ops.instance, sow.partition_key).success

    assert materialized(ops.instance, sow.partition_key) == {"contract_request"}
    status = ops.status_of(sow).as_json()
    assert status["stage"] == "blocked"
    assert "blue-fjord-msa" in status["blocked_on"]


@pytest.mark.programs
def test_newer_revision_supersedes_the_older_one(home, ops):
    first = ops.submit(SAMPLES / "02-msa-high-value.yaml").revision
    second = ops.submit(SAMPLES / "05-msa-revision-2.yaml").revision

    assert (first.revision, second.revision) == (1, 2)
    stages = {s.revision.partition_key: s.stage.value for s in ops.statuses("blue-fjord-msa")}
    assert stages == {"blue-fjord-msa.r1": "superseded", "blue-fjord-msa.r2": "received"}


def test_stages_up_to_the_draft_check_are_reported_as_they_are_reached(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    assert ops.statuses()[0].stage.value == "received"
    run_revision(home, ops.instance, key, steps=["contract_request"])
    assert ops.statuses()[0].stage.value == "validated"

    materialize(  # the draft without its check: drafted, not yet checked
        REVISION_ASSETS,
        selection=[AssetKey("contract_draft")],
        partition_key=key,
        instance=ops.instance,
        resources=resources_for(home),
    )
    assert ops.statuses()[0].stage.value == "drafted"
    run_revision(home, ops.instance, key, steps=["contract_draft"])  # with its check
    assert ops.statuses()[0].stage.value == "checked"
    run_revision(home, ops.instance, key, steps=["risk_assessment"])
    assert ops.statuses()[0].stage.value == "risk_assessed"


def test_failing_mandatory_clause_check_stops_before_approval_and_run_resumes(home, ops, monkeypatch):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    real_assemble = draft_module.assemble_draft

    def drop_first_mandatory(**kwargs) -> ContractDraft:
        draft = real_assemble(**kwargs)
        missing = draft.mandatory_clause_ids[0]
        return draft.model_copy(
            update={"clauses": [c for c in draft.clauses if c.clause_id != missing]}
        )

    monkeypatch.setattr(draft_module, "assemble_draft", drop_first_mandatory)
    result = run_revision(home, ops.instance, key, raise_on_error=False)

    assert not result.success
    assert materialized(ops.instance, key) == {"contract_request", "contract_draft"}
    status = ops.statuses()[0].as_json()
    assert status["stage"] == "failed"
    assert "mandatory_clauses_present" in status["error"]

    # Fixed: `run` resumes from the draft (its check failed) and goes on to the end.
    monkeypatch.setattr(draft_module, "assemble_draft", real_assemble)
    (item,) = ops.pending()
    assert item.steps[0] == "contract_draft"
    ran = ops.run(
        lambda k, s: run_revision(home, ops.instance, k, s).success, progress=lambda s: None
    )
    assert [r.stage.value for r in ran] == ["ready_for_signature"]


def test_asset_checks_report_problems(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, key)
    status = ops.statuses()[0]

    broken = status.draft.model_copy(update={"clauses": status.draft.clauses[1:]})
    assert not mandatory_clauses_present(broken).passed
    assert mandatory_clauses_present(status.draft).passed

    Path(status.package.paths[f"{key}.pdf"]).write_bytes(b"tampered")  # the package's own copy
    result = manifest_matches_files(status.package)
    assert not result.passed and "does not match" in result.description

    request = status.revision
    assert deliverables_add_up(request).passed


def test_io_manager_refuses_a_value_of_another_type(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, key, steps=["contract_request"])
    stored = ops.workspace.layout.value_path("contract_request", key)
    draft_path = ops.workspace.layout.value_path("contract_draft", key)
    draft_path.parent.mkdir(parents=True, exist_ok=True)
    draft_path.write_bytes(stored.read_bytes())  # a Revision where a ContractDraft belongs

    result = run_revision(home, ops.instance, key, steps=["risk_assessment"], raise_on_error=False)

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = str(failure.to_string())
    assert "holds a Revision, but a ContractDraft was expected" in text


def test_materialize_api_with_project_resources(home, ops):
    """The assets also run through `materialize`, as the Dagster docs' tests do."""
    key = ops.submit(SAMPLES / "04-one-way-nda-long.yaml").revision.partition_key
    result = materialize(
        [*REVISION_ASSETS, *CHECKS],
        partition_key=key,
        instance=ops.instance,
        resources=resources_for(home),
    )
    assert result.success
    routing = ops.statuses()[0].routing
    assert routing.status == "awaiting_approval"
    assert [(a.role, a.tier) for a in routing.required_approvals] == [("legal", 1)]


def test_changing_one_clause_marks_only_the_drafts_that_use_it_out_of_date(home, ops, tmp_path, monkeypatch):
    import shutil

    from contract_assets.platform.defs import resources
    from contract_assets.platform.defs.resources import Settings

    nda = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    ops.submit(SAMPLES / "02-msa-high-value.yaml")
    msa = "blue-fjord-msa.r1"
    for key in (nda, msa):
        run_revision(home, ops.instance, key)
    assert not any(s.as_json()["out_of_date"] for s in ops.statuses())

    library = tmp_path / "library"
    shutil.copytree(resources.SHIPPED_LIBRARY, library)
    clause = library / "clauses" / "msa-liability-cap.md"
    clause.write_text(clause.read_text().replace("tort (including negligence)", "tort (negligence included)"))
    with operations_for(home, Settings(library_dir=library)) as fresh:
        flags = {s.revision.partition_key: s.as_json() for s in fresh.statuses()}

    assert flags[msa]["out_of_date"] is True
    assert flags[msa]["out_of_date_because"] == ["library file clauses/msa-liability-cap.md changed"]
    assert flags[nda]["out_of_date"] is False


def test_a_playbook_change_marks_only_revisions_it_assesses_differently(home, ops):
    from contract_assets.approvals.playbook import SHIPPED_PLAYBOOK

    nda = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    msa = ops.submit(SAMPLES / "02-msa-high-value.yaml").revision.partition_key
    for key in (nda, msa):
        run_revision(home, ops.instance, key)
    # A team raises the finance threshold above the MSA's 480,000.00 EUR.
    override = SHIPPED_PLAYBOOK.read_text().replace('amount: "250000"', 'amount: "500000"')
    (home.config_dir / "playbook.yaml").write_text(override)

    with operations_for(home) as fresh:
        flags = {s.revision.partition_key: s.as_json() for s in fresh.statuses()}

    assert flags[msa]["out_of_date"] is True
    assert "score 20 -> 0" in flags[msa]["out_of_date_because"][0]
    assert flags[nda]["out_of_date"] is False


def test_materializations_carry_code_and_data_versions(home, ops):
    from dagster import AssetRecordsFilter

    from contract_assets.platform.files import canonical_json, sha256_bytes

    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, key)
    record = ops.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("contract_draft"), asset_partitions=[key]), limit=1
    ).records[0]
    tags = record.asset_materialization.tags
    draft = ops.statuses()[0].draft
    assert tags["dagster/data_version"] == sha256_bytes(canonical_json(draft.model_dump(mode="json")))[:24]
    assert tags["dagster/code_version"].endswith(f"library.{draft.library_hash[:12]}")


def test_transient_errors_retry_and_bad_data_fails_once(home, ops, monkeypatch):
    from dagster import DagsterEventType

    from contract_assets.approvals.defs import risk as risk_module
    from contract_assets.drafting.assembly import AssemblyError

    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    real_assess, calls = risk_module.assess_risk, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("database is locked")
        return real_assess(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(risk_module, "assess_risk", flaky)
        result = run_revision(home, ops.instance, key)
    assert result.success and len(calls) == 2

    other = ops.submit(SAMPLES / "04-one-way-nda-long.yaml").revision.partition_key

    def broken(**_):
        raise AssemblyError("clause 'nda-term': undefined variable 'x'")

    with monkeypatch.context() as patch:
        patch.setattr(draft_module, "assemble_draft", broken)
        failed = run_revision(home, ops.instance, other, raise_on_error=False)
    retries = [e for e in failed.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert not failed.success and retries == []
    status = {s.revision.partition_key: s for s in ops.statuses()}[other]
    assert status.stage.value == "failed" and "undefined variable 'x'" in status.error


@pytest.mark.programs
def test_issued_files_are_never_overwritten_by_a_later_materialization(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, key)
    first = ops.statuses()[0]
    issued = {
        Path(p): Path(p).read_bytes()
        for p in (first.package.path_of("manifest"), first.documents.path_of("pdf"))
    }

    run_revision(home, ops.instance, key)  # e.g. "Materialize" again from the UI
    assert ops.statuses()[0].package == first.package  # the same inputs: nothing issued again
    assert cli("init-signing", home=home).returncode == 0  # a seal set up since: a new package

    run_revision(home, ops.instance, key)

    again = ops.statuses()[0]
    assert again.package.sealed and not first.package.sealed
    assert again.package.path_of("manifest") != first.package.path_of("manifest")
    for path, data in issued.items():
        assert path.read_bytes() == data  # the issued files stay, unchanged
    assert manifest_matches_files(first.package).passed
    assert manifest_matches_files(again.package).passed


def test_run_leaves_alone_a_revision_whose_run_is_in_flight_elsewhere(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    # A run of it queued by the daemon (or another console) that has not finished.
    elsewhere = ops.instance.create_run_for_job(job_def=job, tags={"dagster/partition": key})
    started = []

    ops.run(lambda partition, steps: started.append(partition) or True, progress=lambda _: None)
    assert started == []

    ops.instance.report_run_canceled(elsewhere)
    ops.run(lambda partition, steps: started.append(partition) or True, progress=lambda _: None)
    assert started == [key]


def test_a_new_revision_after_execution_amends_and_restates_the_executed_one(home, ops, tmp_path):
    first = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, first)
    signed_pdf = Path(ops.statuses()[0].documents.path_of("pdf")).read_bytes()
    (home.executed_dir / f"{first}.pdf").write_bytes(signed_pdf)
    executed = build_definitions(home).resolve_job_def("executed_copy_job")
    assert executed.execute_in_process(instance=ops.instance, partition_key=first).success
    extended = tmp_path / "extended.yaml"
    extended.write_text(
        (SAMPLES / "01-mutual-nda.yaml").read_text().replace("term_months: 24", "term_months: 30")
    )

    second = ops.submit(extended).revision.partition_key
    run_revision(home, ops.instance, second)

    rows = {row["partition_key"]: row for row in (s.as_json() for s in ops.statuses())}
    assert rows[first]["stage"] == "executed" and rows[first]["amends"] is None
    assert rows[second]["stage"] == "ready_for_signature"
    assert rows[second]["amends"] == first
    html = Path(rows[second]["artifacts"]["html"]).read_text()
    assert "Amended and Restated Mutual Non-Disclosure Agreement" in html
    assert "signed between the Parties as acme-robotics-nda revision 1 (the &#34;Original Agreement&#34;)" in html
    assert "Amended and Restated" not in Path(rows[first]["artifacts"]["html"]).read_text()
    register = build_definitions(home).resolve_job_def("contract_register_job")
    assert register.execute_in_process(instance=ops.instance).success
    report = ops.workspace.layout.read_model("register_report", None, RegisterReport)
    assert report.in_force == 1  # r1 stays in force until r2 is executed
