"""Dated obligations: what real contracts yield, what is never invented, and the calendar and command line."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from icalendar import Calendar

from analysis.__main__ import main
from analysis.first_pass.pipeline import read_first_pass
from analysis.obligations import calendar_ics, derive_obligations
from analysis.obligations.periods import Period, period, shifted

TRAIN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "cuad_train"
BELLRING = TRAIN / "BELLRINGBRANDS,INC_02_07_2020-EX-10.18-MASTER SUPPLY AGREEMENT.txt"
JOINT_VENTURE = TRAIN / "ACCELERATEDTECHNOLOGIESHOLDINGCORP_04_24_2003-EX-10.13-JOINT VENTURE AGREEMENT.txt"
DISTRIBUTOR = TRAIN / "AIRSPANNETWORKSINC_04_11_2000-EX-10.5-Distributor Agreement.txt"
needs_corpus = pytest.mark.skipif(not TRAIN.is_dir(), reason="../shared/corpus is not here")


def obligations_of(text: str):
    return derive_obligations(text, read_first_pass(text))


def by_kind(found) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for o in found:
        kinds.setdefault(o.kind, []).append(o.date)
    return kinds


# --- real contracts ----------------------------------------------------------------------------------------------

@needs_corpus
def test_renewal_and_notice_deadline_count_back_from_a_computed_expiry():
    text = BELLRING.read_text(encoding="utf-8")
    found = obligations_of(text)
    kinds = by_kind(found)
    # "continue for an Initial Term of five (5) years ... automatically renew ... no less than 12 months prior"
    assert "2024-10-31" in kinds["expiry"]
    assert kinds["renewal"] == ["2024-10-31"]
    assert kinds["notice_deadline"] == ["2023-10-31"]
    deadline = next(o for o in found if o.kind == "notice_deadline")
    assert "minus 12 months' notice" in deadline.derivation
    assert "12 months prior to the expiration" in " ".join(deadline.passage.text.split())
    for o in found:  # every passage is the document's own text at its offsets
        for p in o.passages:
            assert text[p.start:p.end] == p.text


@needs_corpus
def test_stated_expiry_and_start_are_read_from_the_term_sentence():
    kinds = by_kind(obligations_of(JOINT_VENTURE.read_text(encoding="utf-8")))
    assert kinds["expiry"] == ["2004-02-28"]
    assert "2003-03-01" in kinds["effective"]


@needs_corpus
def test_expiry_is_the_effective_date_plus_the_initial_term():
    found = obligations_of(DISTRIBUTOR.read_text(encoding="utf-8"))
    expiry = next(o for o in found if o.kind == "expiry")
    # "remain in effect for sixty (60) months from the Effective Date"; "made effective as of the 31st day of March, 2000"
    assert expiry.date == "2005-03-31"
    assert expiry.derivation.startswith("Effective Date 2000-03-31 plus 60 months")
    assert any("March, 2000" in p.text for p in expiry.passages)
    assert by_kind(found)["notice_deadline"] == ["2004-09-30"]


# --- never invented ----------------------------------------------------------------------------------------------

def test_a_contract_with_no_dates_gives_no_obligation():
    text = ("This Agreement shall continue until terminated by either party. Licensee shall pay the fees set out in "
            "Schedule A within thirty (30) days of invoice.")
    assert obligations_of(text) == ()


def test_a_date_in_words_the_first_pass_cannot_read_gives_no_obligation():
    text = "This Agreement shall expire on the thirtieth day of June unless renewed by the parties."
    assert obligations_of(text) == ()


def test_an_impossible_date_gives_no_obligation():
    for text in ("This Agreement shall expire on February 30, 2021.", "The term of this Agreement ends on 2021-02-30.",
                 "Buyer shall pay the Purchase Price on or before February 30, 2021."):
        assert obligations_of(text) == (), text


def test_a_period_with_no_anchor_date_gives_no_obligation():
    text = ("This agreement is for a term of ten (10) years. It shall automatically renew for successive one (1) year "
            "periods unless either party gives ninety (90) days' notice of non-renewal prior to the end of the term.")
    assert obligations_of(text) == ()


def test_a_term_with_no_start_runs_from_the_agreements_date_and_says_so():
    text = ("This Reseller Agreement is made and entered into as of June 1, 2004 by Galaxy and Telnet. "
            "The term of this Agreement is twenty-four (24) months.")
    (expiry,) = obligations_of(text)
    assert (expiry.kind, expiry.date) == ("expiry", "2006-06-01")
    assert "agreement's date (no start named) 2004-06-01 plus 24 months" in expiry.derivation
    # Both passages a reader checks it in: the term sentence and the preamble that dates the agreement.
    assert {p.text[:20] for p in expiry.passages} == {"The term of this Agr", "This Reseller Agreem"}


def test_a_term_with_no_start_gives_nothing_where_the_effective_date_is_an_event_or_the_term_not_the_agreements():
    event = ('This Agreement is made as of June 1, 2004. The "Effective Date" means the date on which the Site '
             "becomes fully operational. The term of this Agreement is two (2) years.")
    assert by_kind(obligations_of(event)).get("expiry") is None
    programme = "This Agreement is made as of June 1, 2004. The term of the Development Program shall be five (5) years."
    assert by_kind(obligations_of(programme)).get("expiry") is None


def test_an_anchor_the_contract_does_not_date_gives_no_obligation():
    text = ('This Agreement is effective as of the date of the last signature below (the "Effective Date"). '
            "The term of this Agreement shall be five (5) years from the Effective Date.")
    assert obligations_of(text) == ()


def test_two_different_anchors_give_no_expiry():
    text = ('This Agreement is made as of January 5, 2010 (the "Agreement Date") and is effective as of March 1, 2010 '
            '(the "Effective Date"). The term of this Agreement shall commence on the Agreement Date and shall '
            "continue for three (3) years after the Effective Date.")
    kinds = by_kind(obligations_of(text))
    assert "expiry" not in kinds
    assert kinds["effective"] == ["2010-03-01"]


def test_an_expiry_that_is_the_later_of_two_events_gives_no_date():
    text = ('This Agreement is made as of January 5, 2010 (the "Effective Date"). The term of this Agreement shall '
            "be five (5) years following the Effective Date or until the Studies are completed, whichever is later.")
    assert "expiry" not in by_kind(obligations_of(text))


def test_a_length_counted_from_an_event_gives_no_expiry():
    text = ('This Agreement is made as of January 5, 2010 (the "Effective Date"). From the Effective Date and for '
            "twelve (12) months after the termination of this Agreement, Consultant shall not solicit employees.")
    assert "expiry" not in by_kind(obligations_of(text))


# --- stated and computed dates on hand-made text ---------------------------------------------------------------------

def test_payment_and_delivery_dates_stated_in_their_sentences():
    text = ("Buyer shall pay the first installment of the Purchase Price on or before June 30, 2021. "
            "Seller shall deliver the Equipment to the Site no later than September 15, 2021.")
    found = obligations_of(text)
    assert [(o.kind, o.date) for o in found] == [("payment", "2021-06-30"), ("delivery", "2021-09-15")]


def test_business_day_notice_skips_weekends():
    assert shifted(date(2012, 6, 8), period("P10D (business days)"), -1) == date(2012, 5, 25)
    assert shifted(date(2020, 1, 31), Period(1, "M")) == date(2020, 2, 29)
    assert period("P3W") == Period(21, "D")
    assert period("nonsense") is None


def test_anniversary_of_a_defined_date():
    text = ('This Supply Agreement is entered into as of May 6, 2019 (the "Effective Date"). The term of this '
            "Agreement will commence upon the Effective Date and will continue until the fifth (5th) anniversary of "
            "the Effective Date.")
    assert by_kind(obligations_of(text))["expiry"] == ["2024-05-06"]


# --- the calendar and the command line -------------------------------------------------------------------------------

def test_calendar_has_one_all_day_event_per_obligation_with_stable_uids():
    text = ('This Agreement is made as of June 8, 2007 (the "Effective Date"). This Agreement shall remain in effect '
            "for five (5) years from the Effective Date and shall automatically renew for successive one (1) year "
            "periods unless either party gives at least ninety (90) days' written notice of non-renewal prior to the "
            "end of the then-current term.")
    found = obligations_of(text)
    assert {(o.kind, o.date) for o in found} == {("effective", "2007-06-08"), ("expiry", "2012-06-08"),
                                                ("renewal", "2012-06-08"), ("notice_deadline", "2012-03-10")}
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ics = calendar_ics(found, document_name="supply.txt", document_hash="abc", stamp=stamp)
    assert ics == calendar_ics(found, document_name="supply.txt", document_hash="abc", stamp=stamp)
    events = Calendar.from_ical(ics).walk("VEVENT")
    assert len(events) == len(found)
    assert sorted(e.decoded("dtstart") for e in events) == sorted(date.fromisoformat(o.date) for o in found)
    assert len({str(e["uid"]) for e in events}) == len(found)
    deadline = next(e for e in events if e.decoded("dtstart") == date(2012, 3, 10))
    assert "supply.txt" in str(deadline["summary"])
    assert "minus 90 days' notice" in str(deadline["description"])


def test_cli_prints_obligations_as_json_and_as_a_calendar(tmp_path, capsys):
    path = tmp_path / "contract.txt"
    path.write_text('This Agreement is made as of June 8, 2007 (the "Effective Date"). This Agreement shall remain '
                    "in effect for five (5) years from the Effective Date.", encoding="utf-8")
    assert main(["obligations", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expiry = next(r for r in rows if r["kind"] == "expiry")
    assert expiry["date"] == "2012-06-08"
    assert {"start", "end", "page", "text", "derivation"} <= expiry.keys()
    assert path.read_text(encoding="utf-8")[expiry["start"]:expiry["end"]] == expiry["text"]
    assert main(["obligations", str(path), "--ics"]) == 0
    events = Calendar.from_ical(capsys.readouterr().out).walk("VEVENT")
    assert sorted(str(e.decoded("dtstart")) for e in events) == sorted(r["date"] for r in rows)
