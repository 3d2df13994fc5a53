"""Bounds on what one document may cost to ingest. Readers check them and raise typed errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    # A 1M-token bundle is about 3,000 pages; the margin leaves room for sparse pages.
    max_pages: int = 5000
    # Decompressed size of a DOCX's parts (zip bombs) and of any single PDF stream we inflate.
    max_uncompressed_bytes: int = 512 * 1024 * 1024
    # Wall-clock budget for one file; enforced by the isolated runner, which kills the child.
    time_budget_s: float = 1800.0
    # Memory the isolated child may use before the kernel refuses it more (address space).
    memory_bytes: int = 4 * 1024 * 1024 * 1024
    # OCR resolution: 200 dpi keeps Tesseract accurate on contract text at about 1 s a page here.
    ocr_dpi: int = 200


DEFAULT_LIMITS = IngestLimits()
