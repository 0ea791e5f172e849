"""The layout keeps its promises: the domain stays free of Dagster, docs/architecture.md
shows the code as it is, and each rule is where the page says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from contract_assets import architecture
from contract_assets.pipeline.stages import Stage

ROOT = Path(architecture.__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
_RULE_ROW = re.compile(r"^\| (?P<rule>[^|]+?) \| `(?P<file>[^`]+)` \| `(?P<symbol>[^`]+)` \|$", re.M)


def _is_domain(module: str) -> bool:
    return architecture.is_domain(module)


def test_no_domain_module_imports_dagster_even_through_another_module():
    imports = architecture.package_imports()
    domain = sorted(module for module in imports if _is_domain(module))
    assert len(domain) > 20, domain  # the walk found the domain package
    offenders = []
    for module in domain:
        for name in sorted(imports[module]):
            if name == "dagster" or name.startswith("dagster."):
                offenders.append(f"{module} imports {name}")
            elif name.startswith("contract_assets") and not _is_domain(name):
                offenders.append(f"{module} imports {name}, which is not domain code")
    assert offenders == []


def test_the_domain_check_catches_an_import_of_dagster(tmp_path, monkeypatch):
    package = tmp_path / "contract_assets"
    (package / "intake").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "intake" / "__init__.py").write_text("")
    (package / "intake" / "sneaky.py").write_text("from dagster import asset\n")
    monkeypatch.setattr(architecture, "PACKAGE_DIR", package)
    assert architecture.is_domain("contract_assets.intake.sneaky")
    assert not architecture.is_domain("contract_assets.intake.defs.sensors")
    assert architecture.package_imports()["contract_assets.intake.sneaky"] == {"dagster", "dagster.asset"}


def test_the_architecture_page_shows_the_code_as_it_is(home):
    text = PAGE.read_text()
    blocks = architecture.generated_blocks()
    names = re.findall(r"<!-- generated: ([a-z-]+) -->", text)
    assert sorted(names) == sorted(blocks)
    assert architecture.render_page(text, blocks) == text, (
        "docs/architecture.md is stale: run `make docs` (python -m contract_assets.architecture)"
    )


def test_the_stage_machine_reaches_every_stage_from_received():
    reached = {"received"}
    for before, after in architecture.stage_transitions():
        reached |= {before, after}
    assert reached == {stage.value for stage in Stage}
    moves = architecture.stage_transitions()
    assert ("awaiting_approval", "expired") in moves
    assert ("drafted", "checked") in moves
    assert ("blocked", "validated") in moves
    assert not any(before == "executed" for before, _ in moves)  # nothing follows execution


def test_the_asset_graph_draws_every_dependency(home):
    from contract_assets.definitions import defs

    diagram = architecture.asset_graph_diagram(defs)
    assert "contract_request --> contract_draft" in diagram
    assert "approval_routing --> approval_record" in diagram
    assert "mandatory_clauses_present{{mandatory_clauses_present}} -.-> contract_draft" in diagram


def _rule_rows() -> list[tuple[str, str, str]]:
    section = PAGE.read_text().split("## Where each rule lives", 1)[1].split("\n## ", 1)[0]
    return [(m["rule"], m["file"], m["symbol"]) for m in _RULE_ROW.finditer(section)]


def _defined_names(path: Path) -> set[str]:
    if path.suffix == ".py":
        names = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
        return names
    data = YAML(typ="safe").load(path.read_text())
    return set(data) | {rule["id"] for rule in data.get("rules", [])}


def test_the_rule_table_names_the_rules_the_issue_asks_for():
    symbols = {symbol for _, _, symbol in _rule_rows()}
    assert {"high_value", "_check_parent", "blocked_on", "seal_pdf", "arrivals"} <= symbols
    playbook = YAML(typ="safe").load((ROOT / "contract_assets/library/playbook.yaml").read_text())
    assert {rule["id"] for rule in playbook["rules"]} <= symbols  # each playbook rule


@pytest.mark.parametrize("rule, file, symbol", _rule_rows(), ids=lambda value: str(value)[:40])
def test_each_rule_is_where_the_page_says(rule, file, symbol):
    path = ROOT / file
    assert path.is_file(), f"{rule}: {file} does not exist"
    assert symbol in _defined_names(path), f"{rule}: {symbol} is not defined in {file}"


def test_a_module_over_400_lines_says_why_at_its_top():
    long = []
    for path in sorted(architecture.PACKAGE_DIR.rglob("*.py")):
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > 400 and "Longer than 400 lines on purpose" not in docstring:
            long.append(str(path.relative_to(architecture.PACKAGE_DIR)))
    assert long == [], "split these, or say at the top why they are long"
