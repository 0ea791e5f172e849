"""The clause library loads, checks its files, and identifies its text by a content hash."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contract_assets.drafting.clause_library import (
    LIBRARY_DIR,
    LibraryError,
    load_entities,
    load_library,
    longdate,
    money,
    number,
    quantity,
    with_article,
)
from contract_assets.platform.models import ContractType


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped library that a test may edit."""
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_library_has_a_version_and_a_template_for_every_contract_type():
    library = load_library()
    assert library.version == "2026.11.2"
    assert {t.spec.contract_type for t in library.templates.values()} == set(ContractType)
    assert sorted(library.templates) == ["dpa", "msa", "nda-mutual", "nda-one-way", "sow"]
    assert library.annexes["dpa"].clauses[0] == "dpa-annex-scope"


def test_dpa_annex_reuses_the_clauses_of_the_standalone_dpa():
    library = load_library()
    standalone = set(library.templates["dpa"].spec.sections)
    shared = set(library.annexes["dpa"].clauses) & standalone
    assert {"dpa-processor-obligations", "dpa-sub-processors", "dpa-breach-notification"} <= shared


def test_clauses_a_lawyer_insists_on_are_mandatory():
    clauses = load_library().clauses
    for clause_id in (
        "governing-law",
        "nda-obligations",
        "nda-definitions",
        "msa-parties",
        "msa-liability-cap",
        "msa-confidentiality",
        "sow-msa-terms",
        "dpa-processor-obligations",
    ):
        assert clauses[clause_id].mandatory, clause_id
    assert not clauses["dpa-international-transfers"].mandatory


def test_content_hash_is_stable_and_independent_of_where_the_library_lives(library_copy: Path):
    shipped = load_library()
    assert load_library().content_hash == shipped.content_hash
    assert load_library(library_copy).content_hash == shipped.content_hash
    assert len(shipped.content_hash) == 64


def test_content_hash_changes_when_a_clause_changes(library_copy: Path):
    before = load_library(library_copy)
    _edit(library_copy / "clauses" / "nda-remedies.md", "equitable relief", "equitable remedies")
    after = load_library(library_copy)
    assert after.content_hash != before.content_hash


def test_content_hash_changes_when_a_clause_is_renamed(library_copy: Path):
    before = load_library(library_copy).content_hash
    clauses = library_copy / "clauses"
    (clauses / "nda-remedies.md").rename(clauses / "nda-relief.md")
    _edit(clauses / "nda-relief.md", "id: nda-remedies", "id: nda-relief")
    for name in ("nda-mutual.yaml", "nda-one-way.yaml"):
        _edit(library_copy / "templates" / name, "- nda-remedies", "- nda-relief")
    assert load_library(library_copy).content_hash != before


def test_configuration_files_do_not_change_the_content_hash(library_copy: Path):
    before = load_library(library_copy).content_hash
    with (library_copy / "entities.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n# a new comment\n")
    (library_copy / "playbook.yaml").write_text("version: changed\n", encoding="utf-8")
    assert load_library(library_copy).content_hash == before


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        pytest.param(
            "clauses/notices.md", "mandatory: false", "mandatory: false\nmandatroy: true",
            r"clauses/notices\.md: mandatroy: Extra inputs", id="unknown front-matter key",
        ),
        pytest.param(
            "clauses/nda-purpose.md", "{{ request.nda.purpose }}", "{{ request.nda.purpose }",
            r"clauses/nda-purpose\.md: body: line \d+", id="template syntax error",
        ),
        pytest.param(
            "clauses/notices.md", "{{ us.address }}", "{{ our.address }}",
            r"clauses/notices\.md: body uses unknown variable\(s\) our", id="misspelt variable",
        ),
        pytest.param(
            "templates/msa.yaml", "request.personal_data and", "request.personal_data and and",
            r"templates/msa\.yaml: annex 'dpa'", id="condition syntax error",
        ),
        pytest.param(
            "templates/sow.yaml", "- sow-acceptance", "- sow-acceptence",
            r"templates/sow\.yaml: section 'sow-acceptence'", id="missing clause",
        ),
        pytest.param(
            "clauses/general.md", "id: general", "id: boilerplate",
            r"clauses/general\.md: id 'boilerplate'", id="id differs from file name",
        ),
        pytest.param(
            "templates/nda-mutual.yaml", "  - notices\n", "  - notices\n  - notices\n",
            r"templates/nda-mutual\.yaml: .*each clause once", id="clause listed twice",
        ),
    ],
)
def test_a_broken_file_fails_the_load_naming_the_file(library_copy, file, old, new, message):
    _edit(library_copy / file, old, new)
    with pytest.raises(LibraryError, match=message):
        load_library(library_copy)


def test_non_standard_position_must_say_why_it_deviates(library_copy: Path):
    cap = library_copy / "clauses" / "msa-liability-cap.md"
    lines = cap.read_text(encoding="utf-8").splitlines(keepends=True)
    unlimited_description = [n for n, line in enumerate(lines) if "Liability is not capped" in line]
    assert len(unlimited_description) == 1
    del lines[unlimited_description[0]]
    cap.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LibraryError, match=r"msa-liability-cap\.md: .*'unlimited' is not standard"):
        load_library(library_copy)


def test_a_stray_file_in_clauses_is_an_error(library_copy: Path):
    (library_copy / "clauses" / "draft-notes.txt").write_text("not a clause", encoding="utf-8")
    with pytest.raises(LibraryError, match=r"clauses/draft-notes\.txt: only \*\.md files"):
        load_library(library_copy)


def test_front_matter_is_yaml_1_2_so_no_stays_a_string(library_copy: Path):
    _edit(library_copy / "clauses" / "notices.md", "title: Notices", "title: NO")
    assert load_library(library_copy).clauses["notices"].title == "NO"


def test_entities_are_keyed_and_validated():
    entities = load_entities()
    assert set(entities) == {"orbital-inc", "orbital-gmbh"}
    inc, gmbh = entities["orbital-inc"], entities["orbital-gmbh"]
    assert (inc.key, inc.legal_name, inc.jurisdiction) == ("orbital-inc", "Orbital, Inc.", "US-DE")
    assert gmbh.entity_type == "Gesellschaft mit beschränkter Haftung"
    assert gmbh.jurisdiction == "DE"
    assert gmbh.signatory.email.endswith("@orbital.example")


def test_a_malformed_entity_is_an_error_naming_it(library_copy: Path):
    _edit(library_copy / "entities.yaml", "jurisdiction: US-DE", "jurisdiction: Delaware")
    with pytest.raises(LibraryError, match=r"entities\.yaml: orbital-inc\.jurisdiction"):
        load_entities(library_copy)


def test_money_is_formatted_exactly():
    assert money({"amount": Decimal("480000.00"), "currency": "EUR"}) == "EUR 480,000.00"
    assert money(Decimal("999999999999.99"), "USD") == "USD 999,999,999,999.99"
    assert money(Decimal("0.1"), "GBP") == "GBP 0.10"
    with pytest.raises(TypeError, match="Decimal"):
        money(0.1, "EUR")


def test_text_filters():
    assert longdate(date(2026, 12, 1)) == "1 December 2026"
    assert number(Decimal("2.00")) == "2"
    assert number(Decimal("0.50")) == "0.5"
    assert number(Decimal("10.00")) == "10"
    assert quantity(1, "month") == "1 month"
    assert quantity(24, "month") == "24 months"
    assert with_article("corporation") == "a corporation"
    assert with_article("exempted company") == "an exempted company"
