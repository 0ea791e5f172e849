"""Stored models, crash-safe writes, and the register's date arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from contract_assets.platform.files import atomic_write_bytes
from contract_assets.platform.models import (
    RenderedDocuments,
    RenderedFile,
    Revision,
    RiskAssessment,
    RuleHit,
)
from contract_assets.register.register import RegisterEntry, add_months, build_register
from contract_assets.intake.revisions import content_hash
from contract_assets.platform.serialization import StoredTypeMismatch, dump_model, load_model


def _revision(request, number: int = 1) -> Revision:
    return Revision(
        contract_id=request.contract_id,
        revision=number,
        partition_key=f"{request.contract_id}.r{number}",
        content_hash=content_hash(request),
        submitted_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        source_file="inbox/request.yaml",
        request=request,
    )


def _risk(score: int = 25, level: str = "medium") -> RiskAssessment:
    return RiskAssessment(
        partition_key="acme-msa.r1",
        score=score,
        level=level,
        rules=[RuleHit(rule="high_value", reasons=["value USD 300,000.00"], roles=["finance"])],
        deviations=[],
        playbook_version="2026.11.0",
    )


# --- dump_model / load_model ---------------------------------------------------------------------


def test_round_trip_revision(validate, make_raw):
    request = validate(
        make_raw(
            "msa",
            {
                "value.amount": "480000.10",
                "liability_cap_multiple": "unlimited",
                "effective_date": "2027-01-01",
                "counterparty.legal_name": "Zoë Ångström 株式会社",
            },
        )
    )
    revision = _revision(request)
    loaded = load_model(dump_model(revision), Revision, source="r1.json")
    assert loaded == revision
    assert loaded.request.value.amount == Decimal("480000.10")
    assert loaded.request.effective_date == date(2027, 1, 1)
    assert loaded.submitted_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert content_hash(loaded.request) == revision.content_hash


def test_round_trip_every_request_type(validate, make_raw):
    for kind in ("nda", "msa", "sow", "dpa"):
        revision = _revision(validate(make_raw(kind)))
        assert load_model(dump_model(revision), Revision, source=kind) == revision


def test_money_is_stored_as_exact_text(validate, make_raw):
    revision = _revision(validate(make_raw("msa", {"value.amount": "480000.10"})))
    stored = json.loads(dump_model(revision))
    assert stored["data"]["request"]["value"]["amount"] == "480000.10"
    assert stored["model"] == "Revision"
    assert stored["schema_version"] == Revision.SCHEMA_VERSION


def test_round_trip_risk_assessment():
    risk = _risk()
    assert load_model(dump_model(risk), RiskAssessment, source="risk.json") == risk


def test_file_bundle_content_is_not_stored_in_the_record():
    documents = RenderedDocuments(
        partition_key="acme-msa.r1",
        files=[
            RenderedFile(
                kind="html",
                filename="contract.html",
                media_type="text/html",
                sha256="0" * 64,
                size=5,
            )
        ],
        content={"contract.html": b"SECRET-BODY"},
        paths={"contract.html": "/data/contract.html"},
    )
    data = dump_model(documents)
    assert b"SECRET-BODY" not in data
    loaded = load_model(data, RenderedDocuments, source="documents.json")
    assert loaded.content == {}
    assert loaded.path_of("html") == "/data/contract.html"


def test_wrong_model_names_both_types():
    data = dump_model(_risk())
    with pytest.raises(StoredTypeMismatch) as info:
        load_model(data, Revision, source="storage/x.json")
    message = str(info.value)
    assert "RiskAssessment" in message
    assert "Revision" in message
    assert "storage/x.json" in message


def test_other_schema_version_refused():
    envelope = json.loads(dump_model(_risk()))
    envelope["schema_version"] = RiskAssessment.SCHEMA_VERSION + 1
    with pytest.raises(StoredTypeMismatch) as info:
        load_model(json.dumps(envelope).encode(), RiskAssessment, source="risk.json")
    message = str(info.value)
    assert "RiskAssessment" in message
    assert str(RiskAssessment.SCHEMA_VERSION + 1) in message
    assert str(RiskAssessment.SCHEMA_VERSION) in message


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[1, 2]", b'{"model": "RiskAssessment"}', json.dumps({"score": 3}).encode()],
    ids=["not-json", "list", "no-data", "bare-model"],
)
def test_not_a_stored_model_refused(data):
    with pytest.raises(StoredTypeMismatch, match="risk.json"):
        load_model(data, RiskAssessment, source="risk.json")


def test_invalid_stored_data_refused():
    envelope = json.loads(dump_model(_risk()))
    envelope["data"]["score"] = 101
    with pytest.raises(StoredTypeMismatch, match="RiskAssessment"):
        load_model(json.dumps(envelope).encode(), RiskAssessment, source="risk.json")


# --- atomic_write_bytes --------------------------------------------------------------------------


def test_atomic_write_creates_and_replaces(tmp_path):
    path = tmp_path / "deep" / "dir" / "r1.json"
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    atomic_write_bytes(path, b"second, longer content")
    assert path.read_bytes() == b"second, longer content"
    atomic_write_bytes(path, b"3")
    assert path.read_bytes() == b"3"
    assert [p.name for p in path.parent.iterdir()] == ["r1.json"]


def test_failed_atomic_write_keeps_old_content_and_no_temp_file(tmp_path):
    path = tmp_path / "r1.json"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r1.json"]


# --- register dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 1, 31), 12, date(2028, 1, 31)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 12, 31), 1, date(2028, 1, 31)),
        (date(2027, 11, 15), 2, date(2028, 1, 15)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 1, 1), 36, date(2030, 1, 1)),
        (date(2027, 6, 30), 120, date(2037, 6, 30)),
        (date(2027, 5, 17), 0, date(2027, 5, 17)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


def _entry(request, number, stage, effective, risk=None) -> RegisterEntry:
    return RegisterEntry(
        revision=_revision(request, number), stage=stage, risk=risk, effective_date=effective
    )


def test_register_end_and_renewal_notice_dates(validate, make_raw):
    request = validate(
        make_raw(
            "msa",
            {
                "contract_id": "blue-fjord-msa",
                "term_months": 36,
                "auto_renew": True,
                "renewal_notice_days": 90,
                "value.amount": "480000.00",
                "value.currency": "EUR",
            },
        )
    )
    frame = build_register([_entry(request, 1, "executed", date(2027, 1, 1), _risk())])
    (row,) = frame.to_dict("records")
    assert row["end_date"] == date(2030, 1, 1)
    assert row["renewal_notice_date"] == date(2029, 10, 3)
    assert row["effective_date"] == date(2027, 1, 1)
    assert row["value_amount"] == "480000.00"
    assert row["currency"] == "EUR"
    assert row["auto_renew"] is True
    assert row["revision_in_force"] == 1
    assert row["risk_score"] == 25
    assert row["risk_level"] == "medium"


def test_register_month_end_term(validate, make_raw):
    request = validate(make_raw("nda", {"term_months": 1, "renewal_notice_days": 30}))
    (row,) = build_register([_entry(request, 1, "executed", date(2028, 1, 31))]).to_dict("records")
    assert row["end_date"] == date(2028, 2, 29)
    assert row["renewal_notice_date"] == date(2028, 1, 30)


def test_register_without_effective_date_has_no_end(validate, make_raw):
    request = validate(make_raw("nda"))
    (row,) = build_register([_entry(request, 1, "awaiting_approval", None)]).to_dict("records")
    assert row["effective_date"] is None
    assert row["end_date"] is None
    assert row["renewal_notice_date"] is None
    assert row["status"] == "awaiting_approval"


def test_register_revision_in_force_is_latest_executed(validate, make_raw):
    r1 = validate(make_raw("msa", {"term_months": 12}))
    r2 = validate(make_raw("msa", {"term_months": 24}))
    r3 = validate(make_raw("msa", {"term_months": 36}))
    frame = build_register(
        [
            _entry(r3, 3, "awaiting_approval", None),
            _entry(r1, 1, "superseded", None),
            _entry(r2, 2, "executed", date(2027, 1, 1)),
        ]
    )
    (row,) = frame.to_dict("records")
    assert row["revision_in_force"] == 2
    assert row["latest_revision"] == 3
    assert row["status"] == "awaiting_approval"
    assert row["end_date"] == date(2029, 1, 1)  # from the revision in force (24 months)


def test_register_one_row_per_contract(validate, make_raw):
    msa = validate(make_raw("msa"))
    nda = validate(make_raw("nda"))
    frame = build_register(
        [
            _entry(msa, 1, "executed", date(2027, 1, 1)),
            _entry(nda, 1, "approved", date(2027, 2, 1)),
        ]
    )
    assert list(frame["contract_id"]) == ["acme-msa", "acme-nda"]
    assert frame["revision_in_force"].isna().tolist() == [False, True]
    assert frame.loc[0, "value_amount"] == "100000.00"
    assert pd.isna(frame.loc[1, "value_amount"])
