"""`contract-assets run`, dying (as SIGKILL would) right after Dagster stores the first
materialization of the asset named on the command line: a step cut off between storing its
output and recording its success, the moment the issue's crash test met by chance.

Usage: python -m contract_assets_tests.pipeline.cut_off_after_storing ASSET
"""

import os
import sys

from dagster import DagsterEventType, DagsterInstance

KILLED = 137  # the exit status of a process SIGKILLed


def main(asset: str) -> int:
    storing = DagsterInstance.handle_new_event

    def store_then_die(self, event, **kwargs):
        storing(self, event, **kwargs)
        stored = event.dagster_event
        if (
            stored is not None
            and stored.event_type == DagsterEventType.ASSET_MATERIALIZATION
            and stored.asset_key.to_user_string() == asset
        ):
            os._exit(KILLED)  # no step success, no run end, no clean-up: as a power cut

    DagsterInstance.handle_new_event = store_then_die
    from contract_assets.cli import main as contract_assets

    return contract_assets(["run"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
