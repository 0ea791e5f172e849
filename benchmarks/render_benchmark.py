"""How long rendering one contract takes, per format: prints milliseconds per document.

The drafts are assembled from the shipped clause library and the sample requests (a mutual
NDA of about four pages, an MSA with its DPA annex of about ten), with the counterparty
renamed to "Zoë Ångström 株式会社" so that the PDF also embeds the CJK fallback font.
The first render of a process also parses the fonts; it is shown apart from the steady state.
The last line is sealing each PDF with a self-signed trial seal (PAdES, pyHanko) and
verifying the sealed PDF.

    .venv/bin/python benchmarks/render_benchmark.py [--runs 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pypdf

from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.platform.models import ContractDraft
from contract_assets.documents.rendering import render_docx, render_html, render_pdf
from contract_assets.intake.requests import load_request_file
from contract_assets.documents.sealing import (
    SealFiles,
    create_trial_seal,
    pdf_seal_problems,
    read_certificates,
    seal_pdf,
)

REQUESTS = Path(__file__).resolve().parents[1] / "examples" / "requests"
SAMPLES = {"mutual NDA": "01-mutual-nda.yaml", "MSA + DPA annex": "02-msa-high-value.yaml"}
COUNTERPARTY = "Zoë Ångström 株式会社"
EFFECTIVE_DATE = date(2027, 1, 1)
REGISTERED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # dates the PDF and DOCX
RENDERERS: dict[str, Callable[..., bytes]] = {
    "html": render_html,
    "pdf": partial(render_pdf, registered_at=REGISTERED_AT),
    "docx": partial(render_docx, registered_at=REGISTERED_AT),
}


def sample_draft(file_name: str) -> ContractDraft:
    library, entities = load_library(), load_entities()
    request = load_request_file(
        REQUESTS / file_name, entities=set(entities), find_contract=lambda _: None
    )
    counterparty = request.counterparty.model_copy(update={"legal_name": COUNTERPARTY})
    request = request.model_copy(update={"counterparty": counterparty})
    return assemble_draft(
        partition_key=f"{request.contract_id}.r1",
        revision=1,
        request=request,
        request_hash="0" * 64,
        entity=entities[request.our_entity],
        library=library,
    )


def milliseconds(work: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def rendering(render: Callable[..., bytes], draft: ContractDraft) -> Callable[[], bytes]:
    return lambda: render(draft, effective_date=EFFECTIVE_DATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="renders per format and draft")
    runs = parser.parse_args().runs

    drafts = {label: sample_draft(file_name) for label, file_name in SAMPLES.items()}
    nda = drafts["mutual NDA"]
    first = {fmt: milliseconds(rendering(render, nda), 1)[0] for fmt, render in RENDERERS.items()}
    print("first render in this process (parses fonts and templates), ms: "
          + ", ".join(f"{fmt} {ms:.0f}" for fmt, ms in first.items()))
    print(f"\nsteady state, {runs} runs each: median ms per document (min-max)")
    print(f"{'draft':<18}{'pages':>6}" + "".join(f"{fmt:>20}" for fmt in RENDERERS))
    for label, draft in drafts.items():
        pdf = RENDERERS["pdf"](draft, effective_date=EFFECTIVE_DATE)
        pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
        cells = []
        for render in RENDERERS.values():
            times = milliseconds(rendering(render, draft), runs)
            cells.append(f"{statistics.median(times):.1f} ({min(times):.1f}-{max(times):.1f})")
        print(f"{label:<18}{pages:>6}" + "".join(f"{cell:>20}" for cell in cells))
    print_sealing(drafts, runs)


def print_sealing(drafts: dict[str, ContractDraft], runs: int) -> None:
    """Median ms to seal one rendered PDF, and to verify the sealed PDF."""
    with tempfile.TemporaryDirectory() as keys:
        files = SealFiles(Path(keys))
        seal = create_trial_seal(files, "Benchmark Org", None)
        trusted = read_certificates(files.certificate)
        cells = []
        for label, draft in drafts.items():
            pdf = RENDERERS["pdf"](draft, effective_date=EFFECTIVE_DATE)
            sealed = seal_pdf(pdf, seal)
            seal_ms = statistics.median(milliseconds(lambda: seal_pdf(pdf, seal), runs))
            verify_ms = statistics.median(milliseconds(lambda: pdf_seal_problems(sealed, trusted), runs))
            cells.append(f"{label} seal {seal_ms:.1f}, verify {verify_ms:.1f}")
    print(f"\nsealing (RSA-3072 trial seal, {runs} runs), median ms per PDF: " + "; ".join(cells))



if __name__ == "__main__":
    main()
