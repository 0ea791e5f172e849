"""From a draft to the files people sign: rendered documents and the signature package."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from contract_assets.domain.files import canonical_json, sha256_bytes, sha256_file
from contract_assets.domain.models import (
    FileBundle,
    ContractDraft,
    ContractRequest,
    RenderedDocuments,
    RenderedFile,
    Revision,
    SignaturePackage,
    Signer,
)
from contract_assets.domain.rendering import render_docx, render_html, render_pdf
from contract_assets.domain.rendering.fonts import load_font_set
from contract_assets.domain.requests import FieldError, iter_text

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def unrenderable_text(request: ContractRequest) -> list[FieldError]:
    """Fields holding characters that no installed font can show (checked before a request
    is accepted, so that no contract ever prints a blank or a box in their place)."""
    fonts = load_font_set()
    errors = []
    for path, text in iter_text(request.model_dump(mode="json", exclude={"notes"})):
        missing = sorted({c for c in text if not c.isspace() and fonts.face_for(c) is None})
        if missing:
            shown = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in missing[:5])
            errors.append(FieldError(path, f"has characters no installed font can print: {shown}"))
    return errors


def _file(kind: str, filename: str, media_type: str, data: bytes) -> RenderedFile:
    return RenderedFile(
        kind=kind, filename=filename, media_type=media_type, sha256=sha256_bytes(data), size=len(data)
    )


def render_contract(draft: ContractDraft, *, effective_date: date) -> RenderedDocuments:
    """The contract for signature as HTML, PDF and DOCX."""
    stem = draft.partition_key
    outputs = {
        ("html", f"{stem}.html", "text/html; charset=utf-8"): render_html(
            draft, effective_date=effective_date
        ),
        ("pdf", f"{stem}.pdf", "application/pdf"): render_pdf(draft, effective_date=effective_date),
        ("docx", f"{stem}.docx", _DOCX): render_docx(draft, effective_date=effective_date),
    }
    return RenderedDocuments(
        partition_key=draft.partition_key,
        files=[_file(kind, name, media, data) for (kind, name, media), data in outputs.items()],
        content={name: data for (_, name, _), data in outputs.items()},
        effective_date=effective_date,
    )


def render_review_copy(draft: ContractDraft) -> RenderedDocuments:
    """An HTML copy marked as a draft, for the people who review and approve it."""
    data = render_html(draft, effective_date=draft.effective_date, review=True)
    filename = f"{draft.partition_key}.review.html"
    return RenderedDocuments(
        partition_key=draft.partition_key,
        files=[_file("review_html", filename, "text/html; charset=utf-8", data)],
        content={filename: data},
        effective_date=draft.effective_date,
        review=True,
    )


def signers(draft: ContractDraft) -> list[Signer]:
    """We sign first, the counterparty countersigns (its signed copy executes the contract)."""
    return [
        Signer(
            order=order,
            role=party.role,
            party=party.legal_name,
            name=party.signatory.name,
            title=party.signatory.title,
            email=party.signatory.email,
        )
        for order, party in enumerate(draft.parties, 1)
    ]


def build_signature_package(
    *,
    revision: Revision,
    draft: ContractDraft,
    documents: RenderedDocuments,
    created_at: datetime,
    audit_head: dict | None = None,
) -> SignaturePackage:
    """Hash each stored contract file and list the signers, as a manifest file that also
    records the audit trail's head (`{"seq", "hash"}`) when it was made."""
    hashed = []
    for rendered in documents.files:
        path = Path(documents.paths[rendered.filename])
        digest = sha256_file(path)
        if digest != rendered.sha256:
            raise ValueError(f"{path} changed after rendering (sha256 {digest} != {rendered.sha256})")
        hashed.append(rendered)
    package_signers = signers(draft)
    manifest = {
        "contract_id": revision.contract_id,
        "revision": revision.revision,
        "partition_key": revision.partition_key,
        "content_hash": revision.content_hash,
        "library_version": draft.library_version,
        "library_hash": draft.library_hash,
        "effective_date": documents.effective_date.isoformat() if documents.effective_date else None,
        "created_at": created_at.isoformat(),
        # Each path is relative to the revision's documents folder (the manifest's parent's parent).
        "files": [
            {**f.model_dump(mode="json"), "path": _issued_path(documents.paths[f.filename])}
            for f in hashed
        ],
        "signers": [s.model_dump(mode="json") for s in package_signers],
        "audit_head": audit_head,
    }
    data = json.dumps(json.loads(canonical_json(manifest)), indent=2, ensure_ascii=False).encode()
    filename = f"{revision.partition_key}.manifest.json"
    return SignaturePackage(
        partition_key=revision.partition_key,
        files=[_file("manifest", filename, "application/json", data)],
        content={filename: data},
        contract_id=revision.contract_id,
        revision=revision.revision,
        content_hash=revision.content_hash,
        documents=hashed,
        signers=package_signers,
        created_at=created_at,
    )


class ExecutedCopy(FileBundle):
    """A countersigned copy that came back, with the manifest it answers."""

    package_manifest_sha256: str


def _issued_path(absolute: str) -> str:
    path = Path(absolute)
    return f"{path.parent.name}/{path.name}"


def manifest_problems(package: SignaturePackage) -> list[str]:
    """Every way the manifest on disk disagrees with the files it lists (empty: all match)."""
    manifest_path = package.path_of("manifest")
    if manifest_path is None or not Path(manifest_path).exists():
        return [f"manifest file is missing ({manifest_path})"]
    manifest = json.loads(Path(manifest_path).read_bytes())
    documents = Path(manifest_path).parent.parent
    problems = []
    for entry in manifest["files"]:
        path = documents / entry["path"]
        if not path.exists():
            problems.append(f"{entry['filename']} is missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['filename']} does not match its sha256 in the manifest")
    if not manifest["files"]:
        problems.append("the manifest lists no files")
    return problems
