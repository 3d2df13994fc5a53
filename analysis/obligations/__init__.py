"""Dated obligations (expiry, renewal, the last day to give notice, payment, delivery, the effective date) derived
from the first pass's key terms and sentences, each with the passages a reader can check it against."""

from analysis.obligations.derive import derive_obligations, document_obligations
from analysis.obligations.ics import calendar_ics
from analysis.obligations.model import FORMAT, Obligation, ObligationKind, Passage

__all__ = ["FORMAT", "Obligation", "ObligationKind", "Passage", "calendar_ics", "derive_obligations",
           "document_obligations"]
