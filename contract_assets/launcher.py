"""The run launcher's former module path, which the dagster.yaml of homes made before the
capability packages names (`module: contract_assets.launcher`); new homes name
`contract_assets.platform.defs.launcher`. Kept so that an existing deployment starts."""

from contract_assets.platform.defs.launcher import LocalRunLauncher

__all__ = ["LocalRunLauncher"]
