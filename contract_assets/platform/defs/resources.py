"""Resources: the contract workspace (home, registry, library, playbook, entities, seal,
data keys), and the settings it runs with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from dagster import ConfigurableResource, Failure

from contract_assets.approvals.approvals import ApproverDirectory, DecisionLog
from contract_assets.approvals.playbook import SHIPPED_PLAYBOOK, Playbook, load_playbook
from contract_assets.audit.trail import AuditTrail
from contract_assets.documents.sealing import (
    OrganisationSeal,
    SealError,
    SealFiles,
    certificate_fingerprint,
    load_seal,
    passphrase_from_env,
    read_certificates,
)
from contract_assets.drafting.clause_library import (
    LIBRARY_DIR,
    ClauseLibrary,
    load_entities,
    load_library,
)
from contract_assets.intake.revisions import RevisionRegistry
from contract_assets.platform.access import AccessControl
from contract_assets.platform.files import sha256_file
from contract_assets.platform.home import ContractHome
from contract_assets.platform.models import Entity
from contract_assets.platform.protection import (
    KEY_ENV,
    KEY_FILE_ENV,
    DataKeyError,
    DataProtection,
)
from contract_assets.platform.records import RecordStore, records_url
from contract_assets.platform.storage import StorageLayout

# The library that ships with the package (one definition: `clause_library.LIBRARY_DIR`).
SHIPPED_LIBRARY = LIBRARY_DIR


@dataclass(frozen=True)
class Settings:
    """Where one deployment's configuration comes from. Each left None takes its default:
    the shipped clause library; the home's `config/playbook.yaml` or `config/entities.yaml`
    if there is one, else the shipped file; the seal in the home's `keys/`; the secrets
    (seal passphrase, data key) from the environment the README names."""

    library_dir: Path | None = None
    playbook_file: Path | None = None
    entities_file: Path | None = None
    seal_dir: Path | None = None
    seal_passphrase: str | None = None
    data_key: str | None = None
    data_key_file: Path | None = None


@lru_cache(maxsize=4)
def _library_at(root: Path, fingerprint: tuple) -> ClauseLibrary:
    return load_library(root)


def shared_library(root: Path) -> ClauseLibrary:
    """The library at `root`, parsed once per process until one of its files changes
    (parsing and compiling every clause costs ~150 ms, once per run otherwise)."""
    fingerprint = tuple(
        sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file())
    )
    return _library_at(root, fingerprint)


@contextmanager
def missing_key_fails_once() -> Iterator[None]:
    """A record no configured key opens fails the step once: retrying cannot find the key."""
    try:
        yield
    except DataKeyError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None


class Workspace:
    """Everything the pipeline reads besides its own upstream assets, for one home."""

    def __init__(self, home: ContractHome, settings: Settings = Settings()):
        self.home = home
        self.settings = settings

    @cached_property
    def protection(self) -> DataProtection:
        """The data keys of this deployment (its settings, else the environment), for the
        records that hold personal data."""
        if self.settings.data_key is None and self.settings.data_key_file is None:
            return DataProtection.from_env()
        return DataProtection.from_env(
            {KEY_ENV: self.settings.data_key or "", KEY_FILE_ENV: str(self.settings.data_key_file or "")}
        )

    @cached_property
    def records(self) -> RecordStore:
        """The project's database: SQLite in the home, or the instance's PostgreSQL."""
        return RecordStore(records_url(self.home.root))

    @cached_property
    def registry(self) -> RevisionRegistry:
        return RevisionRegistry(self.records, self.protection)

    @cached_property
    def layout(self) -> StorageLayout:
        return StorageLayout(self.home.storage_dir, self.protection)

    @cached_property
    def decisions(self) -> DecisionLog:
        return DecisionLog(self.records)

    @cached_property
    def approvers(self) -> ApproverDirectory:
        return ApproverDirectory(self.home.config_dir)

    @cached_property
    def access(self) -> AccessControl:
        return AccessControl(self.home.config_dir)

    @cached_property
    def audit(self) -> AuditTrail:
        """The audit trail, in the project's database (SQLite in the home, or PostgreSQL)."""
        return AuditTrail(records_url(self.home.root), self.home.root / "audit" / "head.json")

    @cached_property
    def library(self) -> ClauseLibrary:
        return shared_library(self.settings.library_dir or SHIPPED_LIBRARY)

    @property
    def playbook_file(self) -> Path:
        return self.settings.playbook_file or self.home.config_file("playbook.yaml", SHIPPED_PLAYBOOK)

    @cached_property
    def playbook(self) -> Playbook:
        return load_playbook(self.playbook_file)

    @cached_property
    def playbook_hash(self) -> str:
        return sha256_file(self.playbook_file)

    @property
    def entities_file(self) -> Path:
        return self.settings.entities_file or self.home.config_file("entities.yaml", SHIPPED_LIBRARY / "entities.yaml")

    @cached_property
    def entities(self) -> dict[str, Entity]:
        return load_entities(self.entities_file)

    @property
    def seal_files(self) -> SealFiles:
        return SealFiles(self.settings.seal_dir or self.home.keys_dir)

    def seal(self) -> OrganisationSeal | None:
        """The organisation's seal, or None when `contract-assets init-signing` was never run;
        SealError when it is there but cannot be opened (e.g. a wrong passphrase)."""
        passphrase = self.settings.seal_passphrase
        return load_seal(self.seal_files, passphrase.encode() if passphrase else passphrase_from_env())

    def seal_fingerprint(self) -> str | None:
        """SHA-256 of the seal's certificate (from its public PEM, no passphrase needed);
        None without a seal, "unreadable" when the file is damaged."""
        if not self.seal_files.certificate.exists():
            return None
        try:
            return certificate_fingerprint(read_certificates(self.seal_files.certificate)[0])
        except SealError:
            return "unreadable"


class ContractWorkspace(ConfigurableResource):
    """The contract home and the configuration it runs with, as a Dagster resource: typed
    fields the UI shows on the resource's page. A path left empty takes its default (see
    `Settings`). The secrets reach it as `EnvVar`s, resolved in the process that uses them:
    the UI shows the variable's name, never its value."""

    home: str
    library_dir: str | None = None
    playbook_file: str | None = None
    entities_file: str | None = None
    seal_dir: str | None = None
    seal_passphrase: str | None = None
    data_key: str | None = None
    data_key_file: str | None = None

    def workspace(self) -> Workspace:
        def path(value: str | None) -> Path | None:
            return Path(value) if value else None

        settings = Settings(
            library_dir=path(self.library_dir),
            playbook_file=path(self.playbook_file),
            entities_file=path(self.entities_file),
            seal_dir=path(self.seal_dir),
            seal_passphrase=self.seal_passphrase or None,
            data_key=self.data_key or None,
            data_key_file=path(self.data_key_file),
        )
        return Workspace(ContractHome(Path(self.home).resolve()), settings)
