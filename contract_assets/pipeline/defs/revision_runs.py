"""Running the planned work from the console: each revision with work to do, oldest first,
through the caller's `execute` (a console run), with its stage recorded after each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from contract_assets.intake.defs.revision_intake import RevisionIntake
from contract_assets.pipeline.defs.change_guard import ActingService
from contract_assets.pipeline.defs.revision_stage import record_stage
from contract_assets.pipeline.defs.revision_status import RevisionStatus
from contract_assets.pipeline.defs.run_planning import RunPlanner
from contract_assets.pipeline.stages import Stage


@dataclass
class RevisionRunner(ActingService):
    """Runs the revisions with work to do on one instance, for one actor."""

    @cached_property
    def intake(self) -> RevisionIntake:
        return RevisionIntake(self.workspace, self.instance, self.actor)

    @cached_property
    def planner(self) -> RunPlanner:
        return RunPlanner(self.workspace, self.instance)

    def run(
        self,
        execute: Callable[[str, list[str]], bool],
        progress: Callable[[RevisionStatus], None],
    ) -> list[RevisionStatus]:
        """Run every revision with work to do, oldest submission first; report each.

        Runs again while a run made new work due (an approved MSA unblocks its SOW), at most
        a few rounds, and never the same work twice: a revision that failed waits for the
        next `run`. A revision with a run queued or going elsewhere (the daemon, another
        console) or left to the daemon's run retries is left to them.
        """
        self.guard.audit_configuration()
        registry = self.workspace.registry
        self.intake.ensure_partitions(r.partition_key for r in registry.all())
        results, done, failed_here = [], set(), set()
        for _ in range(5):
            busy = self.state.partitions_in_flight() | {
                status.revision.partition_key for status, _ in self.planner.left_to_run_retries()
            }
            work = [
                item
                for item in self.planner.pending()
                if item.key not in done
                and item.status.revision.partition_key not in busy | failed_here
            ]
            for item in work:
                done.add(item.key)
                execute(item.status.revision.partition_key, item.steps)
                after = self.state.status_of(item.status.revision)
                record_stage(self.instance, after)
                if after.stage is Stage.FAILED:  # run again by the next `run`, not this one
                    failed_here.add(after.revision.partition_key)
                progress(after)
                results.append(after)
            if not work:
                break
        return results
