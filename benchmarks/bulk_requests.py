"""What the benchmarks share: a throwaway contract home, and many distinct NDA requests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "requests" / "01-mutual-nda.yaml"


@contextmanager
def throwaway_home() -> Iterator[Path]:
    """A temporary directory whose `home` is the contract home for the block (and no
    DAGSTER_HOME): enter it before anything reads the environment."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CONTRACT_ASSETS_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("DAGSTER_HOME", None)
        yield Path(tmp)


def nda_requests(count: int, prefix: str = "bulk-nda") -> list[dict]:
    """`count` copies of the sample mutual NDA (auto-approved), each its own contract."""
    base = YAML(typ="safe", pure=True).load(SAMPLE.read_text())
    return [dict(base, contract_id=f"{prefix}-{index:05d}") for index in range(count)]


def write_request(path: Path, request: dict) -> Path:
    with path.open("w") as handle:
        YAML(typ="safe", pure=True).dump(request, handle)
    return path


@dataclass
class Services:
    """What a benchmark does on a home's instance: submit request files, read where the
    revisions stand (the product's services, as the console uses them)."""

    workspace: Any
    instance: Any

    def submit(self, path: Path):
        from contract_assets.intake.defs.revision_intake import RevisionIntake

        return RevisionIntake(self.workspace, self.instance).submit(path)

    def statuses(self) -> list:
        from contract_assets.pipeline.defs.revision_state import RevisionState

        return RevisionState(self.workspace, self.instance).statuses()
