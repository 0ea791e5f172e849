"""The console's verbs: each declared once, beside its handler, with its help, its
arguments and the permissions it needs of the access policy (config/access.yaml).

Importing this module (and the verb modules, which only declare) costs nothing heavy: a
handler imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from contract_assets.pipeline.defs.change_guard import ActingService, ChangeGuard
    from contract_assets.platform.defs.resources import Workspace
    from contract_assets.platform.home import ContractHome

S = TypeVar("S", bound="ActingService | ChangeGuard")

EXIT_INVALID = 2
EXIT_FORBIDDEN = 3

# The permissions a verb may require, by their values in domain.access.Permission (named
# here as text so that declaring a verb imports no model).
SUBMIT, RUN, ADMINISTER = "submit", "run", "administer"


class Call:
    """One invocation of a verb: its parsed arguments, the contract home, and (for a verb
    declared `on_instance=True`) the home's workspace and Dagster instance, opened, with the
    user's permissions checked."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._opened: tuple[Workspace, DagsterInstance] | None = None

    @cached_property
    def home(self) -> ContractHome:
        from contract_assets.platform.home import ContractHome

        return ContractHome.from_env()

    def attach(self, workspace: Workspace, instance: DagsterInstance) -> None:
        """Give the handler the workspace and instance, once opened and authorized."""
        self._opened = (workspace, instance)

    def _on_instance(self) -> tuple[Workspace, DagsterInstance]:
        if self._opened is None:
            raise RuntimeError("this verb was not declared with on_instance=True")
        return self._opened

    @property
    def workspace(self) -> Workspace:
        return self._on_instance()[0]

    @property
    def instance(self) -> DagsterInstance:
        return self._on_instance()[1]

    def service(self, kind: type[S]) -> S:
        """One of the services (RevisionIntake, DecisionRecorder, ...), acting for the user."""
        workspace, instance = self._on_instance()
        return kind(workspace, instance)

    @property
    def guard(self) -> ChangeGuard:
        from contract_assets.pipeline.defs.change_guard import ChangeGuard

        return self.service(ChangeGuard)


Handler = Callable[[Call], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Verb:
    """A console verb. `name` is one word, or a group and a word (`audit verify`)."""

    name: str
    help: str
    handler: Handler
    arguments: Arguments | None = None
    # What the access policy must allow the user running it; checked (and a refusal
    # audited) before the handler runs. Only verbs on the instance can require any.
    permissions: tuple[str, ...] = ()
    # The home's workspace and Dagster instance (created if new) are opened before the
    # handler runs: `call.workspace`, `call.instance`, `call.service(...)`.
    on_instance: bool = False


@dataclass(frozen=True)
class Group:
    """A verb with verbs of its own (`approvers add`); one of them is required."""

    name: str
    help: str


VERBS: dict[str, Verb] = {}
GROUPS: dict[str, Group] = {}


def verb(
    name: str,
    help: str,
    *,
    arguments: Arguments | None = None,
    permissions: Sequence[str] = (),
    on_instance: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of the verb `name`."""
    if permissions and not on_instance:
        raise ValueError(f"{name}: permissions are checked on the instance (on_instance=True)")

    def declare(handler: Handler) -> Handler:
        if name in VERBS:
            raise ValueError(f"the verb {name!r} is declared twice")
        VERBS[name] = Verb(name, help, handler, arguments, tuple(permissions), on_instance)
        return handler

    return declare


def group(name: str, help: str) -> None:
    """Declare `name` as a group of verbs (declared as `name word`)."""
    GROUPS[name] = Group(name, help)
