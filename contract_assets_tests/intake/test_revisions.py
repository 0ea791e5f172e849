"""Revisions (PRODUCT.md section 2): numbering by content, partition keys, immutable files."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from contract_assets.approvals.approvals import DecisionLog
from contract_assets.platform.protection import DataProtection
from contract_assets.platform.records import RecordStore, records_url
from contract_assets.intake.revisions import (
    RevisionRegistry,
    TypeChanged,
    content_hash,
    parse_partition_key,
    partition_key,
)
from contract_assets.platform.storage import StorageLayout


@pytest.fixture
def registry(home) -> RevisionRegistry:
    return RevisionRegistry(RecordStore(records_url(home.root)), DataProtection())


@pytest.fixture
def msa(validate, make_raw):
    def build(changes: dict | None = None, drop: tuple[str, ...] = ()):
        changes = {"contract_id": "blue-fjord-msa", **(changes or {})}
        return validate(make_raw("msa", changes, drop=drop))

    return build


def _stored(registry: RevisionRegistry) -> dict[str, bytes]:
    """Every stored revision record, by contract and number, as its bytes."""
    return {f"{r.scope}/{r.name}": r.body for r in registry.store.list(RevisionRegistry.KIND)}


def _revision_files(registry: RevisionRegistry, contract_id: str) -> list[str]:
    return sorted(r.name for r in registry.store.list(RevisionRegistry.KIND, contract_id))


# --- numbering -----------------------------------------------------------------------------------


def test_first_submission_is_revision_1(registry, msa):
    revision, new = registry.register(msa(), source_file="inbox/blue.yaml")
    assert new is True
    assert revision.revision == 1
    assert revision.partition_key == "blue-fjord-msa.r1"
    assert revision.source_file == "inbox/blue.yaml"
    assert revision.content_hash == content_hash(msa())
    assert registry.get("blue-fjord-msa.r1") == revision


def test_equal_content_is_the_same_revision(registry, msa):
    first, _ = registry.register(msa(), source_file="a.yaml")
    again, new = registry.register(msa(), source_file="b.yaml")
    assert new is False
    assert again == first
    assert [r.revision for r in registry.revisions("blue-fjord-msa")] == [1]
    assert _revision_files(registry, "blue-fjord-msa") == ["r1"]


def test_different_content_is_the_next_revision(registry, msa):
    registry.register(msa(), source_file=None)
    second, new = registry.register(msa({"value.amount": "520000.00"}), source_file=None)
    assert new is True
    assert second.revision == 2
    assert second.partition_key == "blue-fjord-msa.r2"
    assert registry.latest_request("blue-fjord-msa").value.amount == Decimal("520000.00")


def test_content_equal_to_an_earlier_revision_is_that_revision(registry, msa):
    registry.register(msa(), source_file=None)
    registry.register(msa({"value.amount": "520000.00"}), source_file=None)
    back, new = registry.register(msa(), source_file=None)
    assert new is False
    assert back.revision == 1
    assert [r.revision for r in registry.revisions("blue-fjord-msa")] == [1, 2]
    assert _revision_files(registry, "blue-fjord-msa") == ["r1", "r2"]


def test_contracts_are_numbered_independently(registry, msa, validate, make_raw):
    registry.register(msa(), source_file=None)
    registry.register(msa({"term_months": 12}), source_file=None)
    nda, new = registry.register(validate(make_raw("nda")), source_file=None)
    assert new is True
    assert nda.partition_key == "acme-nda.r1"
    assert [r.partition_key for r in registry.all()] == [
        "blue-fjord-msa.r1",
        "blue-fjord-msa.r2",
        "acme-nda.r1",
    ]


def test_unknown_revision_is_a_key_error(registry, msa):
    registry.register(msa(), source_file=None)
    with pytest.raises(KeyError):
        registry.get("blue-fjord-msa.r2")
    with pytest.raises(KeyError):
        registry.get("other-contract.r1")
    assert registry.revisions("other-contract") == []
    assert registry.latest_request("other-contract") is None


def test_empty_registry(registry):
    assert registry.all() == []
    assert registry.revisions("blue-fjord-msa") == []


# --- partition keys ------------------------------------------------------------------------------


def test_partition_key_format():
    assert partition_key("blue-fjord-msa", 2) == "blue-fjord-msa.r2"
    assert partition_key("abc", 12) == "abc.r12"


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("blue-fjord-msa.r2", ("blue-fjord-msa", 2)),
        ("abc.r12", ("abc", 12)),
        ("r-r-r.r1", ("r-r-r", 1)),
        ("x-r2.r3", ("x-r2", 3)),
    ],
)
def test_parse_partition_key(key, parsed):
    assert parse_partition_key(key) == parsed
    assert partition_key(*parsed) == key


@pytest.mark.parametrize(
    "key", ["blue-fjord-msa", "blue-fjord-msa.r", "blue-fjord-msa.rx", ".r2", ""]
)
def test_parse_partition_key_rejects_other_strings(key):
    with pytest.raises(ValueError, match="blue-fjord-msa.r2"):
        parse_partition_key(key)


PATH_LIKE_KEYS = ["../blue-fjord-msa.r1", "../../etc.r1", "/tmp/x.r1", "a\\b\\c.r1", "abc\x00.r1", "..r1", "abc.r١"]


@pytest.mark.parametrize("key", PATH_LIKE_KEYS)
def test_path_like_keys_never_reach_a_path_or_a_record(tmp_path, registry, key):
    """Dynamic partitions can be added by hand in the UI and decisions name their revision:
    no key but a revision key names a file or folder, or files a record."""
    with pytest.raises(ValueError, match="not a revision key"):
        parse_partition_key(key)
    with pytest.raises(ValueError):
        registry.get(key)
    with pytest.raises(ValueError):
        StorageLayout(tmp_path / "home" / "storage").value_path("contract_request", key)
    with pytest.raises(ValueError):
        StorageLayout(tmp_path / "home" / "storage").documents_dir(key)
    with pytest.raises(ValueError):
        DecisionLog(registry.store).accepted(key)


@pytest.mark.parametrize("contract_id", ["../blue-fjord-msa", "/blue-fjord-msa", "./blue-fjord-msa", "blue-fjord-msa/"])
def test_registry_finds_nothing_for_text_that_is_no_contract_id(registry, msa, contract_id):
    registry.register(msa(), source_file=None)
    assert registry.revisions(contract_id) == []
    assert registry.latest_request(contract_id) is None


# --- content hash --------------------------------------------------------------------------------


def test_content_hash_is_sha256_hex_and_repeatable(msa):
    digest = content_hash(msa())
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert content_hash(msa()) == digest


def test_content_hash_independent_of_key_order(validate, make_raw):
    raw = make_raw("msa")
    reordered = dict(reversed(list(raw.items())))
    reordered["counterparty"] = dict(reversed(list(raw["counterparty"].items())))
    assert list(reordered) != list(raw)
    assert content_hash(validate(reordered)) == content_hash(validate(raw))


@pytest.mark.parametrize("written", ["480000.00", Decimal("480000.00"), 480000, "480000", 480000.0])
def test_content_hash_independent_of_how_the_amount_is_written(msa, written):
    assert content_hash(msa({"value.amount": written})) == content_hash(
        msa({"value.amount": "480000.00"})
    )


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("payment_terms_days", 30),
        ("liability_cap_multiple", 1.0),
        ("liability_cap_multiple", "1"),
        ("auto_renew", False),
        ("renewal_notice_days", 30),
        ("custom_clauses", []),
        ("effective_date", None),
    ],
)
def test_content_hash_equal_with_defaults_explicit_or_omitted(msa, field, default):
    assert content_hash(msa({field: default})) == content_hash(msa())


def test_content_hash_nda_defaults_explicit_or_omitted(validate, make_raw):
    omitted = validate(make_raw("nda", {"nda.mutual": False}))
    explicit = validate(
        make_raw(
            "nda",
            {"nda.mutual": False, "nda.disclosing_party": "us", "nda.confidentiality_years": 3},
        )
    )
    assert content_hash(explicit) == content_hash(omitted)
    assert content_hash(validate(make_raw("nda", {"nda.mutual": True}))) == content_hash(
        validate(make_raw("nda"))
    )


def test_content_hash_differs_for_different_content(msa):
    base = content_hash(msa())
    assert content_hash(msa({"value.amount": "100000.01"})) != base
    assert content_hash(msa({"payment_terms_days": 31})) != base
    assert content_hash(msa({"notes": "internal"})) != base


def test_stored_revision_keeps_its_content_hash(registry, msa):
    revision, _ = registry.register(msa({"value.amount": "480000.10"}), source_file=None)
    reread = registry.get(revision.partition_key)
    assert reread.request == revision.request
    assert content_hash(reread.request) == revision.content_hash
    assert reread.request.value.amount == Decimal("480000.10")


# --- type change, files --------------------------------------------------------------------------


def test_type_change_rejected_and_nothing_written(registry, msa, validate, make_raw):
    registry.register(msa(), source_file=None)
    before = _stored(registry)
    as_nda = validate(make_raw("nda", {"contract_id": "blue-fjord-msa"}))
    with pytest.raises(TypeChanged, match="msa"):
        registry.register(as_nda, source_file=None)
    assert _stored(registry) == before
    assert [r.revision for r in registry.revisions("blue-fjord-msa")] == [1]


def test_each_submission_is_one_record(registry, msa):
    for amount in ("1.00", "2.00", "3.00"):
        registry.register(msa({"value.amount": amount}), source_file=None)
    assert list(_stored(registry)) == ["blue-fjord-msa/r1", "blue-fjord-msa/r2", "blue-fjord-msa/r3"]


def test_earlier_revision_files_unchanged(registry, msa):
    registry.register(msa(), source_file="first.yaml")
    r1_bytes = _stored(registry)["blue-fjord-msa/r1"]
    registry.register(msa({"value.amount": "520000.00"}), source_file="second.yaml")
    registry.register(msa(), source_file="again.yaml")
    registry.register(msa({"term_months": 12}), source_file="third.yaml")
    assert _stored(registry)["blue-fjord-msa/r1"] == r1_bytes
    assert registry.get("blue-fjord-msa.r1").source_file == "first.yaml"


def test_concurrent_registrations_get_distinct_numbers(registry, msa):
    requests = [msa({"value.amount": f"{1000 + n}.00"}) for n in range(12)]
    results: list = []
    errors: list = []
    start = threading.Barrier(len(requests))

    def submit(request):
        try:
            start.wait()
            results.append(registry.register(request, source_file=None))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(revision.revision for revision, new in results) == list(range(1, 13))
    assert all(new for _, new in results)
    stored = registry.revisions("blue-fjord-msa")
    assert [r.revision for r in stored] == list(range(1, 13))
    assert {r.content_hash for r in stored} == {content_hash(r) for r in requests}


def test_concurrent_equal_submissions_make_one_revision(registry, msa):
    request = msa()
    results: list = []
    start = threading.Barrier(8)

    def submit():
        start.wait()
        results.append(registry.register(request, source_file=None))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {revision.revision for revision, _ in results} == {1}
    assert sum(new for _, new in results) == 1
