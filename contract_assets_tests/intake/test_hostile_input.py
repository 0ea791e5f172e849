"""Hostile request files through every way in: `contract-assets submit`, `RevisionIntake.submit`
and the inbox sensor (issue 5, item 5).

A YAML alias bomb, a 50 MiB file, a `../` id and a `!!python/object` tag are each refused with
a clear error, in bounded time and memory, and leave nothing behind: no dynamic partition, no
run, no registered revision, no document, no temporary file (the inbox sensor moves the file
to quarantine beside its error report, and that is all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import DagsterInstance

from contract_assets.platform.files import TEMP_SUFFIX
from contract_assets.intake.requests import DOCUMENT, InvalidRequest
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.intake.defs.sensors import inbox_sensor
from contract_assets.platform.defs.resources import Workspace
from contract_assets_tests.harness import AUDIT_FILES, SAMPLES, cli, files_under
from contract_assets_tests.intake.test_sensors import tick

NDA = (SAMPLES / "01-mutual-nda.yaml").read_text(encoding="utf-8")
HUGE_BYTES = 50 * 1024 * 1024

ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")),
    ]
)


def _huge(path: Path) -> None:
    """A valid request head, then 50 MiB of comment (sparse on disk: cheap to make)."""
    with path.open("wb") as handle:
        handle.write(NDA.encode() + b"\n# ")
        handle.truncate(HUGE_BYTES)


# name -> (how to write it, the error path, words the error message must hold)
HOSTILE = {
    "alias-bomb.yaml": (lambda p: p.write_text(ALIAS_BOMB), DOCUMENT, "alias"),
    "huge.yaml": (_huge, DOCUMENT, "1 MiB"),
    "traversal.yaml": (
        lambda p: p.write_text(NDA.replace("contract_id: acme-robotics-nda", 'contract_id: "../../escape"')),
        "contract_id",
        "pattern",
    ),
    "python-tag.yaml": (
        lambda p: p.write_text(
            NDA.replace("our_entity: orbital-inc", "our_entity: !!python/object/apply:os.system ['touch PWNED']")
        ),
        DOCUMENT,
        "!!python/object/apply:os.system",
    ),
}


@pytest.fixture(params=list(HOSTILE))
def hostile(request, tmp_path) -> tuple[Path, str, str]:
    write, path, words = HOSTILE[request.param]
    folder = tmp_path / "incoming"
    folder.mkdir()
    target = folder / request.param
    write(target)
    return target, path, words


def _snapshot(home) -> set[str]:
    """Every file of the contract home and around it, but the Dagster instance's own."""
    root = home.root.parent
    return {f for f in files_under(root) if not f.startswith(f"{home.root.name}/dagster/")}


def assert_nothing_behind(home, before: set[str], instance: DagsterInstance, *, expected: set[str] = frozenset()):
    after = _snapshot(home)
    audit = {f"{home.root.name}/{name}" for name in AUDIT_FILES}  # the refusal is audited
    assert after - before - audit == set(expected), "files were left behind"
    everything = files_under(home.root.parent)
    assert not [f for f in everything if f.endswith(TEMP_SUFFIX)], "a temporary file was left"
    assert not [f for f in everything if "escape" in f or "PWNED" in f]
    assert instance.get_dynamic_partitions(REVISIONS) == []
    assert instance.get_runs() == []
    assert Workspace(home).registry.all() == [] and not any(home.storage_dir.rglob("*"))


@pytest.mark.programs
def test_cli_refuses_with_the_path_and_exit_2(home, hostile):
    file, path, words = hostile
    before = _snapshot(home)

    result = cli("submit", "--json", str(file), home=home, cwd=file.parent)

    assert result.returncode == 2, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert any(e["path"] == path and words in e["message"] for e in report["errors"]), report
    assert "Traceback" not in result.stderr
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        assert_nothing_behind(home, before, instance)


def test_operations_submit_refuses_with_the_path(home, ops, hostile):
    file, path, words = hostile
    before = _snapshot(home)

    with pytest.raises(InvalidRequest) as info:
        ops.submit(file)

    assert any(e.path == path and words in e.message for e in info.value.errors), info.value.errors
    assert_nothing_behind(home, before, ops.instance)


def test_inbox_sensor_quarantines_with_the_reason(home, ops, hostile):
    file, path, words = hostile
    inbox_file = home.inbox_dir / file.name
    file.rename(inbox_file)
    before = _snapshot(home)

    result = tick(inbox_sensor, home, ops.instance)

    assert result.run_requests == [] and not result.dynamic_partitions_requests
    report = json.loads((home.quarantine_dir / f"{file.name}.error.json").read_text())
    assert any(e["path"] == path and words in e["message"] for e in report["errors"]), report
    quarantined = {str((home.quarantine_dir / name).relative_to(home.root.parent)) for name in (file.name, f"{file.name}.error.json")}
    inbox_entry = str(inbox_file.relative_to(home.root.parent))
    assert_nothing_behind(home, before - {inbox_entry}, ops.instance, expected=quarantined)
    assert not inbox_file.exists()


# What one refusal costs, measured in a fresh process: bytes read (Linux /proc/self/io), peak
# Python allocations (tracemalloc) and peak resident memory growth.
_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, tracemalloc
    from pathlib import Path
    from contract_assets.cli import open_instance
    from contract_assets_tests.services import Operations
    from contract_assets.platform.defs.resources import Workspace
    from contract_assets.platform.home import ContractHome
    from contract_assets.intake.requests import InvalidRequest

    def read_bytes():
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])

    home = ContractHome(Path(sys.argv[1]))
    with open_instance(home) as instance:
        ops = Operations(Workspace(home), instance)
        ops.statuses()  # warm up: imports, fonts, the instance's first queries
        figures = {}
        for name in sys.argv[2:]:
            rss, read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, read_bytes()
            tracemalloc.start()
            try:
                ops.submit(Path(name))
                outcome = "accepted"
            except InvalidRequest as exc:
                outcome = [e.as_dict() for e in exc.errors]
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            figures[Path(name).name] = {
                "outcome": outcome,
                "read": read_bytes() - read,
                "peak_traced": peak,
                "rss_growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss,
            }
    print(json.dumps(figures))
    """
)


@pytest.mark.programs
def test_each_refusal_is_bounded_in_time_memory_and_bytes_read(home, tmp_path):
    files = []
    for name, (write, _, _) in HOSTILE.items():
        files.append(tmp_path / name)
        write(files[-1])

    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(home.root), *map(str, files)],
        capture_output=True, text=True, timeout=120,  # a hang guard, not a speed test
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    for name, measured in figures.items():
        assert isinstance(measured["outcome"], list), f"{name} was accepted"
        assert measured["peak_traced"] < 64 * 1024 * 1024, (name, measured)
        assert measured["rss_growth_kib"] < 200 * 1024, (name, measured)
    # The 50 MiB file is refused from its size: no more than the limit and a byte is read.
    assert figures["huge.yaml"]["read"] < 2 * 1024 * 1024, figures["huge.yaml"]
    assert figures["huge.yaml"]["peak_traced"] < 4 * 1024 * 1024, figures["huge.yaml"]


@pytest.mark.parametrize("points_at", ["request", "missing", "fifo"])
def test_inbox_quarantines_a_symbolic_link_without_following_it(home, ops, tmp_path, points_at):
    """A link could make the daemon read any file it may read; it is moved aside, unread."""
    target = tmp_path / "elsewhere.yaml"
    if points_at == "request":
        target.write_text(NDA)
    elif points_at == "fifo":
        os.mkfifo(target)
    link = home.inbox_dir / "linked.yaml"
    link.symlink_to(target)

    result = tick(inbox_sensor, home, ops.instance)

    assert result.run_requests == [] and not result.dynamic_partitions_requests
    report = json.loads((home.quarantine_dir / "linked.yaml.error.json").read_text())
    assert [e["path"] for e in report["errors"]] == [DOCUMENT]
    assert "symbolic link" in report["errors"][0]["message"]
    assert (home.quarantine_dir / "linked.yaml").is_symlink() and not os.path.lexists(link)
    assert ops.workspace.registry.all() == [] and ops.instance.get_dynamic_partitions(REVISIONS) == []
