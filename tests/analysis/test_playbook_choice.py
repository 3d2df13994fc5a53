"""The playbook an upload gets when nobody chooses, decided from its first pass."""

from __future__ import annotations

import pytest

from analysis.first_pass.record import FirstPassRecord, StoredClause, StoredParties, StoredParty
from analysis.playbooks import BUILT_IN
from analysis.playbooks.choice import CONFIDENT_CLAUSE_SCORE, CONTRACT_MIN_CATEGORIES, automatic_playbook_name


def clauses(*categories: str, score: float = 0.9) -> tuple[StoredClause, ...]:
    return tuple(StoredClause(category, 10 * n, 10 * n + 5, (1,), score) for n, category in enumerate(categories))


def test_a_parties_block_makes_a_contract_review() -> None:
    parties = StoredParties(0, 80, (1,), (StoredParty("Acme Corp.", 10, 20, "Acme"), StoredParty("Beta LLC", 30, 40, None)))
    assert automatic_playbook_name(FirstPassRecord(parties=parties)) == "contract"


def test_three_confident_clause_categories_make_a_contract_review() -> None:
    record = FirstPassRecord(clauses=clauses("Governing Law", "Anti-Assignment", "Insurance"))
    assert CONTRACT_MIN_CATEGORIES == 3 and automatic_playbook_name(record) == "contract"


def test_two_confident_categories_make_a_report_review() -> None:
    # Many passages, but of two categories only; a third category below the bar does not count.
    record = FirstPassRecord(clauses=clauses("Governing Law", "Governing Law", "Anti-Assignment")
                             + clauses("Insurance", score=CONFIDENT_CLAUSE_SCORE - 0.01))
    assert automatic_playbook_name(record) == "report"


def test_a_score_exactly_at_the_bar_is_confident() -> None:
    record = FirstPassRecord(clauses=clauses("Governing Law", "Anti-Assignment", "Insurance", score=CONFIDENT_CLAUSE_SCORE))
    assert automatic_playbook_name(record) == "contract"


def test_a_parties_block_without_parties_does_not_count() -> None:
    assert automatic_playbook_name(FirstPassRecord(parties=StoredParties(0, 10, (1,), ()))) == "report"


@pytest.mark.parametrize("record", [FirstPassRecord(), FirstPassRecord.absent(),
                                    FirstPassRecord.failed("The first pass failed (RuntimeError)."),
                                    FirstPassRecord.from_json({})])
def test_an_empty_absent_or_failed_first_pass_gets_the_report_review(record: FirstPassRecord) -> None:
    assert automatic_playbook_name(record) == "report"


def test_every_choice_is_a_built_in_playbook() -> None:
    assert {"contract", "report"} <= set(BUILT_IN)
