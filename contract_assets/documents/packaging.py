"""From a draft to the files people sign: rendered documents and the signature package.

Longer than 400 lines on purpose: building a package and verifying one are the two sides
of the manifest's contract, kept together so they cannot drift apart.
"""

from __future__ import annotations

import io
import json
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography import x509

from contract_assets.documents.rendering import render_docx, render_html, render_pdf
from contract_assets.documents.rendering.fonts import load_font_set
from contract_assets.documents.sealing import (
    OrganisationSeal,
    detached_signature_problems,
    pdf_seal_problems,
    seal_pdf,
    sign_detached,
)
from contract_assets.intake.requests import FieldError, iter_text
from contract_assets.platform.files import canonical_json, sha256_bytes, sha256_file
from contract_assets.platform.models import (
    ContractDraft,
    ContractRequest,
    FileBundle,
    RenderedDocuments,
    RenderedFile,
    Revision,
    SignaturePackage,
    Signer,
)

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SIGNATURE_SUFFIX = ".sig"  # the manifest's detached signature: <manifest>.sig
SIGNATURE_MEDIA_TYPE = "application/pkcs7-signature"
MANIFEST_SUFFIX = ".manifest.json"
PACKAGE_ZIP_SUFFIX = ".package.zip"  # the whole package folder in one file
# A manifest's "paths_relative_to": its file paths start at its own folder. Manifests made
# before issue 9 have no such field; their paths start at the revision's documents folder.
PATHS_RELATIVE_TO_MANIFEST = "manifest"


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
    issued: Iterable[Path] = (),
) -> SignaturePackage:
    """The package sent for signature, as one folder: the contract files, a manifest that
    lists each of them (path relative to the manifest, SHA-256), the signers in order and
    the audit trail's head (`{"seq", "hash"}`) when it was made, and
    `<partition>.package.zip` holding the same files (reproducible: see `package_zip`).

    With a `seal`, the PDF is also sealed by the organisation and the manifest signed: the
    sealed PDF and the signature (`<manifest>.sig`, detached CMS) are in the folder too,
    and the manifest's `seal` entry names the sealed PDF with its hash. Without one, `seal`
    is null.

    When one of the `issued` manifests (packages already written for this revision) was
    made from the same revision, documents, signers and seal, and its folder is whole,
    that package is returned again unchanged: a step retried after storing its package
    seals nothing twice, and stores the same package.
    """
    hashed = _unchanged(documents)
    originals = {f.filename: Path(documents.paths[f.filename]).read_bytes() for f in hashed}
    terms = _package_terms(revision, draft, documents, hashed, seal)
    issued_files = next(
        (found for path in issued if (found := _reusable_package(path, terms)) is not None), None
    )
    if issued_files is None:
        issued_files = _seal_and_sign(terms, hashed, originals, created_at, audit_head, seal)
    manifest_name = f"{revision.partition_key}{MANIFEST_SUFFIX}"
    manifest = json.loads(issued_files[manifest_name])
    sealed_name = manifest["seal"]["filename"] if manifest["seal"] else None
    signature_name = manifest_name + SIGNATURE_SUFFIX
    zip_name = f"{revision.partition_key}{PACKAGE_ZIP_SUFFIX}"
    zipped = package_zip(
        revision.partition_key, {**originals, **issued_files}, zip_timestamp(revision.submitted_at)
    )
    # The manifest comes first: an executed copy cites it as the package's first file.
    files = [_file("manifest", manifest_name, "application/json", issued_files[manifest_name])]
    if sealed_name is not None:
        files.append(_file("sealed_pdf", sealed_name, "application/pdf", issued_files[sealed_name]))
        files.append(
            _file("manifest_signature", signature_name, SIGNATURE_MEDIA_TYPE, issued_files[signature_name])
        )
    files.append(_file("package_zip", zip_name, "application/zip", zipped))
    # Written in this order, the manifest last: a folder that holds a manifest is whole.
    content = {
        **originals,
        **{name: data for name, data in issued_files.items() if name != manifest_name},
        zip_name: zipped,
        manifest_name: issued_files[manifest_name],
    }
    return SignaturePackage(
        partition_key=revision.partition_key,
        files=files,
        content=content,
        contract_id=revision.contract_id,
        revision=revision.revision,
        content_hash=revision.content_hash,
        documents=hashed,
        signers=signers(draft),
        created_at=datetime.fromisoformat(manifest["created_at"]),
        seal_certificate_sha256=manifest["seal"]["certificate_sha256"] if manifest["seal"] else None,
    )


def _unchanged(documents: RenderedDocuments) -> list[RenderedFile]:
    """The rendered files, each checked against the hash it was rendered with."""
    for rendered in documents.files:
        path = Path(documents.paths[rendered.filename])
        digest = sha256_file(path)
        if digest != rendered.sha256:
            raise ValueError(f"{path} changed after rendering (sha256 {digest} != {rendered.sha256})")
    return list(documents.files)


def _package_terms(
    revision: Revision,
    draft: ContractDraft,
    documents: RenderedDocuments,
    hashed: list[RenderedFile],
    seal: OrganisationSeal | None,
) -> dict:
    """What a package says apart from when it was made: two packages with the same terms
    vouch for the same files, signers and seal (as plain JSON, as a manifest reads back)."""
    pdf = next(f for f in hashed if f.kind == "pdf")
    terms = {
        "contract_id": revision.contract_id,
        "revision": revision.revision,
        "partition_key": revision.partition_key,
        "content_hash": revision.content_hash,
        "library_version": draft.library_version,
        "library_hash": draft.library_hash,
        "effective_date": documents.effective_date.isoformat() if documents.effective_date else None,
        "paths_relative_to": PATHS_RELATIVE_TO_MANIFEST,
        "files": [{**f.model_dump(mode="json"), "path": f.filename} for f in hashed],
        "signers": [s.model_dump(mode="json") for s in signers(draft)],
        "seal": None
        if seal is None
        else {"sealed_from_sha256": pdf.sha256, "organisation": seal.organisation, "certificate_sha256": seal.fingerprint},
    }
    return json.loads(canonical_json(terms))


def _seal_and_sign(
    terms: dict,
    hashed: list[RenderedFile],
    originals: dict[str, bytes],
    created_at: datetime,
    audit_head: dict | None,
    seal: OrganisationSeal | None,
) -> dict[str, bytes]:
    """A new package's own files: the manifest and, with a seal, the sealed PDF and the
    manifest's signature."""
    key = terms["partition_key"]
    made: dict[str, bytes] = {}
    seal_entry = None
    if seal is not None:
        pdf = next(f for f in hashed if f.kind == "pdf")
        sealed_name = f"{key}.sealed.pdf"
        made[sealed_name] = seal_pdf(originals[pdf.filename], seal)
        sealed_file = _file("sealed_pdf", sealed_name, "application/pdf", made[sealed_name])
        seal_entry = {**sealed_file.model_dump(mode="json"), **terms["seal"]}
    manifest = {**terms, "created_at": created_at.isoformat(), "audit_head": audit_head, "seal": seal_entry}
    manifest_name = f"{key}{MANIFEST_SUFFIX}"
    made[manifest_name] = json.dumps(
        json.loads(canonical_json(manifest)), indent=2, ensure_ascii=False
    ).encode()
    if seal is not None:
        made[manifest_name + SIGNATURE_SUFFIX] = sign_detached(made[manifest_name], seal)
    return made


def _reusable_package(manifest_path: Path, terms: dict) -> dict[str, bytes] | None:
    """The files of the package at `manifest_path` (manifest, sealed PDF, signature) when it
    has these terms and its folder is whole; otherwise None."""
    try:
        manifest = _read_manifest(manifest_path)
    except ValueError:
        return None
    said = {name: manifest.get(name) for name in terms if name != "seal"}
    seal = manifest.get("seal")
    said["seal"] = {name: seal.get(name) for name in terms["seal"]} if seal and terms["seal"] else seal
    if said != terms or manifest_file_problems(manifest_path):
        return None
    found = {manifest_path.name: manifest_path.read_bytes()}
    if seal:
        signature = manifest_path.with_name(manifest_path.name + SIGNATURE_SUFFIX)
        if not signature.is_file():
            return None
        found[signature.name] = signature.read_bytes()
        found[seal["filename"]] = (manifest_path.parent / seal["filename"]).read_bytes()
    return found


def zip_timestamp(registered_at: datetime) -> tuple[int, int, int, int, int, int]:
    """The date every file in a package's zip carries: when the revision was registered
    (UTC; a zip cannot record dates before 1980)."""
    when = max(registered_at.astimezone(UTC).replace(tzinfo=None), datetime(1980, 1, 1))
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)


def package_zip(
    partition_key: str, files: dict[str, bytes], date_time: tuple[int, int, int, int, int, int]
) -> bytes:
    """The package's files in one zip, under a folder named by the revision: the same files
    give the same bytes (names sorted, one timestamp, permissions and compression fixed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{partition_key}/{name}", date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the permissions below are read
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


class ExecutedCopy(FileBundle):
    """A countersigned copy that came back, with the manifest it answers."""

    package_manifest_sha256: str


def manifest_problems(package: SignaturePackage) -> list[str]:
    """Every way the stored package disagrees with its files on disk: each file the manifest
    lists, and each of the package's own files (the zip included), missing or changed."""
    manifest_path = package.path_of("manifest")
    if manifest_path is None or not Path(manifest_path).exists():
        return [f"manifest file is missing ({manifest_path})"]
    problems = manifest_file_problems(Path(manifest_path))
    for own in package.files:
        path = Path(package.paths.get(own.filename, ""))
        if not path.is_file():
            problems.append(f"{own.filename} is missing")
        elif sha256_file(path) != own.sha256:
            problems.append(f"{own.filename} does not match its sha256 in the stored package")
    return list(dict.fromkeys(problems))


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
        isinstance(e.get("path"), str) for e in manifest["files"]
    ):
        raise ValueError(f"{manifest_path.name} has a file entry without its name, path or sha256")
    return manifest


def _listed_path(manifest_path: Path, manifest: dict, relative: str) -> Path | None:
    """Where a path the manifest lists is: beside the manifest (this layout), or under the
    revision's folder (packages made before issue 9, whose manifests do not say). None for a
    path that would leave that folder."""
    base = (
        manifest_path.parent
        if manifest.get("paths_relative_to") == PATHS_RELATIVE_TO_MANIFEST
        else manifest_path.parent.parent
    )
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or ".." in parts:
        return None
    return base / relative


def manifest_file_problems(manifest_path: Path) -> list[str]:
    """Every file the manifest lists (the sealed PDF too) that is missing or differs from
    its SHA-256 in the manifest."""
    try:
        manifest = _read_manifest(manifest_path)
    except ValueError as exc:
        return [str(exc)]
    listed = [(_listed_path(manifest_path, manifest, entry["path"]), entry) for entry in manifest["files"]]
    if manifest.get("seal"):
        listed.append((manifest_path.parent / Path(manifest["seal"]["filename"]).name, manifest["seal"]))
    problems = []
    for path, entry in listed:
        if path is None:
            problems.append(f"{entry['filename']}: its path {entry['path']!r} leaves the package")
        elif not path.is_file():
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
    sealed = manifest_path.parent / Path(seal["filename"]).name
    if sealed.exists():
        pdf = verify_sealed_pdf(sealed, trusted)
        result.checked += pdf.checked
        result.problems += pdf.problems
    zipped = manifest_path.with_name(name.removesuffix(MANIFEST_SUFFIX) + PACKAGE_ZIP_SUFFIX)
    if manifest.get("paths_relative_to") == PATHS_RELATIVE_TO_MANIFEST and zipped.is_file():
        result.checked.append(f"{zipped.name} holds the same files as the folder")
        result.problems += _zip_matches_folder(zipped, manifest_path, manifest)
    return result


def verify_package_zip(path: Path, trusted: list[x509.Certificate]) -> Verification:
    """Whether `<partition>.package.zip` holds one whole, authentic package: unpacked into
    a temporary folder (only plain file names under one folder) and verified there."""
    try:
        members = _zip_members(path)
    except ValueError as exc:
        return Verification([f"the files in {path.name}"], [f"{path.name}: {exc}"])
    manifests = [name for name in members if name.endswith(MANIFEST_SUFFIX)]
    if len(manifests) != 1:
        problem = f"{path.name}: expected one *{MANIFEST_SUFFIX} in it, found {len(manifests)}"
        return Verification([f"the files in {path.name}"], [problem])
    with tempfile.TemporaryDirectory(prefix="package-") as unpacked:
        for name, data in members.items():
            (Path(unpacked) / name).write_bytes(data)
        result = verify_package(Path(unpacked) / manifests[0], trusted)
    result.checked.insert(0, f"the files in {path.name}")
    return result


# Far above any real package; a zip claiming more is refused before it is unpacked.
_ZIP_MEMBERS_MAX = 1000
_ZIP_BYTES_MAX = 1 << 30


def _zip_members(path: Path) -> dict[str, bytes]:
    """The files in a package zip by name (the folder they sit in dropped), each checked
    against its CRC; a ValueError for anything but plain files under one folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            if len(infos) > _ZIP_MEMBERS_MAX or sum(i.file_size for i in infos) > _ZIP_BYTES_MAX:
                raise ValueError("holds more files or bytes than a signature package can")
            folders = {info.filename.split("/", 1)[0] for info in infos}
            members = {}
            for info in infos:
                parts = info.filename.split("/")
                if len(parts) != 2 or len(folders) != 1 or parts[1] in ("", ".", "..") or "\\" in parts[1]:
                    raise ValueError(f"{info.filename!r} is not a file in the package's one folder")
                members[parts[1]] = archive.read(info)
    except (OSError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"is not a readable zip ({exc})") from None
    return members


def _zip_matches_folder(zipped: Path, manifest_path: Path, manifest: dict) -> list[str]:
    """Every way the zip beside a manifest differs from the package folder it was made from."""
    try:
        members = _zip_members(zipped)
    except ValueError as exc:
        return [f"{zipped.name}: {exc}"]
    expected = {manifest_path.name, *(Path(entry["path"]).name for entry in manifest["files"])}
    if manifest.get("seal"):
        expected |= {Path(manifest["seal"]["filename"]).name, manifest_path.name + SIGNATURE_SUFFIX}
    problems = [f"{zipped.name} lacks {name}" for name in sorted(expected - members.keys())]
    problems += [f"{zipped.name} holds {name}, which the package does not" for name in sorted(members.keys() - expected)]
    for name in sorted(expected & members.keys()):
        beside = manifest_path.parent / name
        if beside.is_file() and beside.read_bytes() != members[name]:
            problems.append(f"{zipped.name}: {name} differs from the file in the folder")
    return problems
