"""`contract-assets demo` on the sample requests, checked as the acceptance list reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance
from pypdf import PdfReader

from contract_assets.platform.files import sha256_file
from contract_assets_tests.harness import SAMPLES, cli, contract_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    with contract_home(tmp_path_factory.mktemp("demo") / "home", monkeypatch) as home:
        first = cli("demo", str(SAMPLES), home=home)
        status = cli("status", "--json", home=home)
        yield home, first, {row["partition_key"]: row for row in json.loads(status.stdout)}
    monkeypatch.undo()


def test_demo_exits_0_and_prints_a_table_with_where_files_are(demo):
    home, first, _ = demo
    assert first.returncode == 0, first.stderr[-3000:]
    assert "REVISION" in first.stdout and "ready_for_signature" in first.stdout
    assert str(home.root) in first.stdout


def test_demo_revisions_and_stages(demo):
    _, _, rows = demo
    assert {key: row["stage"] for key, row in rows.items()} == {
        "acme-robotics-nda.r1": "ready_for_signature",
        "blue-fjord-msa.r1": "superseded",
        "blue-fjord-sow-1.r1": "blocked",
        "kestrel-bio-nda.r1": "awaiting_approval",
        "blue-fjord-msa.r2": "awaiting_approval",
    }
    assert "blue-fjord-msa" in rows["blue-fjord-sow-1.r1"]["blocked_on"]


def test_required_approvals_follow_the_playbook(demo):
    _, _, rows = demo
    approvals = {key: row["required_approvals"] for key, row in rows.items()}
    assert approvals["acme-robotics-nda.r1"] == []
    assert approvals["blue-fjord-msa.r1"] == [{"role": "finance", "tier": 1}]
    assert approvals["kestrel-bio-nda.r1"] == [{"role": "legal", "tier": 1}]
    assert approvals["blue-fjord-msa.r2"] == [
        {"role": "finance", "tier": 1},
        {"role": "legal", "tier": 1},
    ]
    assert rows["blue-fjord-msa.r2"]["risk"]["rules"] == ["high_value", "non_standard_terms"]


def test_ready_nda_has_every_format_and_a_manifest_whose_hashes_match(demo):
    _, _, rows = demo
    row = rows["acme-robotics-nda.r1"]
    artifacts = {kind: Path(path) for kind, path in row["artifacts"].items() if path}
    assert {"html", "pdf", "docx", "manifest"} <= artifacts.keys()
    manifest = json.loads(artifacts["manifest"].read_text())
    assert {f["kind"] for f in manifest["files"]} == {"html", "pdf", "docx"}
    for entry in manifest["files"]:
        assert sha256_file(artifacts["manifest"].parent / entry["path"]) == entry["sha256"]
    assert [s["name"] for s in manifest["signers"]][1] == "Maria Gomez"
    text = "".join(page.extract_text() for page in PdfReader(artifacts["pdf"]).pages)
    assert "Acme Robotics LLC" in text and "evaluating a joint product integration" in text
    assert row["library_version"] and row["annexes"] == []


def test_demo_makes_a_trial_seal_and_its_package_is_sealed_and_verifies(demo):
    home, first, rows = demo
    row = rows["acme-robotics-nda.r1"]
    assert "making a self-signed trial one" in first.stdout
    assert row["sealed"] is True
    assert row["artifacts"]["pdf"].endswith(".sealed.pdf")
    verified = cli("verify", str(Path(row["artifacts"]["manifest"]).parent), home=home)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_msa_revisions_carry_the_dpa_annex_in_their_documents(demo):
    _, _, rows = demo
    for key in ("blue-fjord-msa.r1", "blue-fjord-msa.r2"):
        assert rows[key]["annexes"] == ["dpa"]
        review = Path(rows[key]["artifacts"]["review_html"]).read_text()
        assert "Annex A" in review and "Data Processing" in review


def test_second_demo_adds_no_revision_and_no_run(demo):
    home, _, rows = demo
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        runs_before = len(instance.get_runs())
    again = cli("demo", str(SAMPLES), home=home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "registered as" not in again.stdout
    status = json.loads(cli("status", "--json", home=home).stdout)
    assert sorted(row["partition_key"] for row in status) == sorted(rows)
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        assert len(instance.get_runs()) == runs_before


def test_demo_prints_where_the_register_report_is(demo):
    home, first, _ = demo
    (line,) = [line for line in first.stdout.splitlines() if line.startswith("report:")]
    report = Path(line.split(":", 1)[1].strip())
    assert report.is_relative_to(home.root) and report.name == "contract-register.html"
    html = report.read_text()
    assert "Contracts by status" in html and html.count("<svg") == 2  # status and risk
    for contract_id in ("acme-robotics-nda", "blue-fjord-msa", "blue-fjord-sow-1", "kestrel-bio-nda"):
        assert contract_id in html


def test_register_has_one_row_per_contract(demo):
    import pandas as pd

    home, _, _ = demo
    register = pd.read_parquet(home.storage_dir / "values" / "contract_register" / "contract_register.parquet")
    assert sorted(register["contract_id"]) == [
        "acme-robotics-nda", "blue-fjord-msa", "blue-fjord-sow-1", "kestrel-bio-nda"
    ]
    msa = register.set_index("contract_id").loc["blue-fjord-msa"]
    assert msa["latest_revision"] == 2 and msa["value_amount"] == "520000.00"
    assert str(msa["end_date"]) == "2030-01-01"
    assert str(msa["renewal_notice_date"]) == "2029-10-03"
