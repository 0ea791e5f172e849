"""The `contract-assets` console: the verbs Dagster has no command for (submit, run, status,
env, demo, approvals, the organisation's seal, data keys, the audit trail).

`command` parses and dispatches; each verb is declared (help, arguments, permissions) beside
its handler in the module of what it is for, listed in `command.VERB_MODULES`. Importing the
package loads nothing heavy: each handler imports what it needs.
"""

from contract_assets.cli.command import main
from contract_assets.cli.instance import open_instance

__all__ = ["main", "open_instance"]
