"""The typed IO manager on its own: what it writes, and what it refuses to read."""

from __future__ import annotations


import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterType, build_input_context, build_output_context

from contract_assets.platform.models import ApprovalRouting, RenderedDocuments, RenderedFile, RiskAssessment
from contract_assets.platform.serialization import StoredTypeMismatch
from contract_assets.platform.defs.io_managers import ContractIOManager


def routing(key: str = "acme-nda.r1") -> ApprovalRouting:
    return ApprovalRouting(
        partition_key=key,
        content_hash="0" * 64,
        status="approved",
        required_approvals=[],
        auto_approved=True,
        playbook_version="test",
    )


def typed(python_type: type) -> DagsterType:
    return DagsterType(type_check_fn=lambda _, __: True, name=python_type.__name__, typing_type=python_type)


INSTANCE = DagsterInstance.ephemeral()


def store(manager, asset: str, value, partition: str | None = "acme-nda.r1"):
    context = build_output_context(asset_key=AssetKey(asset), partition_key=partition, instance=INSTANCE)
    manager.handle_output(context, value)


def load(manager, asset: str, python_type: type, partition: str | None = "acme-nda.r1"):
    upstream = build_output_context(asset_key=AssetKey(asset), partition_key=partition, instance=INSTANCE)
    context = build_input_context(
        asset_key=AssetKey(asset),
        upstream_output=upstream,
        dagster_type=typed(python_type),
        partition_key=partition,
        instance=INSTANCE,
    )
    return manager.load_input(context)


@pytest.fixture
def manager(tmp_path):
    return ContractIOManager(base_dir=str(tmp_path / "storage"))


def test_model_round_trip_writes_envelope_with_name_and_version(manager, tmp_path):
    store(manager, "approval_routing", routing())
    path = tmp_path / "storage" / "values" / "approval_routing" / "acme-nda.r1.json"
    text = path.read_text()
    assert '"model": "ApprovalRouting"' in text and '"schema_version": 1' in text
    assert load(manager, "approval_routing", ApprovalRouting) == routing()


def test_loading_as_another_type_fails_naming_both(manager):
    store(manager, "approval_routing", routing())
    with pytest.raises(StoredTypeMismatch, match="holds a ApprovalRouting, but a RiskAssessment was expected"):
        load(manager, "approval_routing", RiskAssessment)


def test_file_bundle_files_written_beside_the_record(manager, tmp_path):
    bundle = RenderedDocuments(
        partition_key="acme-nda.r1",
        files=[RenderedFile(kind="html", filename="c.html", media_type="text/html", sha256="x", size=2)],
        content={"c.html": b"<p>"},
    )
    store(manager, "contract_documents", bundle)
    loaded = load(manager, "contract_documents", RenderedDocuments)
    assert open(loaded.path_of("html"), "rb").read() == b"<p>"
    assert loaded.content == {}  # bytes are not kept in the record


def test_file_bundle_cannot_write_outside_its_folder(manager):
    bundle = RenderedDocuments(partition_key="acme-nda.r1", files=[], content={"../escape.html": b"x"})
    with pytest.raises(ValueError, match="outside"):
        store(manager, "contract_documents", bundle, partition="acme-nda.r1")


def test_partition_key_that_is_a_path_writes_nothing(manager, tmp_path):
    """A dynamic partition added by hand in the UI is no revision key: nothing is stored."""
    bundle = RenderedDocuments(partition_key="../../x.r1", files=[], content={"a.html": b"x"})
    with pytest.raises(ValueError, match="not a revision key"):
        store(manager, "contract_documents", bundle, partition="../../x.r1")
    with pytest.raises(ValueError, match="not a revision key"):
        store(manager, "approval_routing", routing("../../x.r1"), partition="../../x.r1")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_dataframe_round_trip_as_parquet(manager, tmp_path):
    frame = pd.DataFrame({"contract_id": ["a", "b"], "value_amount": ["1.10", None]})
    store(manager, "contract_register", frame, partition=None)
    assert (tmp_path / "storage" / "values" / "contract_register" / "contract_register.parquet").exists()
    pd.testing.assert_frame_equal(load(manager, "contract_register", pd.DataFrame, partition=None), frame)


def test_unknown_values_and_untyped_inputs_are_refused(manager):
    with pytest.raises(TypeError, match="stores pydantic models and DataFrames"):
        store(manager, "approval_routing", {"a": 1})
    store(manager, "approval_routing", routing())
    with pytest.raises(TypeError, match="annotated with its model type"):
        load(manager, "approval_routing", dict)


def test_missing_value_names_the_asset_and_partition(manager):
    with pytest.raises(FileNotFoundError, match=r"approval_routing \(acme-nda.r1\)"):
        load(manager, "approval_routing", ApprovalRouting)


def test_writes_leave_no_temporary_files(manager, tmp_path):
    for _ in range(3):
        store(manager, "approval_routing", routing())
    leftovers = [p for p in (tmp_path / "storage").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
