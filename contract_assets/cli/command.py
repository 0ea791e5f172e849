"""`contract-assets`: parse the command line, find the verb, check its permissions, run it.

The verbs are declared in the modules named in VERB_MODULES; this module only builds the
parser from their declarations and dispatches. An unknown or missing verb is a usage error
(exit 2, the usage on standard error).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from contract_assets.cli.registry import (
    EXIT_FORBIDDEN,
    EXIT_INVALID,
    GROUPS,
    VERBS,
    Call,
    Verb,
)

# Where the verbs are declared, by what they are for.
VERB_MODULES = (
    "contract_assets.cli.revisions",  # submit, run, resume, status
    "contract_assets.cli.demo",  # demo
    "contract_assets.cli.approvals",  # keygen, approvers add, approve
    "contract_assets.cli.data_at_rest",  # new-data-key, rotate-key, decrypt
    "contract_assets.cli.seal",  # init-signing, verify
    "contract_assets.cli.audit",  # audit verify, audit export
    "contract_assets.cli.serve",  # dev, daemon
    "contract_assets.cli.deployment",  # env, migrate, health
)
# The order `contract-assets --help` lists the verbs in; a verb left out comes last.
HELP_ORDER = (
    "env", "submit", "run", "resume", "status", "demo", "keygen", "approvers", "approve",
    "new-data-key", "rotate-key", "decrypt", "init-signing", "verify", "daemon", "migrate",
    "health", "audit", "dev",
)  # fmt: skip
DESCRIPTION = "Contract requests in, approved and rendered contracts out (a Dagster project)."


def declared_verbs() -> dict[str, Verb]:
    """Every verb, by name (`audit verify` for a verb of a group)."""
    for module in VERB_MODULES:
        importlib.import_module(module)
    return VERBS


def build_parser() -> argparse.ArgumentParser:
    verbs = declared_verbs()
    parser = argparse.ArgumentParser(prog="contract-assets", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    top = {name.split(" ")[0] for name in verbs}
    rank = {name: i for i, name in enumerate(HELP_ORDER)}
    groups: dict[str, argparse._SubParsersAction] = {}
    for name in sorted(top, key=lambda n: (rank.get(n, len(rank)), n)):
        if name in GROUPS:
            group = commands.add_parser(name, help=GROUPS[name].help)
            groups[name] = group.add_subparsers(dest=f"{name}_command", required=True)
            continue
        _add_verb(commands, name, verbs[name])
    for full_name, declared in verbs.items():
        if " " in full_name:
            group_name, word = full_name.split(" ", 1)
            _add_verb(groups[group_name], word, declared)
    return parser


def _add_verb(commands: argparse._SubParsersAction, word: str, declared: Verb) -> None:
    parser = commands.add_parser(word, help=declared.help)
    if declared.arguments is not None:
        declared.arguments(parser)
    parser.set_defaults(verb=declared.name)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Whatever this process creates (Dagster's database and logs too) is owner-only.
    os.umask(0o077)
    try:
        return dispatch(VERBS[args.verb], args)
    except Exception as exc:
        # Only a verb that reads data keys can raise this, so the module is loaded by then.
        from contract_assets.platform.protection import DataKeyError

        if not isinstance(exc, DataKeyError):
            raise
        print(f"data key: {exc}", file=sys.stderr)
        return EXIT_INVALID


def dispatch(declared: Verb, args: argparse.Namespace) -> int:
    """Run a verb: on the home's instance, after its permissions are checked, when it says so."""
    call = Call(args)
    if not declared.on_instance:
        return declared.handler(call)
    from contract_assets.cli.instance import open_instance
    from contract_assets.platform.defs.resources import Workspace

    with open_instance(call.home) as instance:
        call.attach(Workspace(call.home), instance)
        refused = _refusal(call.guard, declared.permissions)
        if refused is not None:
            return refused
        return declared.handler(call)


def _refusal(guard, permissions: Sequence[str]) -> int | None:
    """The exit code when the access policy refuses one of `permissions` (the refusal is
    audited by `authorize`), or None when it allows them all."""
    from contract_assets.platform.access import (
        AccessConfigError,
        AccessDenied,
        Permission,
    )

    try:
        for permission in permissions:
            guard.authorize(Permission(permission))
    except AccessDenied as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_FORBIDDEN
    except AccessConfigError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return None
