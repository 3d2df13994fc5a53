"""Playbook reviews driven by a scripted engine double: the replies are fixed, so what is tested is what
Quire does with them: anchoring (exact, re-typeset, across a page break, invented), the repair retry,
failure with a reason, windows only when the document does not fit, coverage, progress and cancel.
The double lives here only; the product never uses it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from analysis.findings import output_schema, parse_findings, partial_answer
from analysis.first_pass.record import FirstPassRecord, StoredClause
from analysis.ingest.document import IngestedDocument
from analysis.playbooks import BUILT_IN, PlaybookError, custom, from_dict, load
from analysis.review import (
    ReviewCancelledError,
    ReviewFailedError,
    ask_followup,
    item_groups,
    plan_windows,
    prompt_overhead,
    reply_budget,
    review,
)
from tests.doubles import ScriptedEngine

PAGES = [
    'MASTER SUPPLY AGREEMENT\nThis Agreement is made on 1 March 2021 between Acme Corp. (the "Supplier") and '
    'Beta LLC (the "Buyer").\n1. Term. This Agreement shall remain in force for three (3) years and renews for '
    "successive one-year terms unless either party gives ninety (90) days written",
    "notice of non-renewal.\n2. Governing Law. This Agreement is governed by the laws of the State of New York.\n"
    '3. Liability. In no event shall the Supplier\'s aggregate liability exceed the fees paid in the twelve months '
    "before the claim.",
    "4. Assignment. Neither party may assign this Agreement without the prior written consent of the other party.\n"
    "IN WITNESS WHEREOF the parties have signed this Agreement.",
]


def document() -> IngestedDocument:
    return IngestedDocument.from_pages("text", PAGES)


def reply(*findings) -> str:
    return json.dumps({"findings": [
        {"item": item, "present": present, "answer": answer, "quotes": list(quotes), "risk": risk, "risk_note": "note"}
        for item, present, answer, quotes, risk in findings]})


GOOD = reply(
    ("parties", True, "Acme Corp. (Supplier); Beta LLC (Buyer)", ['Acme Corp. (the "Supplier") and Beta LLC (the "Buyer")'], "none"),
    # curly quotes and a line break where the document has a space
    ("governing_law", True, "New York", ["This Agreement is\n governed by the laws of the State of   New York."], "low"),
    # runs across the break between pages 1 and 2, with the prompt's page marker inside
    ("notice_period_to_terminate_renewal", True, "90 days", ["ninety (90) days written [Page 2] notice of non-renewal"], "medium"),
    # words the document does not contain
    ("cap_on_liability", True, "USD 5,000,000", ["liability shall not exceed five million dollars"], "high"),
    ("anti_assignment", False, "", [], "none"),
)


def test_quotes_land_on_their_exact_spans_and_pages_and_invented_ones_are_marked():
    doc = document()
    result = review(doc, load("contract"), ScriptedEngine([GOOD]))
    by_item = {f.item: f for f in result.findings}
    parties = by_item["parties"].quotes[0]
    assert parties.verified and doc.text[parties.start:parties.end] == 'Acme Corp. (the "Supplier") and Beta LLC (the "Buyer")'
    assert parties.pages == (1,)
    law = by_item["governing_law"].quotes[0]
    assert law.verified and doc.text[law.start:law.end] == "This Agreement is governed by the laws of the State of New York."
    assert law.pages == (2,)
    seam = by_item["notice_period_to_terminate_renewal"].quotes[0]
    assert seam.verified and seam.pages == (1, 2)
    assert doc.text[seam.start:seam.end].startswith("ninety (90) days written") and doc.text[seam.start:seam.end].endswith("non-renewal")
    invented = by_item["cap_on_liability"].quotes[0]
    assert not invented.verified and invented.start is None and invented.pages == ()
    assert by_item["anti_assignment"].present is False and by_item["anti_assignment"].quotes == ()
    assert result.cited_pages == (1, 2) and result.windows == 1 and not result.repaired
    assert by_item["governing_law"].title == "Governing Law" and result.model_id == "scripted-test-double"


def test_malformed_reply_gets_one_repair_retry_that_sees_the_problem():
    engine = ScriptedEngine(['{"findings": [{"item": "parties", "present": tru', GOOD])
    result = review(document(), load("contract"), engine)
    assert result.repaired and len(result.findings) == 5
    retry = engine.requests[1].messages
    assert retry[-2].role == "assistant" and retry[-2].content.startswith('{"findings"')
    assert "not valid JSON" in retry[-1].content
    assert engine.requests[0].response_format["json_schema"]["schema"] == output_schema(load("contract"))


@pytest.mark.parametrize("second", ["still not json", reply(("no_such_item", True, "x", [], "none"))])
def test_two_unusable_replies_fail_the_review_with_the_reason(second):
    with pytest.raises(ReviewFailedError) as failed:
        review(document(), load("contract"), ScriptedEngine(["{", second]))
    assert "even after one retry" in failed.value.message


def test_document_comes_first_so_every_playbook_shares_its_prefix():
    engine = ScriptedEngine([GOOD, reply(("risks", True, "none stated", [], "low"))])
    review(document(), load("contract"), engine)
    review(document(), load("report"), engine)
    first, second = (r.messages[1].content for r in engine.requests)
    shared = first[: first.index("</document>")]
    assert second.startswith(shared) and "[Page 3]" in shared and engine.requests[0].messages[0] == engine.requests[1].messages[0]


def test_whole_document_is_the_norm_and_windows_only_when_it_does_not_fit():
    doc = document()
    assert plan_windows(doc, ScriptedEngine([], max_context=100_000), max_tokens=1000) == [(0, 3)]
    small = ScriptedEngine([], max_context=1000 + 2048 + 70)
    windows = plan_windows(doc, small, max_tokens=1000)
    assert len(windows) >= 2 and windows[0][0] == 0 and windows[-1][1] == 3
    assert all(b[0] <= a[1] for a, b in zip(windows, windows[1:]))  # contiguous or overlapping, no gap
    with pytest.raises(ReviewFailedError):
        plan_windows(doc, ScriptedEngine([], max_context=1500), max_tokens=1000)

    two = replace(load("contract"), items=tuple(i for i in load("contract").items if i.key in ("parties", "governing_law")))
    context = 400 + prompt_overhead(small, two, windowed=True) + 70  # room for about 70 words of document
    assert context // 2 >= 400  # the reply keeps its 400 tokens: two items fit one call
    windows = plan_windows(doc, ScriptedEngine([], max_context=context), max_tokens=400,
                           overhead=prompt_overhead(small, two, windowed=True))
    assert len(windows) >= 2
    replies = [reply(("governing_law", False, "", [], "none"), ("parties", True, "Acme", ["Acme Corp."], "low"))] + \
              [reply(("governing_law", True, "New York", ["laws of the State of New York"], "medium"))] * (len(windows) - 1)
    engine = ScriptedEngine(replies, max_context=context)
    result = review(doc, two, engine, max_tokens=400)
    merged = {f.item: f for f in result.findings}
    assert result.windows == len(windows) and merged["governing_law"].present and merged["governing_law"].risk == "medium"
    assert merged["parties"].present and merged["parties"].quotes[0].verified
    assert f"part 1 of {len(windows)}" in engine.requests[0].messages[1].content


def test_a_small_context_gets_a_reply_that_fits_and_the_playbook_in_groups_over_one_prefix():
    """An 8,192-token model asked for the default 8,192-token reply: half its context, 41 items in two calls."""
    playbook = load("contract")
    assert reply_budget(ScriptedEngine([], max_context=8192), 8192) == 4096
    groups = item_groups(playbook, 4096)
    assert [len(g.items) for g in groups] == [21, 20]
    assert [i.key for g in groups for i in g.items] == [i.key for i in playbook.items]
    one, other = groups[0].items[0].key, groups[1].items[0].key
    engine = ScriptedEngine([reply((one, True, "Acme", ["Acme Corp."], "none")),
                             reply((other, True, "New York", ["laws of the State of New York"], "low"))], max_context=8192)
    result = review(document(), playbook, engine)
    assert [r.max_tokens for r in engine.requests] == [4096, 4096]
    assert {f.item for f in result.findings} == {one, other}
    asked = [r.messages[1].content for r in engine.requests]
    assert f"- {one}:" in asked[0] and f"- {other}:" not in asked[0] and f"- {other}:" in asked[1]
    assert asked[1].startswith(asked[0][: asked[0].index("</document>")])  # one document prefix for both calls
    assert result.extra == {"reply_tokens": 4096, "item_groups": 2, "calls": 2}


def test_a_reply_cut_off_with_several_items_left_is_asked_again_in_halves():
    two = replace(load("contract"), items=tuple(i for i in load("contract").items if i.key in ("parties", "governing_law")))
    engine = ScriptedEngine(['{"findings": [{"item": "parties", "present": true, "answer": "Acme Corp. and', 
                             reply(("parties", True, "Acme", ["Acme Corp."], "none")),
                             reply(("governing_law", True, "New York", ["laws of the State of New York"], "low"))],
                            finish_reasons=["length", "stop", "stop"])
    result = review(document(), two, engine, max_tokens=400)  # two items per call: one group
    assert not result.repaired and {f.item for f in result.findings} == {"parties", "governing_law"}
    assert ["- governing_law:" in r.messages[1].content for r in engine.requests] == [True, False, True]


def test_the_repair_retry_never_overflows_the_context():
    """The bad reply goes back into the prompt only as far as it leaves room for a whole new reply."""
    bad = "not json " * 600  # 1,200 words: the double counts a token per word
    good = reply(("parties", True, "Acme", ["Acme Corp."], "none"))
    one = replace(load("contract"), items=tuple(i for i in load("contract").items if i.key == "parties"))
    measuring = ScriptedEngine([good])
    review(document(), one, measuring, max_tokens=500)
    prompt = sum(measuring.count_tokens(m.content) for m in measuring.requests[0].messages)

    engine = ScriptedEngine([bad, good], max_context=prompt + 500 + 96 + 600)  # room for 600 of its 1,200 words
    review(document(), one, engine, max_tokens=500)
    retry = engine.requests[1]
    assert retry.max_tokens == 500
    assert sum(engine.count_tokens(m.content) for m in retry.messages) + retry.max_tokens <= engine.max_context
    assert retry.messages[2].role == "assistant" and 0 < len(retry.messages[2].content) < len(bad)

    tight = ScriptedEngine([bad, good], max_context=2 * (prompt + 200))  # the reply takes half, the prompt the rest
    review(document(), one, tight, max_tokens=5000)
    retry = tight.requests[1]
    assert [m.role for m in retry.messages] == ["system", "user", "user"]  # no room: the problem alone
    assert sum(tight.count_tokens(m.content) for m in retry.messages) + retry.max_tokens <= tight.max_context


def test_first_pass_categories_the_model_marked_absent_are_listed():
    first_pass = FirstPassRecord(clauses=(StoredClause("Governing Law", 0, 5, (1,), 0.95),
                                          StoredClause("Anti-assignment", 6, 9, (1,), 0.9),
                                          StoredClause("Insurance", 10, 12, (1,), 0.2)))
    result = review(document(), load("contract"), ScriptedEngine([GOOD]), first_pass=first_pass)
    assert result.missed_by_model == ("Anti-Assignment",)
    # GOOD answers five items (one of them "absent"); the other 36 are listed as unanswered, by title.
    assert len(result.unanswered) == 36 and "Governing Law" not in result.unanswered
    assert "Anti-Assignment" not in result.unanswered and "Insurance" in result.unanswered


@pytest.mark.parametrize("first_pass", [None, FirstPassRecord.absent(), FirstPassRecord.failed("The first pass failed.")])
def test_without_a_first_pass_nothing_is_listed_as_missed(first_pass):
    result = review(document(), load("contract"), ScriptedEngine([GOOD]), first_pass=first_pass)
    assert result.missed_by_model == ()


def test_progress_rises_to_the_end_and_cancel_stops_the_review():
    seen = []
    review(document(), load("contract"), ScriptedEngine([GOOD]), progress=lambda f, step: seen.append((f, step)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] >= 0.99 and any("Reading" in s for _, s in seen)

    class Flag:
        def is_set(self):
            return True

    with pytest.raises(ReviewCancelledError):
        review(document(), load("contract"), ScriptedEngine([GOOD]), cancel=Flag())


def test_followup_answers_with_anchored_quotes():
    engine = ScriptedEngine(['{"answer": "New York law", "quotes": ["governed by the laws of the State of New York"]}'])
    reply = ask_followup(document(), "Which law governs?", engine)
    assert reply.answer == "New York law" and reply.quotes[0].verified and reply.quotes[0].pages == (2,)
    assert reply.prompt_tokens > 0
    assert engine.requests[0].messages[1].content.rstrip().endswith('["exact words", ...]}.')


def test_followup_answer_is_handed_out_as_it_streams():
    reply_text = '{"answer": "New York law, \\"as written\\"", "quotes": ["governed by the laws of the State of New York"]}'
    engine, seen = ScriptedEngine([reply_text], piece_chars=5), []
    reply = ask_followup(document(), "Which law governs?", engine, on_answer=seen.append)
    assert reply.answer == 'New York law, "as written"' and reply.quotes[0].verified
    assert seen[0] == "" and seen[-1] == reply.answer and len(set(seen)) > 4  # piece by piece, escapes decoded
    assert all(reply.answer.startswith(s) for s in seen)  # never a word the final answer does not have
    assert reply.prompt_tokens > 0  # the streamed result still reports its counts


def test_partial_answer_reads_a_reply_still_being_written():
    assert partial_answer('{"answer": "The term is thr') == "The term is thr"
    assert partial_answer('{"answer": "done", "quotes": ["half a quo') == "done"
    assert partial_answer("") == "" and partial_answer('{"ans') == "" and partial_answer("not json") == ""
    assert partial_answer('{"answer": 12') == ""  # not a string: nothing to show


def test_playbooks_load_validate_and_spell_cuad_categories_as_the_clause_finder():
    from analysis.first_pass.clause_model import default_model

    contract = load("contract")
    # Capitalised as CUAD's description file; its label files (and the clause finder) say "Cap On Liability".
    assert len(contract.items) == 41
    assert {i.title.casefold() for i in contract.items} == {c.casefold() for c in default_model().categories}
    assert set(BUILT_IN) == {"contract", "report"} and len(load("report").items) == 6
    mine = custom(["What is the deposit?", "  ", "Who pays for repairs?"])
    assert [i.key for i in mine.items] == ["q1", "q2"] and mine.kind == "custom"
    broken = contract.as_dict()
    broken["items"][1]["key"] = broken["items"][0]["key"]
    with pytest.raises(PlaybookError, match="used twice"):
        from_dict(broken)
    with pytest.raises(PlaybookError, match="Unknown playbook"):
        load("../etc/passwd")
    assert parse_findings(GOOD, contract)[0].item == "parties"
