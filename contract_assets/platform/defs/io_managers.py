"""The typed IO manager: pydantic models as JSON envelopes, DataFrames as Parquet, files as files."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from contract_assets.platform.defs.resources import missing_key_fails_once
from contract_assets.platform.files import atomic_write_bytes
from contract_assets.platform.models import FileBundle, StoredModel
from contract_assets.platform.storage import StorageLayout


class ContractIOManager(ConfigurableIOManager):
    """Stores each asset value under `base_dir`, typed by what the asset declares.

    Loading checks that what is stored is the type the consuming asset declares and
    fails with a message naming both otherwise. Every write is atomic and owner-only; models
    are encrypted with the data key of the environment, if one is set (never in config, so
    that no key reaches Dagster's run storage).
    """

    base_dir: str

    @property
    def layout(self) -> StorageLayout:
        return StorageLayout(Path(self.base_dir).resolve())

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = context.asset_key.to_user_string()
        key = context.partition_key if context.has_partition_key else None
        if isinstance(obj, StoredModel):
            path = self.layout.write_model(asset, key, obj)
            metadata: dict[str, Any] = {"path": str(path), "model": type(obj).__name__}
            if isinstance(obj, FileBundle):
                stored = self.layout.read_model(asset, key, type(obj))
                metadata["files"] = sorted(stored.paths.values()) if stored else []
            context.add_output_metadata(metadata)
        elif isinstance(obj, pd.DataFrame):
            path = self.layout.value_path(asset, key, suffix=".parquet")
            buffer = io.BytesIO()
            obj.to_parquet(buffer, index=False)
            atomic_write_bytes(path, buffer.getvalue())
            context.add_output_metadata({"path": str(path), "rows": len(obj)})
        else:
            raise TypeError(
                f"{asset}: the IO manager stores pydantic models and DataFrames, "
                f"not {type(obj).__name__}"
            )

    def load_input(self, context: InputContext) -> Any:
        asset = context.asset_key.to_user_string()
        key = context.asset_partition_key if context.has_asset_partitions else None
        expected = context.dagster_type.typing_type
        if isinstance(expected, type) and issubclass(expected, pd.DataFrame):
            path = self.layout.value_path(asset, key, suffix=".parquet")
            if not path.exists():
                raise FileNotFoundError(f"{asset} ({key}) has not been stored at {path}")
            return pd.read_parquet(path)
        if not (isinstance(expected, type) and issubclass(expected, StoredModel)):
            raise TypeError(
                f"{asset}: the input reading it must be annotated with its model type "
                f"(got {expected!r})"
            )
        with missing_key_fails_once():
            value = self.layout.read_model(asset, key, expected)
        if value is None:
            raise FileNotFoundError(
                f"{asset} ({key}) has not been stored under {self.base_dir}; materialize it first"
            )
        if isinstance(value, FileBundle):
            missing = [p for p in value.paths.values() if not os.path.exists(p)]
            if missing:
                raise FileNotFoundError(f"{asset} ({key}): stored files are missing: {missing}")
        return value
