"""Key terms read from real contract passages (read in place from the shared corpus) and from the forms
contracts write them in: dates in words, "thirty (30) days", several currencies, percentages."""

from __future__ import annotations

import pytest

from analysis.first_pass.keyterms import TermKind, key_terms

CERES = "contracts_cuad/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.txt"
ADIA = "contracts_cuad/ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT.txt"
ADURO = "cuad_train/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt"
COHERUS = "contracts_cuad/CoherusBiosciencesInc_20200227_10-K_EX-10.29_12021376_EX-10.29_Development Agreement.txt"


def read(corpus, name: str) -> str:
    return (corpus / name).read_text(errors="replace")


def terms_of(text: str, kind: str) -> list[tuple[str, str]]:
    return [(term.text, term.value) for term in key_terms(text) if term.kind == kind]


def test_every_term_is_the_exact_text_at_its_span(corpus):
    text = read(corpus, CERES)
    found = key_terms(text)
    assert len(found) > 50
    for term in found:
        assert text[term.start:term.end] == term.text


def test_effective_date_written_with_an_ordinal_day(corpus):
    text = read(corpus, CERES)
    dates = terms_of(text[:2000], TermKind.DATE)
    assert ("1st day of April, 2007", "2007-04-01") in dates


def test_an_ordinal_the_pdf_text_split_in_two_and_a_dashed_date_are_still_dates():
    # As CUAD's text layers have them: "1s t day of June, 2004" (ASIANDRAGON), "March 7t h, 2018", "12-23-2019".
    text = ("made as of the 1s t day of June, 2004; the Hosting Agreement dated March 7t h, 2018; "
            "entered into as of 12-23-2019; the 2n d day of May 2001; not 123-12-2019, nor 12-40-2019.")
    assert terms_of(text, TermKind.DATE) == [("1s t day of June, 2004", "2004-06-01"), ("March 7t h, 2018", "2018-03-07"),
                                            ("12-23-2019", "2019-12-23"), ("2n d day of May 2001", "2001-05-02")]


def test_notice_periods_in_words_and_figures(corpus):
    text = read(corpus, CERES)
    at = text.index("be exercised by written notice within thirty (30) days")
    window = [t for t in key_terms(text) if at <= t.start < at + 80]
    assert [(t.kind, t.text, t.value) for t in window] == [(TermKind.NOTICE_PERIOD, "thirty (30) days", "P30D")]


def test_governing_law_names_the_jurisdiction(corpus):
    text = read(corpus, ADIA)
    law = terms_of(text, TermKind.GOVERNING_LAW)
    assert law and law[0][1] == "State of California"
    assert law[0][0].startswith("governed by")


def test_money_in_euros_and_percentages_in_words(corpus):
    aduro = read(corpus, ADURO)
    assert ("€500", "500.00 EUR") in terms_of(aduro, TermKind.MONEY)
    coherus = read(corpus, COHERUS)
    assert ("€ 5,000,000", "5000000.00 EUR") in terms_of(coherus, TermKind.MONEY)


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("made as of the fifteenth day of March, 2001 by", TermKind.DATE, ("fifteenth day of March, 2001", "2001-03-15")),
    ("dated the twenty-first day of May 2019.", TermKind.DATE, ("twenty-first day of May 2019", "2019-05-21")),
    ("effective 13/05/2020 until", TermKind.DATE, ("13/05/2020", "2020-05-13")),
    ("signed 2019-10-01.", TermKind.DATE, ("2019-10-01", "2019-10-01")),
    ("as of Oct. 1, 2019", TermKind.DATE, ("Oct. 1, 2019", "2019-10-01")),
    ("for a term of two (2) years from", TermKind.DURATION, ("two (2) years", "P2Y")),
    ("within five business days of", TermKind.DURATION, ("five business days", "P5D (business days)")),
    ("upon sixty (60) days' prior written notice", TermKind.NOTICE_PERIOD, ("sixty (60) days", "P60D")),
    ("with notice of not less than 90 days", TermKind.NOTICE_PERIOD, ("90 days", "P90D")),
    ("a fee of US$ 2.5 million payable", TermKind.MONEY, ("US$ 2.5 million", "2500000.00 USD")),
    ("a fee of 10,000 Euros payable", TermKind.MONEY, ("10,000 Euros", "10000.00 EUR")),
    ("royalty of RMB 1,000,000 per year", TermKind.MONEY, ("RMB 1,000,000", "1000000.00 CNY")),
    ("costs of £300 each", TermKind.MONEY, ("£300", "300.00 GBP")),
    ("interest at ten percent (10%) per annum", TermKind.PERCENTAGE, ("ten percent (10%)", "10%")),
    ("one and one-half percent (1.50%) per month", TermKind.PERCENTAGE, ("1.50%", "1.5%")),
    ("a royalty of twelve percent on sales", TermKind.PERCENTAGE, ("twelve percent", "12%")),
])
def test_forms_contracts_write_terms_in(text, kind, expected):
    assert expected in terms_of(text, kind)


def test_a_mismatched_restatement_is_not_read_as_either_figure():
    # "thirty (60) days": the words and the figure disagree; reporting either would invent a fact.
    assert terms_of("within thirty (60) days of", TermKind.DURATION) == []


def test_impossible_dates_are_not_dates():
    assert terms_of("on February 30, 2020 and 31/31/2020", TermKind.DATE) == []


def test_venue_runs_to_the_state_after_the_county():
    text = "The parties submit to the exclusive jurisdiction of the courts located in New Castle County, Delaware."
    assert terms_of(text, TermKind.VENUE)[0][1] == "New Castle County, Delaware"
