"""The diagrams of docs/architecture.md, drawn from the code itself.

`python -m contract_assets.architecture` rewrites the generated blocks of the page (each
between `<!-- generated: NAME -->` and `<!-- end generated -->`); a test fails when the
page and the code disagree, so the picture a newcomer reads is the one that runs:

- `asset-graph`: the assets of the definitions, grouped as Dagster groups them, with their
  dependencies and the checks on each;
- `what-starts-runs`: every sensor and schedule, what it starts and how often it looks;
- `stage-machine`: where a revision can go from each stage, found by applying the events of
  a revision's life to `pipeline.stages.derive_stage` and keeping the stage changes it gives;
- `capability-map`: the capability packages, each module in its domain half (plain Python)
  or its Dagster half (`defs/`), and which capability uses which.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from contract_assets.pipeline.stages import Stage

PACKAGE_DIR = Path(__file__).resolve().parent
PAGE = PACKAGE_DIR.parent / "docs" / "architecture.md"
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


# --- the asset graph -------------------------------------------------------------------


def _node(name: str) -> str:
    return name.replace("-", "_")


def asset_graph_diagram(defs) -> str:
    """A Mermaid flowchart of the assets, one box per Dagster group, checks as hexagons."""
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string())
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(graph.get(key).group_name or "default", []).append(key.to_user_string())
    lines = ["flowchart LR"]
    for group in sorted(groups):
        lines.append(f"  subgraph {group}")
        for name in groups[group]:
            node = graph.get(next(k for k in keys if k.to_user_string() == name))
            shape = f"{_node(name)}[{name}]" if node.is_materializable else f"{_node(name)}([{name}])"
            lines.append(f"    {shape}")
        lines.append("  end")
    for key in keys:
        for parent in sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string()):
            lines.append(f"  {_node(parent.to_user_string())} --> {_node(key.to_user_string())}")
    checks = sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name))
    for check in checks:
        lines.append(f"  {check.name}{{{{{check.name}}}}} -.-> {_node(check.asset_key.to_user_string())}")
    return "\n".join(lines)


def run_starters_table(defs) -> str:
    """Every sensor and schedule: what it starts (a job, or nothing: it records or tells)."""
    rows = ["| Name | Kind | Starts | Looks every |", "| --- | --- | --- | --- |"]
    for sensor in sorted(defs.sensors, key=lambda s: s.name):
        jobs = ", ".join(sorted(t.job_name for t in sensor.targets)) if sensor.has_jobs else "no run"
        kind = "run-status sensor" if type(sensor).__name__ == "RunStatusSensorDefinition" else "sensor"
        rows.append(f"| `{sensor.name}` | {kind} | {jobs} | {sensor.minimum_interval_seconds} s |")
    for schedule in sorted(defs.schedules, key=lambda s: s.name):
        rows.append(f"| `{schedule.name}` | schedule | {schedule.job_name} | cron `{schedule.cron_schedule}` |")
    return "\n".join(rows)


# --- the stage machine -----------------------------------------------------------------


@dataclass(frozen=True)
class _Life:
    """What `derive_stage` looks at, for one revision at one moment."""

    stored: int = 0  # how many of PROGRESSION's stages its stored steps reach, in order
    decision: str = "approved"  # the approval record's status, once it is stored
    superseded: bool = False
    failed: bool = False
    blocked: bool = False
    expired: bool = False
    draft_checked: bool = False


def _events(life: _Life) -> Iterator[tuple[str, _Life]]:
    """The things that can happen to a revision in `life`, each with the life it leads to."""
    from contract_assets.pipeline.defs.revision_state import STAGE_REACHED
    from contract_assets.pipeline.stages import _NEXT, PROGRESSION, SETTLED

    step_reaching = {stage: step for step, stage in STAGE_REACHED.items()}

    stage = _stage(life)
    runs_on = stage in _NEXT  # the pipeline goes on by itself from here
    if not life.superseded and stage is not Stage.EXECUTED:
        yield "a newer revision arrives", replace(life, superseded=True)
    if life.superseded or life.failed:
        if life.failed and not life.superseded:
            yield "resumed", replace(life, failed=False)
        return
    if runs_on:
        yield "its run fails", replace(life, failed=True)
    if life.blocked:
        yield "the parent MSA is approved", replace(life, blocked=False)
    if stage is Stage.AWAITING_APPROVAL and not life.expired:
        yield "the approval window passes", replace(life, expired=True)
    if stage is Stage.DRAFTED and not life.draft_checked:
        yield "the draft passes its checks", replace(life, draft_checked=True)
    if life.stored < len(PROGRESSION) and (runs_on or stage in SETTLED) and not life.expired:
        reaches = PROGRESSION[life.stored]
        asset = step_reaching[reaches]
        if reaches is Stage.APPROVED:
            for decision in ("approved", "rejected", "changes_requested"):
                yield f"{asset} stored ({decision})", replace(life, stored=life.stored + 1, decision=decision)
        elif stage not in (Stage.REJECTED, Stage.CHANGES_REQUESTED):
            yield f"{asset} stored", replace(life, stored=life.stored + 1)


def _stage(life: _Life):
    from contract_assets.pipeline.stages import PROGRESSION, derive_stage
    from contract_assets.platform.models import ApprovalRecord

    reached = set(PROGRESSION[: life.stored])
    record = ApprovalRecord.model_construct(status=life.decision) if Stage.APPROVED in reached else None
    return derive_stage(
        reached=reached,
        record=record,
        superseded=life.superseded,
        failed=life.failed,
        blocked=life.blocked,
        expired=life.expired,
        draft_checked=life.draft_checked,
    )


def stage_transitions() -> dict[tuple[str, str], list[str]]:
    """(from stage, to stage) -> the events that move a revision between them."""
    start = [_Life(), _Life(blocked=True)]  # any request; an sow whose parent is not approved
    seen, queue, moves = set(start), list(start), {}
    while queue:
        life = queue.pop()
        for event, after in _events(life):
            before_stage, after_stage = _stage(life).value, _stage(after).value
            if before_stage != after_stage:
                labels = moves.setdefault((before_stage, after_stage), [])
                if event not in labels:
                    labels.append(event)
            if after not in seen:
                seen.add(after)
                queue.append(after)
    return dict(sorted(moves.items()))


def stage_machine_diagram() -> str:
    lines = ["stateDiagram-v2", "  [*] --> received"]
    for (before, after), events in stage_transitions().items():
        lines.append(f"  {before} --> {after}: {' / '.join(sorted(events))}")
    return "\n".join(lines)


# --- the capability map ----------------------------------------------------------------

# One package per capability. In each, `defs/` holds what runs on Dagster (assets, checks,
# jobs, sensors, schedules, resources, and the services that read the Dagster instance);
# every other module is domain code: plain Python that imports no Dagster, not even through
# another module.
CAPABILITIES = ("intake", "drafting", "approvals", "documents", "register", "audit", "pipeline", "platform")


def capability_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "contract_assets" and len(parts) > 1 and parts[1] in CAPABILITIES else None


def is_domain(module: str) -> bool:
    """`contract_assets.intake.requests` is domain code; `contract_assets.intake.defs.sensors` is not."""
    return capability_of(module) is not None and "defs" not in module.split(".")[2:]


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Module -> the modules of this package (and `dagster`) it imports, at any depth."""
    imports: dict[str, set[str]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = _module_name(path)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        imports[module] = {n for n in names if n.startswith(("contract_assets", "dagster"))}
    return imports


def capability_table() -> str:
    """Each capability's modules: its domain half and its Dagster half."""
    modules = sorted(m for m in package_imports() if capability_of(m) and m.count(".") >= 2)
    rows = ["| Capability | Domain (plain Python) | On Dagster (`defs/`) |", "| --- | --- | --- |"]
    for capability in CAPABILITIES:
        mine = [m for m in modules if capability_of(m) == capability]
        domain = [m.split(".", 2)[2] for m in mine if is_domain(m)]
        dagster = [m.split(".defs.", 1)[1] for m in mine if ".defs." in m]
        rows.append(
            f"| `{capability}/` | {', '.join(f'`{m}`' for m in domain) or '-'} "
            f"| {', '.join(f'`{m}`' for m in dagster) or '-'} |"
        )
    return "\n".join(rows)


def capability_map_diagram() -> str:
    """Which capability uses which (any module of one importing any module of the other);
    the console and the merged definitions use them all and are left out."""
    edges: set[tuple[str, str]] = set()
    for module, imported in package_imports().items():
        source = capability_of(module)
        for name in imported:
            target = capability_of(name)
            if source and target and target != source:
                edges.add((source, target))
    lines = ["flowchart LR"]
    lines += [f"  {a} --> {b}" for a, b in sorted(edges)]
    return "\n".join(lines)


# --- the page --------------------------------------------------------------------------


def generated_blocks() -> dict[str, str]:
    from contract_assets.definitions import defs

    return {
        "asset-graph": "```mermaid\n" + asset_graph_diagram(defs) + "\n```",
        "what-starts-runs": run_starters_table(defs),
        "stage-machine": "```mermaid\n" + stage_machine_diagram() + "\n```",
        "capability-map": capability_table() + "\n\n```mermaid\n" + capability_map_diagram() + "\n```",
    }


def render_page(text: str, blocks: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in blocks:
            raise KeyError(f"docs/architecture.md has a generated block nobody draws: {name}")
        return f"{match.group(1)}{blocks[name]}\n{match.group(4)}"

    return _BLOCK.sub(fill, text)


def main() -> int:
    text = PAGE.read_text()
    updated = render_page(text, generated_blocks())
    if updated != text:
        PAGE.write_text(updated)
        print(f"updated {PAGE}")
    else:
        print(f"{PAGE} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
