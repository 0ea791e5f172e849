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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contract_assets.operations import ContractOperations
    from contract_assets.platform.home import ContractHome

EXIT_INVALID = 2
EXIT_FORBIDDEN = 3

# The permissions a verb may require, by their values in domain.access.Permission (named
# here as text so that declaring a verb imports no model).
SUBMIT, RUN, ADMINISTER = "submit", "run", "administer"


class Call:
    """One invocation of a verb: its parsed arguments, the contract home, and (for a verb
    declared `operations=True`) the operations on the home's instance, opened and authorized."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._operations: ContractOperations | None = None

    @cached_property
    def home(self) -> ContractHome:
        from contract_assets.platform.home import ContractHome

        return ContractHome.from_env()

    @property
    def operations(self) -> ContractOperations:
        if self._operations is None:
            raise RuntimeError("this verb was not declared with operations=True")
        return self._operations

    def attach(self, operations: ContractOperations) -> None:
        """Give the handler the operations, once they are opened and authorized."""
        self._operations = operations


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
    # audited) before the handler runs. Only verbs on the operations can require any.
    permissions: tuple[str, ...] = ()
    # Opened on the home's Dagster instance (created if new) before the handler runs.
    operations: bool = False


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
    operations: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of the verb `name`."""
    if permissions and not operations:
        raise ValueError(f"{name}: permissions are checked on the operations (operations=True)")

    def declare(handler: Handler) -> Handler:
        if name in VERBS:
            raise ValueError(f"the verb {name!r} is declared twice")
        VERBS[name] = Verb(name, help, handler, arguments, tuple(permissions), operations)
        return handler

    return declare


def group(name: str, help: str) -> None:
    """Declare `name` as a group of verbs (declared as `name word`)."""
    GROUPS[name] = Group(name, help)
