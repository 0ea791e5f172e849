"""Verbs that set up and watch a deployment: its environment, its database schema, its health."""

from __future__ import annotations

import argparse

from contract_assets.cli.registry import Call, verb


@verb("env", "print the export lines for the current contract home")
def env(call: Call) -> int:
    from contract_assets.platform.defs.resources import Workspace
    from contract_assets.platform.protection import DataProtection

    home = call.home
    home.ensure()
    print(home.env_exports(), end="")
    access = Workspace(home).access
    print(f"# access policy: {access.path if access.configured else 'none (everyone may do everything)'}")
    print(f"# {DataProtection.from_env().describe()}")
    return 0


@verb("migrate", "create the PostgreSQL database if needed and upgrade the instance schema")
def migrate(call: Call) -> int:
    """Create the database (PostgreSQL) if needed and bring the instance's schema up to date."""
    from contract_assets.cli.instance import open_instance
    from contract_assets.platform.defs.database import create_database, database_url
    from contract_assets.platform.records import create_schema, records_url

    home = call.home
    url = database_url()
    if url:
        created = create_database(url)
        print(f"database {'created' if created else 'exists'}: {url.rsplit('/', 1)[-1]}")
    with open_instance(home) as instance:
        instance.upgrade()
    create_schema(records_url(home.root))
    print(f"instance schema up to date ({'postgres' if url else 'sqlite'}) at {home.dagster_home}")
    print("project tables (revisions, decisions, alerts, audit trail) up to date")
    return 0


def _health_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-queued", type=int, default=100, help="most runs waiting in the queue (default 100)"
    )
    parser.add_argument(
        "--max-failed", type=int, default=0, help="most runs failed in the last hour (default 0)"
    )
    parser.add_argument(
        "--check", action="append", choices=["daemon", "queue", "inbox", "failures"],
        help="only this check (repeatable; default all): `--check daemon` for a liveness probe",
    )  # fmt: skip


@verb(
    "health",
    "check the daemon's heartbeat, the run queue, the inbox and recent failures "
    "(exit 1 when any fails; for cron, systemd and Kubernetes probes)",
    arguments=_health_arguments,
)
def health(call: Call) -> int:
    """One line per check, OK or FAIL with its figure; exit 1 when any check fails."""
    from contract_assets.cli.instance import open_instance
    from contract_assets.platform.defs.health import health_checks

    home, args = call.home, call.args
    try:
        with open_instance(home) as instance:
            checks = health_checks(
                instance, home, max_queued=args.max_queued, max_failed=args.max_failed
            )
    except Exception as exc:  # the database is down, the instance unreadable: a failed check too
        print(f"FAIL instance: cannot read it ({type(exc).__name__}: {str(exc)[:300]})")
        return 1
    checks = [check for check in checks if not args.check or check.key in args.check]
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1
