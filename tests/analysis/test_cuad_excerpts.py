"""CUAD's expert clause excerpts anchored in real contracts: in CUAD's own text and in ours.

Every excerpt of the 40 checking contracts is looked for twice: in the plain text CUAD's annotators
read (the labels' own source) and in the text Quire ingests from the PDF. Quire's text must hold at
least as many excerpts verbatim (after folding) as CUAD's, and each must point at the right page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from analysis.anchoring import Anchor, AnchorIndex, fold, fold_quote
from analysis.ingest import IngestedDocument, ingest

pytestmark = pytest.mark.corpus

CONTRACTS = 40
# Excerpts shorter than this, or found in more than one place, say little about which page is
# meant, so the page check against PDFium's own pages leaves them out.
_PAGE_CHECK_MIN_CHARS = 40


@dataclass(frozen=True)
class Excerpt:
    category: str
    text: str


@dataclass(frozen=True)
class Contract:
    name: str
    pdf: Path
    excerpts: tuple[Excerpt, ...]
    document: IngestedDocument
    in_cuad_text: tuple[Anchor | None, ...]  # one per excerpt
    in_our_text: tuple[Anchor | None, ...]

    def exact(self, found: tuple[Anchor | None, ...]) -> int:
        return sum(1 for anchor in found if anchor is not None and anchor.exact)

    def fuzzy(self, found: tuple[Anchor | None, ...]) -> int:
        return sum(1 for anchor in found if anchor is not None and not anchor.exact)


def _contract_pdfs(corpus: Path) -> list[Path]:
    folder = corpus / "contracts_cuad"
    return sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() == ".pdf"
        and not path.name.startswith("DERIVED_SCANNED_")
        and path.with_suffix(".txt").is_file()
        and path.with_suffix(".labels.json").is_file()
    )


def _excerpts(labels_path: Path) -> tuple[Excerpt, ...]:
    labels = json.loads(labels_path.read_text(encoding="utf-8"))["labels"]
    return tuple(
        Excerpt(category, text)
        for category, label in labels.items()
        for text in label["context"]
        if text.strip()
    )


@pytest.fixture(scope="module")
def contracts(corpus: Path) -> list[Contract]:
    pdfs = _contract_pdfs(corpus)
    assert len(pdfs) == CONTRACTS, f"expected {CONTRACTS} CUAD contracts, found {len(pdfs)}"
    measured = []
    for pdf in pdfs:
        excerpts = _excerpts(pdf.with_suffix(".labels.json"))
        cuad = AnchorIndex(pdf.with_suffix(".txt").read_text(encoding="utf-8"))
        document = ingest(pdf, ocr=False)
        ours = AnchorIndex(document.text, document.pages)
        measured.append(
            Contract(
                name=pdf.stem,
                pdf=pdf,
                excerpts=excerpts,
                document=document,
                in_cuad_text=tuple(cuad.find(excerpt.text) for excerpt in excerpts),
                in_our_text=tuple(ours.find(excerpt.text) for excerpt in excerpts),
            )
        )
    return measured


def test_our_pdf_text_holds_at_least_as_many_excerpts_verbatim_as_cuads_own_text(contracts):
    total = sum(len(contract.excerpts) for contract in contracts)
    cuad_exact = sum(contract.exact(contract.in_cuad_text) for contract in contracts)
    cuad_fuzzy = sum(contract.fuzzy(contract.in_cuad_text) for contract in contracts)
    ours_exact = sum(contract.exact(contract.in_our_text) for contract in contracts)
    ours_fuzzy = sum(contract.fuzzy(contract.in_our_text) for contract in contracts)
    _print_summary(contracts, total, cuad_exact, cuad_fuzzy, ours_exact, ours_fuzzy)

    assert total > 900, f"only {total} excerpts: are the labels complete?"
    # Anchoring itself: CUAD's excerpts are verbatim from its text, save those its annotators
    # stitched together with "<omitted>" (about 5%), which no exact search can find.
    assert cuad_exact >= 0.94 * total, f"{cuad_exact}/{total} found exactly in CUAD's own text"
    assert ours_exact >= cuad_exact, (
        f"our PDF text holds {ours_exact}/{total} excerpts exactly, CUAD's text {cuad_exact}/{total}; "
        f"{_worst_lines(contracts)}"
    )


def test_every_anchor_slices_back_to_its_excerpt_on_pages_of_the_document(contracts):
    for contract in contracts:
        document = contract.document
        for excerpt, found in zip(contract.excerpts, contract.in_our_text):
            if found is None:
                continue
            where = f"{contract.name} / {excerpt.category}: {excerpt.text[:60]!r}"
            assert 0 <= found.start < found.end <= len(document.text), where
            assert found.pages, where
            assert all(1 <= page <= len(document.pages) for page in found.pages), where
            assert list(found.pages) == list(range(found.pages[0], found.pages[-1] + 1)), where
            if found.exact:
                # Up to white space and set-aside furniture, the slice is the excerpt itself.
                passage = _squeezed(fold(document.text[found.start : found.end]).text)
                quote = _squeezed(fold_quote(excerpt.text))
                assert passage == quote or (len(found.pages) > 1 and _in_order(passage, quote)), where


def test_each_contract_name_is_found_on_its_first_page(contracts):
    named = 0
    for contract in contracts:
        names = [excerpt for excerpt in contract.excerpts if excerpt.category == "Document Name"]
        if not names:
            continue
        named += 1
        found = contract.in_our_text[contract.excerpts.index(names[0])]
        assert found is not None and found.exact, f"{contract.name}: {names[0].text!r} not found"
        assert found.pages == (1,), f"{contract.name}: {names[0].text!r} found on pages {found.pages}"
    assert named >= CONTRACTS - 2


def test_excerpts_land_on_the_page_pdfium_prints_them_on(contracts):
    """An excerpt that PDFium's own text of exactly one page holds must be anchored on that page."""
    checked = 0
    for contract in contracts:
        raw = pdfium.PdfDocument(str(contract.pdf))
        try:
            raw_pages = [fold(raw[index].get_textpage().get_text_range()).text for index in range(len(raw))]
        finally:
            raw.close()
        ours = AnchorIndex(contract.document.text, contract.document.pages)
        for excerpt, found in zip(contract.excerpts, contract.in_our_text):
            quote = fold_quote(excerpt.text)
            if found is None or not found.exact or len(quote) < _PAGE_CHECK_MIN_CHARS:
                continue
            if len(ours.find_all(excerpt.text)) != 1:
                continue
            printed_on = [number for number, text in enumerate(raw_pages, start=1) if quote in text]
            if len(printed_on) != 1:
                continue
            checked += 1
            assert found.pages == tuple(printed_on), (
                f"{contract.name} / {excerpt.category}: {excerpt.text[:60]!r} anchored on pages "
                f"{found.pages}, printed on page {printed_on[0]}"
            )
    # About two thirds of all excerpts qualify; far fewer means the check stopped checking.
    assert checked >= 500, f"only {checked} excerpts checked against PDFium's pages"


def _squeezed(text: str) -> str:
    return text.replace(" ", "")


def _in_order(passage: str, quote: str) -> bool:
    """Whether `passage` is `quote` with some stretches (furniture) taken out."""
    position = 0
    for char in passage:
        position = quote.find(char, position) + 1
        if position == 0:
            return False
    return True


def _worst_lines(contracts: list[Contract], limit: int = 8) -> str:
    worst = sorted(
        contracts,
        key=lambda c: (
            c.exact(c.in_our_text) - c.exact(c.in_cuad_text),
            c.exact(c.in_our_text) / max(1, len(c.excerpts)),
        ),
    )[:limit]
    return "; ".join(
        f"{c.name[:40]}: ours {c.exact(c.in_our_text)} vs CUAD {c.exact(c.in_cuad_text)} of {len(c.excerpts)}"
        for c in worst
    )


def _print_summary(contracts, total, cuad_exact, cuad_fuzzy, ours_exact, ours_fuzzy) -> None:
    def share(count: int) -> str:
        return f"{count:5d} ({count / total:6.1%})"

    print()
    print(f"CUAD excerpts anchored: {len(contracts)} contracts, {total} excerpts")
    print(f"  {'':28} {'exact':>15} {'fuzzy':>15} {'not found':>15}")
    for label, exact, fuzzy in (
        ("CUAD's own .txt", cuad_exact, cuad_fuzzy),
        ("our text from the PDF", ours_exact, ours_fuzzy),
    ):
        print(f"  {label:28} {share(exact):>15} {share(fuzzy):>15} {share(total - exact - fuzzy):>15}")
    print("  worst contracts (our text, exact / excerpts; CUAD's text exact):")
    worst = sorted(contracts, key=lambda c: c.exact(c.in_our_text) / max(1, len(c.excerpts)))[:6]
    for contract in worst:
        ours = contract.exact(contract.in_our_text)
        print(
            f"    {ours:3d}/{len(contract.excerpts):3d} exact, {contract.fuzzy(contract.in_our_text):2d} fuzzy;"
            f" CUAD {contract.exact(contract.in_cuad_text):3d}  {contract.name[:70]}"
        )
    lost = [
        (contract.name, excerpt, found)
        for contract in contracts
        for excerpt, found, cuad in zip(contract.excerpts, contract.in_our_text, contract.in_cuad_text)
        if cuad is not None and cuad.exact and not (found is not None and found.exact)
    ]
    print(f"  exact in CUAD's text but not in ours: {len(lost)}")
    for name, excerpt, found in lost[:10]:
        how = "not found" if found is None else f"fuzzy {found.score:.3f}"
        print(f"    {how:11} {name[:40]} / {excerpt.category}: {excerpt.text[:70]!r}")
