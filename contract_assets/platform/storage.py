"""Where asset values and document files are stored, and how they are read back.

The IO manager writes through this layout; the status report and the assets that look
across revisions (an sow's parent MSA) read through it. Nothing else builds these paths.
Typed values are encrypted when a data key is configured; document files are not (they are
what people sign and send) but, like everything here, are readable by their owner only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from contract_assets.intake.revisions import parse_partition_key
from contract_assets.platform.files import (
    atomic_write_bytes,
    canonical_json,
    sha256_bytes,
    sha256_file,
)
from contract_assets.platform.models import FileBundle, NotApplicable, StoredModel
from contract_assets.platform.protection import DataProtection
from contract_assets.platform.serialization import (
    dump_model,
    load_model,
    stored_model_name,
)

M = TypeVar("M", bound=StoredModel)


@dataclass(frozen=True)
class StorageLayout:
    base_dir: Path
    protection: DataProtection = field(default_factory=DataProtection.from_env, repr=False)

    def value_path(self, asset: str, partition_key: str | None, suffix: str = ".json") -> Path:
        name = _checked(partition_key) if partition_key is not None else asset
        return self.values_dir() / asset / f"{name}{suffix}"

    def values_dir(self) -> Path:
        """Where every typed value is kept (the records `rotate-key` re-encrypts)."""
        return self.base_dir / "values"

    def documents_dir(self, partition_key: str) -> Path:
        return self.base_dir / "documents" / _checked(partition_key)

    def issued(self, partition_key: str, filename: str) -> list[Path]:
        """Each file named `filename` issued for the revision (one per content folder)."""
        return sorted(self.documents_dir(partition_key).glob(f"*/{filename}"))

    def write_model(self, asset: str, partition_key: str | None, model: StoredModel) -> Path:
        """Store a typed value; a file bundle's files first, so a stored record always has them."""
        if isinstance(model, FileBundle):
            folder = (
                self.documents_dir(partition_key)
                if partition_key is not None
                else self.base_dir / "documents" / asset
            )
            model = self._write_files(folder, model)
        path = self.value_path(asset, partition_key)
        atomic_write_bytes(path, dump_model(model, self.protection))
        return path

    def read_model(self, asset: str, partition_key: str | None, expected: type[M]) -> M | None:
        path = self.value_path(asset, partition_key)
        if not path.exists():
            return None
        return load_model(path.read_bytes(), expected, source=str(path), protection=self.protection)

    def read_applicable(self, asset: str, partition_key: str | None, expected: type[M]) -> M | None:
        """Like `read_model`, except that a step marked not applicable to the revision
        (a stored `NotApplicable`) reads as nothing stored."""
        path = self.value_path(asset, partition_key)
        if not path.exists():
            return None
        data = path.read_bytes()
        if stored_model_name(data, source=str(path)) == NotApplicable.__name__:
            return None
        return load_model(data, expected, source=str(path), protection=self.protection)

    def _write_files(self, folder: Path, bundle: FileBundle) -> FileBundle:
        """Write a bundle's files into a folder named by their content, under the partition's.

        Files once issued are never overwritten: different content goes to a new folder
        and the old files stay (materialization history points at them); the same content
        lands where it already is.
        """
        digest = sha256_bytes(
            canonical_json({name: sha256_bytes(data) for name, data in bundle.content.items()})
        )
        directory = folder / digest[:16]
        paths = {}
        for filename, data in bundle.content.items():
            target = directory / filename
            if target.parent != directory:
                raise ValueError(f"refusing to write {filename!r} outside {directory}")
            if not (target.exists() and sha256_file(target) == sha256_bytes(data)):
                atomic_write_bytes(target, data)
            paths[filename] = str(target.resolve())
        return bundle.model_copy(update={"paths": {**bundle.paths, **paths}})


def _checked(partition_key: str) -> str:
    # Partition keys can be added by hand in the UI: only a revision key may name a path.
    parse_partition_key(partition_key)
    return partition_key
