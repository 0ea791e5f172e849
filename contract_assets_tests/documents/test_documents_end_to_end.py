"""User text through the whole pipeline: literal in every format, every character kept."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import UTC
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader
from ruamel.yaml import YAML

from contract_assets_tests.harness import SAMPLES, contract_home, operations_for, require_binary
from contract_assets_tests.pipeline.test_pipeline import run_revision

NAME = "Zoë Ångström 株式会社"
SIGNATORY = "Renée Þórsdóttir 山田太郎"
TRICKY = "{{ 7*7 }} {% if true %}x{% endif %} <script>alert(1)</script> &amp; ${HOME}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("docs")
    yaml = YAML(typ="safe", pure=True)
    request = yaml.load((SAMPLES / "01-mutual-nda.yaml").read_text())
    request["contract_id"] = "tricky-text-nda"
    request["counterparty"]["legal_name"] = NAME
    request["counterparty"]["signatory"]["name"] = SIGNATORY
    request["nda"]["purpose"] = f"testing {TRICKY}"
    path = root / "tricky.yaml"
    with path.open("w") as handle:
        yaml.dump(request, handle)
    with contract_home(root / "home", monkeypatch) as home, operations_for(home) as ops:
        revision = ops.submit(path).revision
        run_revision(home, ops.instance, revision.partition_key)
        status = ops.statuses()[0].as_json()
    monkeypatch.undo()
    assert status["stage"] == "ready_for_signature", status
    artifacts = {kind: Path(p) for kind, p in status["artifacts"].items() if p}
    return {**artifacts, "registered_at": revision.submitted_at}


def test_pdf_text_layer_keeps_accents_cjk_and_template_syntax(rendered):
    text = "".join(page.extract_text() for page in PdfReader(rendered["pdf"]).pages)
    flat = " ".join(text.split())
    assert NAME in flat
    assert SIGNATORY in flat
    assert "{{ 7*7 }}" in flat and "<script>alert(1)</script>" in flat and "&amp;" in flat
    assert "testing 49" not in flat  # the expression was not evaluated


@pytest.mark.programs
def test_pdf_embeds_its_fonts_and_renders_with_pdftoppm(rendered, tmp_path):
    reader = PdfReader(rendered["pdf"])
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            if descriptor is not None:
                descriptor = descriptor.get_object()
                assert "/FontFile2" in descriptor or "/FontFile" in descriptor or "/FontFile3" in descriptor
                fonts.add(str(font["/BaseFont"]))
    assert fonts, "no embedded fonts found"
    pdftoppm = require_binary("pdftoppm")
    subprocess.run([pdftoppm, "-r", "40", "-png", str(rendered["pdf"]), str(tmp_path / "page")], check=True)
    assert sorted(tmp_path.glob("page*.png"))


@pytest.mark.programs
def test_docx_keeps_text_literally_and_converts_with_libreoffice(rendered, tmp_path):
    document = docx.Document(str(rendered["docx"]))
    paragraphs = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    text = paragraphs + "\n" + cells
    assert NAME in text and SIGNATORY in text and TRICKY in text
    with zipfile.ZipFile(rendered["docx"]) as archive:
        assert "<script>" not in archive.read("word/document.xml").decode()

    office = require_binary("libreoffice")
    subprocess.run(
        [office, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(rendered["docx"])],
        check=True, capture_output=True, timeout=240,
    )
    converted = tmp_path / (rendered["docx"].stem + ".pdf")
    assert converted.exists()
    assert NAME.split()[0] in "".join(p.extract_text() for p in PdfReader(converted).pages)


def test_html_escapes_markup_and_keeps_characters(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    assert NAME in html and SIGNATORY in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "{{ 7*7 }}" in html
    assert "&amp;amp;" in html  # the user's literal "&amp;" escaped once more


def test_pdf_and_docx_are_dated_when_the_revision_was_registered(rendered):
    registered = rendered["registered_at"].astimezone(UTC).replace(microsecond=0)
    info = PdfReader(rendered["pdf"]).metadata
    assert info.creation_date == info.modification_date == registered
    properties = docx.Document(str(rendered["docx"])).core_properties
    assert properties.created == properties.modified == registered
