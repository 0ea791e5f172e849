"""The audit trail: appends once per key, and any edit, deletion or reordering is named."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, update

from contract_assets.audit.trail import AuditHead, AuditTrail, export_lines
from contract_assets.platform.records import audit_table, records_url

ENTRIES = 6


@pytest.fixture
def trail(home) -> AuditTrail:
    trail = AuditTrail(records_url(home.root), home.root / "audit" / "head.json")
    for n in range(1, ENTRIES + 1):
        trail.append(
            "draft_assembled",
            key=f"draft:c{n}.r1",
            actor="pipeline",
            revision=f"c{n}.r1",
            details={"n": n, "library_hash": "ab" * 32},
        )
    return trail


def _change(trail: AuditTrail, at: int, **values) -> None:
    with trail.engine.begin() as connection:
        connection.execute(update(audit_table).where(audit_table.c.seq == at).values(**values))


def _delete(trail: AuditTrail, seq: int) -> None:
    with trail.engine.begin() as connection:
        connection.execute(delete(audit_table).where(audit_table.c.seq == seq))


def test_an_intact_chain_verifies_and_links_each_entry_to_the_one_before(trail):
    report = trail.verify()
    entries = list(trail.entries())

    assert report.ok, report.problems
    assert [e.seq for e in entries] == list(range(1, ENTRIES + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:]))
    assert trail.recorded_head() == AuditHead(ENTRIES, entries[-1].hash, witness=str(trail.head_file))


def test_the_same_key_appends_once(trail):
    again = trail.append("draft_assembled", key="draft:c3.r1", actor="someone-else", details={"n": 99})

    assert again.seq == 3 and again.details == {"n": 3, "library_hash": "ab" * 32}
    assert len(list(trail.entries())) == ENTRIES


def test_concurrent_appends_make_one_unbroken_chain(home):
    url = records_url(home.root)

    def append(n: int) -> int:
        # A trail per thread, as separate processes would have.
        trail = AuditTrail(url, home.root / "audit" / "head.json")
        return trail.append("risk_assessed", key=f"risk:{n % 20}", actor="pipeline", details={"n": n % 20}).seq

    with ThreadPoolExecutor(max_workers=6) as pool:
        seqs = list(pool.map(append, range(60)))

    trail = AuditTrail(url, home.root / "audit" / "head.json")
    assert sorted(set(seqs)) == list(range(1, 21))
    assert trail.verify().ok


@pytest.mark.parametrize("seq", [1, 3, ENTRIES])
def test_editing_an_entry_names_it(trail, seq):
    _change(trail, seq, details=json.dumps({"n": 1000}))

    report = trail.verify()

    assert [p.seq for p in report.problems] == [seq]
    assert "changed" in str(report.problems[0])


@pytest.mark.parametrize("seq", [2, ENTRIES])
def test_editing_an_entry_and_recomputing_its_hash_names_it(trail, seq):
    entry = next(e for e in trail.entries() if e.seq == seq)
    forged = entry.__class__(**{**entry.as_json(), "actor": "mallory"})
    _change(trail, seq, actor="mallory", hash=forged.computed_hash())

    report = trail.verify()

    assert [p.seq for p in report.problems] == [seq]


@pytest.mark.parametrize("seq", [1, 4, ENTRIES])
def test_deleting_an_entry_names_it_the_newest_included(trail, seq):
    _delete(trail, seq)

    report = trail.verify()

    assert [p.seq for p in report.problems] == [seq]
    assert "missing" in str(report.problems[0])


def test_deleting_the_newest_is_caught_by_dagster_or_a_manifest_even_without_the_head_file(trail):
    newest = list(trail.entries())[-1]
    _delete(trail, ENTRIES)
    trail.head_file.unlink()

    assert trail.verify().ok  # nothing outside the table is left to tell
    report = trail.verify([AuditHead(newest.seq, newest.hash, witness="a manifest")])
    assert [p.seq for p in report.problems] == [ENTRIES]
    assert "a manifest" in str(report.problems[0])


def test_reordering_two_entries_names_the_first_moved(trail):
    entries = {e.seq: e for e in trail.entries()}
    third, fourth = entries[3], entries[4]
    # Swap their places: each row takes the other's position in the sequence.
    _change(trail, 3, seq=-3)
    _change(trail, 4, seq=3)
    _change(trail, -3, seq=4)

    report = trail.verify()

    assert [p.seq for p in report.problems] == [3]
    assert third.hash != fourth.hash


def test_reordering_with_recomputed_hashes_names_the_first_moved(trail):
    entries = {e.seq: e for e in trail.entries()}
    # Dagster's event log saw every head as it was appended.
    event_log = [AuditHead(e.seq, e.hash, witness="event log") for e in entries.values()]
    for old, new in ((3, 4), (4, 3)):
        moved = entries[old].__class__(**{**entries[old].as_json(), "seq": new})
        _change(trail, old, seq=-new, hash=moved.computed_hash())
    for new in (3, 4):
        _change(trail, -new, seq=new)

    report = trail.verify(event_log)

    assert [p.seq for p in report.problems] == [3]
    assert "moved" in str(report.problems[0])


def test_export_writes_every_entry_as_one_json_line_in_order(trail):
    lines = list(export_lines(trail.entries()))

    assert [json.loads(line)["seq"] for line in lines] == list(range(1, ENTRIES + 1))
    assert json.loads(lines[0])["prev_hash"] == "0" * 64


def test_unknown_actions_are_refused(trail):
    with pytest.raises(ValueError, match="unknown audit action"):
        trail.append("made_up", key="x", actor="pipeline")
