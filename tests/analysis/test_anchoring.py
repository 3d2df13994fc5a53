"""Quote anchoring on hand-made strings: each test names one way a quote and a text may differ."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from analysis.anchoring import Anchor, AnchorIndex, anchor, find_span, fold, pages_for_span
from analysis.ingest.document import PAGE_SEPARATOR, IngestedDocument, Page


def _document(*pages: str) -> IngestedDocument:
    return IngestedDocument.from_pages("text", pages)


def _found(text: str, quote: str) -> str:
    span = find_span(text, quote)
    assert span is not None, f"{quote!r} not found"
    return text[span[0] : span[1]]


def test_verbatim_quote_slices_back_to_itself():
    text = "Preamble. The Supplier shall deliver the Goods within 30 days. Other terms follow."
    found = anchor(text, "The Supplier shall deliver the Goods within 30 days.", ())
    assert found == Anchor(start=10, end=62, pages=(), exact=True, score=1.0)
    assert text[found.start : found.end] == "The Supplier shall deliver the Goods within 30 days."


def test_curly_and_straight_quotes_match_each_other():
    text = "The \u201cEffective Date\u201d is the Company\u2019s signing date."
    assert _found(text, 'The "Effective Date" is the Company\'s signing date') == (
        "The \u201cEffective Date\u201d is the Company\u2019s signing date"
    )
    assert anchor(text, "Company's signing", ()).exact
    # And the other way round: a curly quote in the quote, straight ones in the text.
    assert _found('the "Term" shall', "the \u201eTerm\u201f shall") == 'the "Term" shall'


def test_em_dash_en_dash_and_hyphen_match_each_other():
    text = "payable on demand \u2014 without set-off \u2013 in full"
    assert _found(text, "payable on demand - without set-off - in full") == text
    assert _found(text, "demand--without set\u2011off") == "demand \u2014 without set-off"
    assert anchor("pages 10\u201312", "pages 10-12", ()).exact
    assert anchor("the Licensor\u2013Licensee meeting", "the Licensor-Licensee meeting", ()).exact
    assert anchor("the Company\u2014the Seller", "the Company - the Seller", ()).exact


def test_words_hyphenated_across_lines_are_rejoined():
    text = "The Licensee shall use commercially reason-\nable efforts to market the Prod-\n  uct."
    found = anchor(text, "commercially reasonable efforts to market the Product.", ())
    assert found is not None and found.exact
    assert text[found.start : found.end] == "commercially reason-\nable efforts to market the Prod-\n  uct."


def test_compound_broken_at_a_line_end_matches_with_or_without_its_hyphen():
    # PDFium reports a hyphen at a line's end as U+FFFE; CUAD's text as "non- exclusive".
    text = "a non\ufffeexclusive, non-\ntransferable licence"
    for quote in (
        "non-exclusive, non-transferable",
        "nonexclusive, nontransferable",
        "non- exclusive, non- transferable",
    ):
        assert anchor(text, quote, ()).exact, quote


def test_soft_hyphens_and_zero_width_characters_are_ignored():
    text = "the con\u00adfi\u00addential in\u200bformation"
    assert _found(text, "confidential information") == text[4:]
    assert _found("confidential information", "con\u00adfidential\u200b information") == (
        "confidential information"
    )


def test_compatibility_forms_like_ligatures_match_plain_letters():
    text = "the \ufb01nal of\ufb01ce \ufb02oor, \u2460 item, \uff21\uff22\uff23 Ltd"
    found = anchor(text, "the final office floor, 1 item, ABC Ltd", ())
    assert found is not None and found.exact
    # The ends fall on whole characters of the original: the ligature is not cut in half.
    assert text[found.start : found.end] == text
    assert _found(text, "fina") == "\ufb01na"


def test_composed_and_decomposed_accents_match():
    assert _found("Soci\u00e9t\u00e9 G\u00e9n\u00e9rale", "Socie\u0301te\u0301") == "Soci\u00e9t\u00e9"
    assert _found("Socie\u0301te\u0301 Ge\u0301ne\u0301rale", "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale") == (
        "Socie\u0301te\u0301 Ge\u0301ne\u0301rale"
    )


def test_white_space_and_case_do_not_matter():
    text = "THIS  AGREEMENT\r\n\tshall be governed\u00a0by the laws of Delaware."
    assert _found(text, "this agreement shall be GOVERNED by the laws") == (
        "THIS  AGREEMENT\r\n\tshall be governed\u00a0by the laws"
    )
    assert _found(text, "  shall   be\ngoverned  ") == "shall be governed"


def test_words_split_or_joined_by_the_text_layer_still_match_exactly():
    # Text layers break "24th" into "24t h" and glue "Party\nA" into "PartyA".
    assert anchor("made this 24t h day of August", "24th day of August", ()).exact
    assert _found("unless Party\nA needs", "unless PartyA needs") == "unless Party\nA needs"
    # Only whole words: "PartyA" must not be found exactly inside "party administrator".
    assert AnchorIndex("the party administrator").find_all("PartyA") == ()


def test_quote_not_in_the_text_is_not_found():
    text = "The Supplier shall deliver the Goods within thirty days of the order."
    assert anchor(text, "The Customer may terminate this Agreement for convenience.", ()) is None
    assert anchor(text, "", ()) is None
    assert anchor(text, " \n\u200b ", ()) is None


def test_quote_with_an_extra_word_is_found_fuzzily_at_the_real_passage():
    text = (
        "1. Definitions follow here. 2. The Distributor shall promptly notify the Company of any "
        "claim of infringement brought against it. 3. Nothing else."
    )
    quote = "The Distributor shall promptly notify the Company in writing of any claim of infringement"
    found = anchor(text, quote, ())
    assert found is not None and not found.exact
    assert 0.9 <= found.score < 1.0
    assert text[found.start : found.end] == (
        "The Distributor shall promptly notify the Company of any claim of infringement"
    )


def test_quote_carrying_a_stray_page_header_is_found_fuzzily():
    body = "Licensee shall pay to Licensor a royalty of five percent of Net Sales of each Product sold"
    text = f"Section 4. {body} in the Territory."
    quote = "Licensee shall pay to Licensor a royalty of five Page 12 percent of Net Sales of each Product sold"
    found = anchor(text, quote, ())
    assert found is not None and not found.exact
    assert text[found.start : found.end] == body


def test_fuzzy_threshold_rejects_a_loose_match():
    text = "The Company may assign this Agreement to an Affiliate without consent."
    quote = "The Company may not assign this Agreement to anyone without prior written consent."
    assert anchor(text, quote, (), fuzzy_threshold=0.95) is None
    loose = anchor(text, quote, (), fuzzy_threshold=0.7)
    assert loose is not None and 0.7 <= loose.score < 0.95


def test_quote_spanning_two_pages_names_both_pages():
    doc = _document(
        "Page one text.",
        "Page two ends with the start of the clause: the Buyer shall",
        "indemnify the Seller against all losses. Page three goes on.",
        "Page four.",
    )
    found = anchor(doc.text, "the Buyer shall indemnify the Seller", doc.pages)
    assert found is not None and found.exact
    assert found.pages == (2, 3)
    assert doc.text[found.start : found.end] == "the Buyer shall" + PAGE_SEPARATOR + "indemnify the Seller"
    assert anchor(doc.text, "Page four", doc.pages).pages == (4,)


def test_quote_copied_with_the_page_footer_and_number_is_exact_across_the_break():
    footer = "Source: ACME CORP, 8-K, 8/22/2018"
    doc = _document("The fees are payable within 27 days", "of invoice, net of any agreed credit.")
    pages = tuple(
        replace(page, furniture=(str(26 + page.number), footer)) for page in doc.pages
    )
    text = doc.text
    quote = f"payable within 27 days 27 {footer} of invoice"
    found = anchor(text, quote, pages)
    assert found is not None and found.exact and found.pages == (1, 2)
    assert text[found.start : found.end] == "payable within 27 days" + PAGE_SEPARATOR + "of invoice"
    # The page number alone is not stripped: "27 days" could as well be the passage's own words.
    assert AnchorIndex(text, pages).find_all("payable within 27 days 27 of invoice") == ()
    # Nor is furniture stripped where the passage does not cross a page break.
    assert AnchorIndex(text, pages).find_all(f"The fees are {footer} payable within") == ()


def test_pages_are_those_holding_a_character_of_the_span():
    pages = [Page(number=1, start=0, end=10), Page(number=2, start=12, end=12), Page(number=3, start=14, end=30)]
    assert pages_for_span(0, 10, pages) == (1,)
    assert pages_for_span(9, 15, pages) == (1, 3)  # the empty page 2 holds nothing
    assert pages_for_span(10, 14, pages) == ()  # separators belong to no page
    assert pages_for_span(20, 25, pages) == (3,)
    assert pages_for_span(0, 5, []) == ()


def test_first_occurrence_is_returned_and_all_are_listed():
    text = "Notice: see clause. Later: see clause. End: see  Clause."
    index = AnchorIndex(text)
    assert index.find("see clause") == index.find_all("see clause")[0]
    assert [text[a.start : a.end] for a in index.find_all("see clause")] == [
        "see clause",
        "see clause",
        "see  Clause",
    ]
    assert index.find_all("absent words") == ()


def test_index_answers_many_quotes_without_folding_again(monkeypatch):
    doc = _document(*(f"Page {n}: clause {n} of the agreement binds party {n}." for n in range(1, 201)))
    index = AnchorIndex(doc.text, doc.pages)

    def no_refold(text):  # the document was folded once, in the constructor
        if len(text) > 1000:
            raise AssertionError("the document was folded again")
        return real_fold(text)

    import analysis.anchoring as anchoring

    real_fold = anchoring.fold
    monkeypatch.setattr(anchoring, "fold", no_refold)
    for n in (1, 57, 200):
        found = index.find(f"clause {n} of the agreement binds party {n}")
        assert found is not None and found.exact and found.pages == (n,)
    other = index.with_pages(doc.pages[:100])
    assert other.find("binds party 150.").pages == ()


def test_fold_maps_every_character_back_to_its_origin():
    text = "\ufb01ne  \u201cStra\u00dfe\u201d \u2014 agree-\nment\u00ad"
    folded = fold(text)
    assert folded.text == 'fine "strasse"-agreement'
    assert len(folded.origin) == len(folded.text)
    assert list(folded.origin) == sorted(folded.origin)
    assert all(0 <= at < len(text) for at in folded.origin)


@pytest.mark.parametrize("kind", ["exact", "fuzzy", "absent"])
def test_anchoring_a_thousand_page_document_is_fast(kind):
    # About 1,000 pages of 3,000 characters, each page distinct.
    pages = [
        f"Page {n}. Section {n}.1 The party number {n} shall deliver {n * 7} units to depot {n % 97} "
        f"before day {n % 365} of year {1990 + n % 40}; clause {n}.2 lets party {n} cure within "
        f"{n % 60} days. " * 14
        for n in range(1, 1001)
    ]
    doc = _document(*pages)
    started = time.perf_counter()
    index = AnchorIndex(doc.text, doc.pages)
    built = time.perf_counter() - started
    quotes = {
        "exact": [
            f"party number {n} shall deliver {n * 7} units to depot {n % 97}" for n in range(1, 1001, 5)
        ],
        "fuzzy": [  # one word more than the passage
            f"party number {n} shall duly deliver {n * 7} units to depot {n % 97} before"
            for n in range(1, 1001, 5)
        ],
        "absent": [
            f"the licensor grants an exclusive licence number {n} in the territory" for n in range(200)
        ],
    }[kind]
    started = time.perf_counter()
    found = [index.find(quote) for quote in quotes]
    queried = time.perf_counter() - started
    if kind == "absent":
        assert found == [None] * len(quotes)
    else:
        assert all(a is not None and a.exact == (kind == "exact") for a in found)
        assert [a.pages[0] for a in found] == list(range(1, 1001, 5))
    assert built < 5, f"index built in {built:.2f} s"
    assert queried < 10, f"{len(quotes)} {kind} quotes took {queried:.2f} s"
