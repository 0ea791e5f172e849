"""Who may do what: configuration (`<home>/config/access.yaml`), not code.

    submit:     [alice, legal-ops]   # register requests (console, or owner of an inbox file)
    run:        [alice, svc-dagster] # start, resume and retry runs from the console
    administer: [alice]              # approvers, signing and data keys, schema upgrades

`"*"` lets anyone. Approving needs no entry here: a decision counts only when signed with
the key of an approver who holds the role (approvers.yaml). Without the file every
identity may do everything, as a single-user trial install expects; `contract-assets env`
says which applies.

An identity is $CONTRACT_ASSETS_ACTOR when the deployment sets it (a service account, the
user an authenticating proxy vouches for), otherwise the operating-system user.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from contract_assets.platform.models import StrictModel

ACCESS_FILE = "access.yaml"
ANYONE = "*"


class Permission(str, Enum):
    SUBMIT = "submit"
    RUN = "run"
    ADMINISTER = "administer"


class AccessConfigError(Exception):
    """The access file cannot be read or is not a valid access policy."""


class AccessDenied(Exception):
    """An identity tried a command its entry in the access policy does not allow."""

    def __init__(self, actor: str, permission: Permission, source: str):
        self.actor, self.permission, self.source = actor, permission, source
        super().__init__(f"{actor!r} may not {permission.value} (not listed under {permission.value} in {source})")


class AccessPolicy(StrictModel):
    submit: list[str] = [ANYONE]
    run: list[str] = [ANYONE]
    administer: list[str] = [ANYONE]

    def allows(self, actor: str, permission: Permission) -> bool:
        allowed = getattr(self, permission.value)
        return ANYONE in allowed or actor in allowed


class AccessControl:
    """The policy in `<config_dir>/access.yaml`, read at each check (edits apply at once)."""

    def __init__(self, config_dir: Path):
        self.path = config_dir / ACCESS_FILE

    @property
    def configured(self) -> bool:
        return self.path.exists()

    def policy(self) -> AccessPolicy:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AccessPolicy()
        except (OSError, UnicodeDecodeError) as exc:
            raise AccessConfigError(f"{self.path}: cannot read the access file: {exc}") from None
        try:
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLError as exc:
            raise AccessConfigError(f"{self.path}: not valid YAML: {exc}") from None
        try:
            # A file that exists but names nobody for a permission grants it to nobody.
            explicit = {p.value: [] for p in Permission} | (data or {})
            return AccessPolicy.model_validate(explicit)
        except (ValidationError, TypeError) as exc:
            raise AccessConfigError(f"{self.path}: invalid access file: {exc}") from None

    def check(self, actor: str, permission: Permission) -> None:
        """Raise AccessDenied unless `actor` holds `permission`."""
        if not self.policy().allows(actor, permission):
            raise AccessDenied(actor, permission, str(self.path))
