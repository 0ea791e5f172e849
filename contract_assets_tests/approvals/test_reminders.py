"""Reminders (PRODUCT.md sections 5-7): renewal notices, the approval SLA, failed runs."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest

from contract_assets.platform.models import Revision
from contract_assets.register.register import COLUMNS, RegisterEntry, build_register
from contract_assets.approvals.reminders import (
    PendingRevision,
    renewal_alerts,
    run_failure_alert,
    sla_alerts,
)
from contract_assets.intake.revisions import content_hash, partition_key

TODAY = date(2029, 9, 3)
NOW = datetime(2029, 9, 10, 12, 0, tzinfo=UTC)


def register_row(
    contract_id: str,
    notice: date | None,
    *,
    end: date | None = None,
    in_force: int | None = 1,
    auto_renew: bool = True,
) -> dict:
    end = end if end is not None or notice is None else notice + timedelta(days=30)
    return {
        "contract_id": contract_id,
        "type": "msa",
        "counterparty": "Blue Fjord AS",
        "our_entity": "orbital-inc",
        "revision_in_force": in_force,
        "latest_revision": in_force or 1,
        "status": "executed" if in_force else "awaiting_approval",
        "value_amount": "100000.00",
        "currency": "USD",
        "risk_score": 10,
        "risk_level": "low",
        "effective_date": date(2027, 1, 1),
        "end_date": end,
        "auto_renew": auto_renew,
        "renewal_notice_date": notice,
    }


def register(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    for column in ("revision_in_force", "latest_revision", "risk_score"):
        frame[column] = frame[column].astype("Int64")
    return frame


def alert_ids(alerts) -> list[str]:
    return [alert.alert_id for alert in alerts]


# --- renewals ------------------------------------------------------------------------------


@pytest.mark.parametrize("days_ahead, due", [(0, True), (1, True), (30, True), (31, False)])
def test_renewal_window_is_today_to_thirty_days_ahead(days_ahead, due):
    notice = TODAY + timedelta(days=days_ahead)
    alerts = renewal_alerts(register(register_row("blue-fjord-msa", notice)), TODAY)
    assert alert_ids(alerts) == ([f"renewal:blue-fjord-msa:{notice}"] if due else [])


def test_renewal_window_is_configurable():
    frame = register(register_row("blue-fjord-msa", TODAY + timedelta(days=60)))
    assert renewal_alerts(frame, TODAY, window_days=59) == []
    assert len(renewal_alerts(frame, TODAY, window_days=60)) == 1


def test_renewal_alert_names_contract_revision_and_dates():
    row = register_row("blue-fjord-msa", date(2029, 10, 3), end=date(2029, 11, 2), in_force=2)
    frame = register(row)
    [alert] = renewal_alerts(frame, TODAY)
    assert alert.kind == "renewal"
    assert alert.contract_id == "blue-fjord-msa"
    assert alert.partition_key == "blue-fjord-msa.r2"
    assert "2029-10-03" in alert.subject and "Blue Fjord AS" in alert.subject
    assert "renews automatically on 2029-11-02 unless notice is given by 2029-10-03" in alert.body
    assert "in 30 day(s)" in alert.body
    assert alert.created_at == datetime(2029, 9, 3, tzinfo=UTC)


def test_contract_without_auto_renewal_is_told_it_ends():
    frame = register(register_row("acme-nda", TODAY, end=date(2029, 10, 3), auto_renew=False))
    [alert] = renewal_alerts(frame, TODAY)
    assert "ends on 2029-10-03" in alert.body
    assert "The notice date is today." in alert.body


def test_repeated_evaluation_gives_one_alert_id_per_renewal():
    notice, end = date(2029, 10, 3), date(2029, 11, 2)
    frame = register(register_row("blue-fjord-msa", notice, end=end))
    ids = set()
    day = notice - timedelta(days=40)
    while day <= end + timedelta(days=3):
        ids.update(alert_ids(renewal_alerts(frame, day)))
        day += timedelta(days=1)
    assert ids == {"renewal:blue-fjord-msa:2029-10-03"}

    # The next term has a new notice date, so it gets its own alert.
    next_term = register(register_row("blue-fjord-msa", date(2030, 10, 3), end=date(2030, 11, 2)))
    assert alert_ids(renewal_alerts(next_term, date(2030, 9, 20))) == [
        "renewal:blue-fjord-msa:2030-10-03"
    ]


def test_passed_notice_date_still_alerts_until_the_contract_ends():
    notice, end = date(2029, 8, 25), date(2029, 9, 24)
    frame = register(register_row("blue-fjord-msa", notice, end=end))

    [alert] = renewal_alerts(frame, TODAY)
    assert alert.alert_id == "renewal:blue-fjord-msa:2029-08-25"
    assert alert.subject.startswith("Renewal notice date passed")
    assert "passed 9 day(s) ago" in alert.body

    assert renewal_alerts(frame, end - timedelta(days=1)) != []
    assert renewal_alerts(frame, end) == []


def test_contracts_without_a_revision_in_force_or_dates_get_no_renewal_alert():
    frame = register(
        register_row("draft-msa", TODAY, in_force=None),
        register_row("undated-msa", None, end=None),
    )
    assert renewal_alerts(frame, TODAY) == []


def test_renewal_alerts_come_by_notice_date_then_contract():
    frame = register(
        register_row("zeta-msa", TODAY + timedelta(days=2)),
        register_row("beta-msa", TODAY + timedelta(days=9)),
        register_row("alpha-msa", TODAY + timedelta(days=2)),
        register_row("far-msa", TODAY + timedelta(days=90)),
    )
    ordered = [alert.contract_id for alert in renewal_alerts(frame, TODAY)]
    assert ordered == ["alpha-msa", "zeta-msa", "beta-msa"]


def test_register_without_the_needed_columns_is_refused():
    frame = register(register_row("blue-fjord-msa", TODAY)).drop(columns=["renewal_notice_date"])
    with pytest.raises(ValueError, match="renewal_notice_date"):
        renewal_alerts(frame, TODAY)


def test_renewal_alerts_read_the_register_as_built_and_stored(validate, make_raw):
    request = validate(
        make_raw(
            "msa",
            {
                "contract_id": "blue-fjord-msa",
                "effective_date": "2027-11-02",
                "term_months": 24,
                "auto_renew": True,
                "renewal_notice_days": 30,
            },
        )
    )
    revision = Revision(
        contract_id=request.contract_id,
        revision=1,
        partition_key=partition_key(request.contract_id, 1),
        content_hash=content_hash(request),
        submitted_at=datetime(2027, 10, 1, tzinfo=UTC),
        request=request,
    )
    built = build_register([RegisterEntry(revision, "executed", None, request.effective_date)])
    buffer = io.BytesIO()
    built.to_parquet(buffer, index=False)  # as the IO manager stores it
    stored = pd.read_parquet(io.BytesIO(buffer.getvalue()))

    for frame in (built, stored):
        [alert] = renewal_alerts(frame, TODAY)
        assert alert.alert_id == "renewal:blue-fjord-msa:2029-10-03"
        assert alert.partition_key == "blue-fjord-msa.r1"


# --- approvals past their SLA --------------------------------------------------------------


def pending(key: str = "blue-fjord-msa.r2", waited: timedelta = timedelta(hours=48), **changes):
    fields = {
        "partition_key": key,
        "contract_id": key.rpartition(".r")[0],
        "awaiting_since": NOW - waited,
        "required_roles": ["finance", "legal"],
    }
    return PendingRevision(**{**fields, **changes})


@pytest.mark.parametrize(
    "waited, ids, expired",
    [
        (timedelta(hours=47, minutes=59), [], []),
        (timedelta(hours=47, minutes=59, seconds=59), [], []),
        (timedelta(hours=48), ["sla:blue-fjord-msa.r2"], []),
        (timedelta(days=6, hours=23, minutes=59), ["sla:blue-fjord-msa.r2"], []),
        (timedelta(days=7), ["expired:blue-fjord-msa.r2"], ["blue-fjord-msa.r2"]),
        (timedelta(days=30), ["expired:blue-fjord-msa.r2"], ["blue-fjord-msa.r2"]),
        (timedelta(hours=-3), [], []),  # a clock ahead of ours: not pending yet
    ],
)
def test_sla_boundaries(waited, ids, expired):
    alerts, to_expire = sla_alerts([pending(waited=waited)], NOW)
    assert alert_ids(alerts) == ids
    assert to_expire == expired


def test_escalation_names_the_missing_roles_and_the_expiry():
    [alert], _ = sla_alerts([pending(waited=timedelta(hours=50))], NOW)
    assert alert.kind == "sla_escalation"
    assert alert.contract_id == "blue-fjord-msa"
    assert alert.partition_key == "blue-fjord-msa.r2"
    assert "50 h" in alert.subject and "finance, legal" in alert.subject
    assert "expires at 2029-09-15 10:00 UTC" in alert.body
    assert alert.created_at == NOW


def test_expired_alert_tells_what_to_do():
    [alert], _ = sla_alerts([pending(waited=timedelta(days=8))], NOW)
    assert alert.kind == "expired"
    assert "Submit a new revision" in alert.body


def test_repeated_evaluation_gives_the_same_escalation_id():
    revision = pending(waited=timedelta(hours=48))
    later = [NOW + timedelta(hours=hours) for hours in range(0, 100, 7)]
    ids = {alert.alert_id for now in later for alert in sla_alerts([revision], now)[0]}
    assert ids == {"sla:blue-fjord-msa.r2"}


def test_sla_is_counted_in_utc_whatever_the_zones():
    oslo = timezone(timedelta(hours=2))
    # 12:00 in Oslo is 10:00 UTC; NOW is 12:00 UTC two days later: exactly 48 hours.
    since = datetime(2029, 9, 8, 12, 0, tzinfo=oslo)
    alerts, _ = sla_alerts([pending(awaiting_since=since)], NOW.astimezone(oslo))
    assert alert_ids(alerts) == ["sla:blue-fjord-msa.r2"]
    assert alerts[0].created_at.tzinfo == UTC


def test_sla_thresholds_are_configurable():
    revision = pending(waited=timedelta(hours=30))
    assert alert_ids(sla_alerts([revision], NOW, sla_hours=24)[0]) == ["sla:blue-fjord-msa.r2"]
    two_days = pending(waited=timedelta(days=2))
    _, expired = sla_alerts([two_days], NOW, sla_hours=24, expire_after_days=2)
    assert expired == ["blue-fjord-msa.r2"]
    with pytest.raises(ValueError, match="shorter than the expiry"):
        sla_alerts([revision], NOW, sla_hours=168, expire_after_days=7)


def test_sla_results_come_longest_waiting_first():
    revisions = [
        pending("a-msa.r1", waited=timedelta(hours=49)),
        pending("b-msa.r1", waited=timedelta(days=9)),
        pending("c-msa.r1", waited=timedelta(hours=60)),
        pending("d-msa.r1", waited=timedelta(days=8)),
        pending("e-msa.r1", waited=timedelta(hours=1)),
    ]
    alerts, expired = sla_alerts(revisions, NOW)
    assert alert_ids(alerts) == [
        "expired:b-msa.r1",
        "expired:d-msa.r1",
        "sla:c-msa.r1",
        "sla:a-msa.r1",
    ]
    assert expired == ["b-msa.r1", "d-msa.r1"]


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        sla_alerts([pending()], datetime(2029, 9, 10, 12, 0))
    with pytest.raises(ValueError, match="awaiting_since must carry a time zone"):
        pending(awaiting_since=datetime(2029, 9, 8, 12, 0))


# --- failed runs ---------------------------------------------------------------------------


def test_run_failure_alert_is_keyed_by_run():
    alert = run_failure_alert(
        run_id="4f1c",
        job_name="contract_pipeline",
        error="RenderError: font missing\n  at render_pdf",
        failed_at=NOW,
        contract_id="blue-fjord-msa",
        partition_key="blue-fjord-msa.r2",
    )
    assert alert.alert_id == "run_failure:4f1c"
    assert alert.kind == "run_failure"
    assert alert.subject == "Run failed: contract_pipeline (blue-fjord-msa.r2)"
    assert "RenderError: font missing" in alert.body
    with pytest.raises(ValueError, match="time zone"):
        run_failure_alert(run_id="x", job_name="j", error="e", failed_at=datetime(2029, 1, 1))


# --- approval requests and outcome notices ------------------------------------------------


def test_approval_requests_are_one_per_person_to_their_own_email():
    from contract_assets.approvals.reminders import Addressee, OpenTier, approval_request_alerts

    erin = Addressee("erin", "erin@orbital.example")
    tier = OpenTier(
        partition_key="blue-fjord-msa.r2", contract_id="blue-fjord-msa", tier=1,
        approvers={"finance": [erin], "legal": [erin, Addressee("lex", "lex@orbital.example")], "privacy": []},
    )
    alerts = approval_request_alerts([tier], datetime(2029, 9, 20, tzinfo=UTC))
    assert [(a.alert_id, a.recipients) for a in alerts] == [
        ("approval_request:blue-fjord-msa.r2:tier1:erin", ["erin@orbital.example"]),
        ("approval_request:blue-fjord-msa.r2:tier1:lex", ["lex@orbital.example"]),
        ("approval_request:blue-fjord-msa.r2:tier1:nobody:privacy", []),
    ]
    assert "as finance or legal" in alerts[0].body


def test_outcome_notices_go_to_the_requester_alone_with_the_comment():
    from contract_assets.approvals.reminders import RequesterOutcome, requester_notices

    outcome = RequesterOutcome(
        partition_key="blue-fjord-msa.r2", contract_id="blue-fjord-msa", requester="sam@orbital.example",
        outcome="changes_requested", role="legal", approver="lex", comment="Cap the liability at 1x.",
    )
    (notice,) = requester_notices([outcome], datetime(2029, 9, 20, tzinfo=UTC))
    assert notice.alert_id == "approval_outcome:blue-fjord-msa.r2:changes_requested"
    assert (notice.recipients, notice.broadcast) == (["sam@orbital.example"], False)
    assert "by lex (legal)" in notice.body and "Cap the liability at 1x." in notice.body
    assert "sam@" not in notice.body + notice.subject
