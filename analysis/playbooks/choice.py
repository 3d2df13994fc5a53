"""Which built-in playbook an upload gets when nobody chooses: decided from its first pass alone.

Never calls a model and never refuses: a document the first pass could not read gets the report review, and
users can always run the other playbook themselves.
"""

from __future__ import annotations

from analysis.first_pass.record import FirstPassRecord

CONTRACT = "contract"
REPORT = "report"

# Clause scores are calibrated probabilities that a passage is the category's CUAD excerpt, so 0.5 is "more
# likely than not": the same bar the review's missed-by-model list (analysis.review.FIRST_PASS_MIN_SCORE) and
# the report page's default filter use.
CONFIDENT_CLAUSE_SCORE = 0.5
# One or two confident categories happen outside contracts (a filing quotes a governing law or a notice period of
# the agreements it describes); several distinct clause kinds together are meant to read as a contract's body.
# 3 is the rule as the web app first shipped it, kept unchanged when it moved here. Measured on the shared corpus
# it is loose: ten CUAD contracts reach 10 to 29 confident categories, the DOCX contracts 2 to 14, but a research
# paper, a 10-K and a WARN report reach 4 to 9 and are offered the contract review too (users can run the other).
CONTRACT_MIN_CATEGORIES = 3


def automatic_playbook_name(record: FirstPassRecord) -> str:
    """The playbook an upload gets without anyone choosing: a contract review when the first pass read a contract
    (a parties block, or clauses of at least CONTRACT_MIN_CATEGORIES CUAD categories scored CONFIDENT_CLAUSE_SCORE
    or more), else the report review. An absent or failed first pass reads as no contract."""
    if record.party_names:
        return CONTRACT
    confident = record.categories_at(CONFIDENT_CLAUSE_SCORE)
    return CONTRACT if len(confident) >= CONTRACT_MIN_CATEGORIES else REPORT
