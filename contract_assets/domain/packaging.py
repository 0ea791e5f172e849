"""From a draft to the files people sign: rendered documents and the signature package."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from cryptography import x509

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
from contract_assets.domain.sealing import (
    OrganisationSeal,
    detached_signature_problems,
    pdf_seal_problems,
    seal_pdf,
    sign_detached,
)

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SIGNATURE_SUFFIX = ".sig"  # the manifest's detached signature: <manifest>.sig
SIGNATURE_MEDIA_TYPE = "application/pkcs7-signature"


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


def render_contract(
    draft: ContractDraft, *, effective_date: date, registered_at: datetime
) -> RenderedDocuments:
    """The contract for signature as HTML, PDF and DOCX; the PDF and DOCX are dated
    `registered_at`, the revision's registration time (`Revision.submitted_at`)."""
    stem = draft.partition_key
    dated = {"effective_date": effective_date, "registered_at": registered_at}
    outputs = {
        ("html", f"{stem}.html", "text/html; charset=utf-8"): render_html(
            draft, effective_date=effective_date
        ),
        ("pdf", f"{stem}.pdf", "application/pdf"): render_pdf(draft, **dated),
        ("docx", f"{stem}.docx", _DOCX): render_docx(draft, **dated),
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
    seal: OrganisationSeal | None = None,
) -> SignaturePackage:
    """Hash each stored contract file and list the signers, as a manifest file that also
    records the audit trail's head (`{"seq", "hash"}`) when it was made.

    With a `seal`, the PDF is also sealed by the organisation and the manifest signed: the
    sealed PDF and the signature (`<manifest>.sig`, detached CMS) sit beside the manifest,
    whose `seal` entry names the sealed PDF with its hash. Without one, `seal` is null.
    """
    hashed = []
    for rendered in documents.files:
        path = Path(documents.paths[rendered.filename])
        digest = sha256_file(path)
        if digest != rendered.sha256:
            raise ValueError(f"{path} changed after rendering (sha256 {digest} != {rendered.sha256})")
        hashed.append(rendered)
    package_signers = signers(draft)
    content: dict[str, bytes] = {}
    files: list[RenderedFile] = []
    seal_entry = None
    if seal is not None:
        pdf = next(f for f in hashed if f.kind == "pdf")
        sealed_name = f"{revision.partition_key}.sealed.pdf"
        content[sealed_name] = seal_pdf(Path(documents.paths[pdf.filename]).read_bytes(), seal)
        files.append(_file("sealed_pdf", sealed_name, "application/pdf", content[sealed_name]))
        seal_entry = {
            **files[-1].model_dump(mode="json"),
            "sealed_from_sha256": pdf.sha256,
            "organisation": seal.organisation,
            "certificate_sha256": seal.fingerprint,
        }
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
        "seal": seal_entry,  # the sealed PDF is in the manifest's own folder
    }
    data = json.dumps(json.loads(canonical_json(manifest)), indent=2, ensure_ascii=False).encode()
    filename = f"{revision.partition_key}.manifest.json"
    # The manifest comes first: an executed copy cites it as the package's first file.
    files.insert(0, _file("manifest", filename, "application/json", data))
    content[filename] = data
    if seal is not None:
        signature_name = filename + SIGNATURE_SUFFIX
        content[signature_name] = sign_detached(data, seal)
        files.append(
            _file("manifest_signature", signature_name, SIGNATURE_MEDIA_TYPE, content[signature_name])
        )
    return SignaturePackage(
        partition_key=revision.partition_key,
        files=files,
        content=content,
        contract_id=revision.contract_id,
        revision=revision.revision,
        content_hash=revision.content_hash,
        documents=hashed,
        signers=package_signers,
        created_at=created_at,
        seal_certificate_sha256=seal.fingerprint if seal is not None else None,
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
    return manifest_file_problems(Path(manifest_path))


def _read_manifest(manifest_path: Path) -> dict:
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{manifest_path.name} is not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ValueError(f"{manifest_path.name} is not a signature package manifest")
    entries = [*manifest["files"], *([manifest["seal"]] if manifest.get("seal") else [])]
    wanted = {"filename", "sha256"}
    if not all(isinstance(e, dict) and wanted <= e.keys() for e in entries) or not all(
        "path" in e for e in manifest["files"]
    ):
        raise ValueError(f"{manifest_path.name} has a file entry without its name, path or sha256")
    return manifest


def manifest_file_problems(manifest_path: Path) -> list[str]:
    """Every file the manifest lists (the sealed PDF too) that is missing or differs from
    its SHA-256 in the manifest."""
    try:
        manifest = _read_manifest(manifest_path)
    except ValueError as exc:
        return [str(exc)]
    documents = manifest_path.parent.parent
    listed = [(documents / entry["path"], entry) for entry in manifest["files"]]
    if manifest.get("seal"):
        listed.append((manifest_path.parent / manifest["seal"]["filename"], manifest["seal"]))
    problems = []
    for path, entry in listed:
        if not path.exists():
            problems.append(f"{entry['filename']} is missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['filename']} does not match its sha256 in the manifest")
    if not manifest["files"]:
        problems.append("the manifest lists no files")
    return problems


@dataclass
class Verification:
    """What `verify` looked at, and every failure found, in words."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_sealed_pdf(path: Path, trusted: list[x509.Certificate]) -> Verification:
    """Whether the PDF at `path` is sealed, unchanged, by the trusted certificate."""
    problems = pdf_seal_problems(path.read_bytes(), trusted)
    return Verification([f"the seal of {path.name}"], [f"{path.name}: {p}" for p in problems])


def verify_package(manifest_path: Path, trusted: list[x509.Certificate]) -> Verification:
    """Whether a signature package is whole and authentic: the manifest's signature, every
    listed file's SHA-256, and the seal of its sealed PDF."""
    name = manifest_path.name
    result = Verification(checked=[f"the signature of {name}"])
    signature = manifest_path.with_name(name + SIGNATURE_SUFFIX)
    if not signature.exists():
        result.problems.append(f"{name} is not signed: {signature.name} is missing")
    else:
        problems = detached_signature_problems(
            manifest_path.read_bytes(), signature.read_bytes(), trusted
        )
        result.problems += [f"{name}: {p}" for p in problems]
    try:
        manifest = _read_manifest(manifest_path)
    except ValueError as exc:
        result.problems.append(str(exc))
        return result
    result.checked.append(f"the SHA-256 of {len(manifest['files'])} files listed in {name}")
    result.problems += manifest_file_problems(manifest_path)
    seal = manifest.get("seal")
    if not seal:
        result.problems.append(f"{name} names no sealed PDF (the package was made without a seal)")
        return result
    sealed = manifest_path.parent / seal["filename"]
    if sealed.exists():
        pdf = verify_sealed_pdf(sealed, trusted)
        result.checked += pdf.checked
        result.problems += pdf.problems
    return result
