"""The step order comes from the asset graph, and asset keys are spelled only where assets
are defined."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest
from dagster import AssetKey, asset

from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS, REVISION_STEPS, ordered_steps
from contract_assets.definitions import defs

PACKAGE = Path(__file__).resolve().parents[2] / "contract_assets"

# Values of stored data that happen to equal an asset key, in the Dagster-free domain: the
# register report's file kind (FILE_KIND, and the Literal of file kinds) and the label it
# stores as its partition key. Renaming them would change files already written.
STORED_VALUES_NAMED_LIKE_ASSETS = {
    ("platform/models.py", "register_report"),
    ("register/register_report.py", "register_report"),
    ("register/register_report.py", "contract_register"),
}
ASSET_DECORATORS = {"asset", "multi_asset", "graph_asset", "graph_multi_asset"}


def project_asset_keys() -> set[str]:
    """Every asset key of the project: the pipeline's, the executed copy's, the register's
    and the runless ones (audit_trail, revision_stage)."""
    return {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}


def _called_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def defines_assets(tree: ast.Module) -> bool:
    """Whether a module holds asset definitions: an @asset-like decorator or an AssetSpec."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            _called_name(d) in ASSET_DECORATORS for d in node.decorator_list
        ):
            return True
        if isinstance(node, ast.Call) and _called_name(node) == "AssetSpec":
            return True
    return False


def asset_key_literals(package: Path = PACKAGE) -> dict[tuple[str, str], list[int]]:
    """(module, key) -> lines: string literals equal to an asset key, outside the modules
    that define assets."""
    keys = project_asset_keys()
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        if defines_assets(tree):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in keys:
                found[(path.relative_to(package).as_posix(), node.value)].append(node.lineno)
    return dict(found)


def test_asset_keys_are_spelled_only_where_assets_are_defined():
    found = asset_key_literals()
    allowed = STORED_VALUES_NAMED_LIKE_ASSETS
    offenders = {f"{module}:{lines} {key!r}" for (module, key), lines in found.items() if (module, key) not in allowed}
    assert offenders == set(), "name the asset through its definition (its .key) or asset_graph.py"
    stale = allowed - set(found)
    assert stale == set(), f"no longer there: remove them from the exception lists: {stale}"


def test_the_scan_finds_literals_outside_asset_definitions_only(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "planner.py").write_text('STEPS = ["contract_request", "not an asset"]\n')
    (tmp_path / "steps.py").write_text('from dagster import asset\n\n@asset\ndef contract_request():\n    return "contract_request"\n')
    (tmp_path / "stage.py").write_text('from dagster import AssetSpec\nSPEC = AssetSpec("revision_stage")\n')
    assert asset_key_literals(tmp_path) == {("sub/planner.py", "contract_request"): [1]}
    # The modules that typed the step order by hand are scanned; the asset definitions are not.
    for module in (
        "pipeline/defs/sensors.py",
        "pipeline/stages.py",
        "pipeline/defs/run_planning.py",
        "pipeline/defs/revision_state.py",
    ):
        assert not defines_assets(ast.parse((PACKAGE / module).read_text())), module
    assert defines_assets(ast.parse((PACKAGE / "drafting" / "defs" / "assets.py").read_text()))
    assert defines_assets(ast.parse((PACKAGE / "pipeline" / "defs" / "revision_stage.py").read_text()))


def test_pipeline_steps_are_the_jobs_assets_in_dependency_order():
    graph = defs.resolve_asset_graph()
    job_keys = defs.resolve_job_def("contract_pipeline").asset_layer.selected_asset_keys
    assert {AssetKey(step) for step in PIPELINE_STEPS} == set(job_keys)
    executed = defs.resolve_job_def("executed_copy_job").asset_layer.selected_asset_keys
    assert {AssetKey(step) for step in REVISION_STEPS} == set(job_keys) | set(executed)
    for position, step in enumerate(REVISION_STEPS):
        upstream = {key.to_user_string() for key in graph.get(AssetKey(step)).parent_keys}
        assert upstream & set(REVISION_STEPS[position:]) == set(), f"{step} comes before what it needs"


def test_step_order_keeps_the_declared_order_where_the_graph_leaves_a_choice():
    # The run keys of resumed revisions name their first missing step: the order must not move.
    assert PIPELINE_STEPS == (
        "contract_request",
        "contract_draft",
        "risk_assessment",
        "approval_routing",
        "approval_record",
        "review_copy",
        "contract_documents",
        "signature_package",
        "contract_redline",
    )
    assert REVISION_STEPS == (*PIPELINE_STEPS, "executed_copy")


def test_ordered_steps_follows_dependencies_over_declaration():
    @asset
    def first() -> int:
        return 1

    @asset
    def second(first: int) -> int:
        return first

    @asset
    def aside() -> int:
        return 0

    declared = [second, aside, first]  # declared before what it needs
    assert ordered_steps({a.key for a in declared}, declared) == ["aside", "first", "second"]
    assert ordered_steps({second.key, aside.key}, declared) == ["second", "aside"]  # outside the selection
    with pytest.raises(ValueError, match="no definition"):
        ordered_steps({AssetKey("elsewhere")}, declared)
