"""Verbs that serve the home with Dagster's own programs: the UI (`dev`) and the daemon."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contract_assets.cli.registry import Call, verb

if TYPE_CHECKING:
    from contract_assets.platform.home import ContractHome

UI_HOST_ENV = "CONTRACT_ASSETS_UI_HOST"
LOOPBACK = "127.0.0.1"
DEFINITIONS_MODULE = "contract_assets.definitions"


@verb("daemon", "run dagster-daemon (sensors, schedules) on this home")
def daemon(call: Call) -> int:
    return exec_dagster(call.home, ["dagster-daemon", "run", "-m", DEFINITIONS_MODULE])


def _dev_arguments(parser: argparse.ArgumentParser) -> None:
    # The default is read when the parser is built: the environment of this invocation.
    parser.add_argument(
        "--host", default=os.environ.get(UI_HOST_ENV) or LOOPBACK,
        help=f"address the UI listens on (default ${UI_HOST_ENV}, else {LOOPBACK}: this machine only)",
    )  # fmt: skip
    parser.add_argument("--port", default="3000")
    parser.add_argument(
        "--read-only", action="store_true",
        help="only the UI (dagster-webserver --read-only): nothing can be launched or changed; "
        "run `contract-assets daemon` beside it",
    )  # fmt: skip


@verb("dev", "run the Dagster UI and daemon on this home", arguments=_dev_arguments)
def dev(call: Call) -> int:
    args = call.args
    if args.host not in (LOOPBACK, "localhost", "::1"):
        print(
            f"warning: the Dagster UI has no login of its own; on {args.host} anyone who reaches "
            f"port {args.port} can launch runs. Put it behind an authenticating proxy (README: "
            "'The UI behind a proxy') or use --read-only.",
            file=sys.stderr,
        )
    command = ui_command(host=args.host, port=args.port, read_only=args.read_only)
    return exec_dagster(call.home, command, relay_stop=True)


def ui_command(*, host: str, port: str, read_only: bool) -> list[str]:
    """The command line that serves the UI on `host:port`.

    `dagster dev` runs the UI and the daemon together; read-only, only `dagster-webserver`
    has the flag (no launching, terminating or re-executing runs, no sensor or schedule
    switches), and the daemon runs on its own (`contract-assets daemon`).
    """
    where = ["-h", host, "-p", port]
    if read_only:
        return ["dagster-webserver", "-m", DEFINITIONS_MODULE, *where, "--read-only"]
    return ["dagster", "dev", "-m", DEFINITIONS_MODULE, *where]


def exec_dagster(home: ContractHome, command: list[str], *, relay_stop: bool = False) -> int:
    """Run a Dagster program on this home's instance, with nothing for the user to set.

    With `relay_stop`, until it ends or this process gets SIGTERM or SIGINT: then the program
    is asked to stop, and stops with everything it started (webserver, daemon, code
    servers), and this exits 0.
    """
    from contract_assets.cli.instance import open_instance

    with open_instance(home):
        pass  # created before the program and its code servers start, not by them at once
    env = dict(os.environ, CONTRACT_ASSETS_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home))
    program = Path(sys.executable).parent / command[0]
    argv = [str(program) if program.exists() else command[0], *command[1:]]
    if not relay_stop:
        return subprocess.call(argv, env=env)
    state: dict = {"program": None, "asked": False, "stopping": False}

    def ask_to_stop() -> None:
        # Dagster's programs stop cleanly on SIGINT (dagster dev tells its webserver and
        # daemon, which stop their code servers); a second one would cut that short.
        program = state["program"]
        if program is not None and not state["asked"] and program.poll() is None:
            state["asked"] = True
            program.send_signal(signal.SIGINT)

    def stop(_signum: int, _frame) -> None:
        state["stopping"] = True
        ask_to_stop()

    # Our own handlers, also where the caller ignored SIGINT (a script's background job):
    # the program then starts with both signals at their defaults, which Dagster relies on.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # In this process group, so that killing the group (the OOM killer's way, a service
        # manager's last resort) takes the program and what it started with it.
        state["program"] = subprocess.Popen(argv, env=env)
        if state["stopping"]:  # a signal came while it was starting
            ask_to_stop()
        code = state["program"].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if state["stopping"] else code
