"""Recognises the text of one page image with Tesseract: line texts, their boxes, a confidence.

It must never let a Tesseract or rendering failure escape as anything but an IngestError, and it
never writes files of its own (pytesseract's scratch files go to the system temp directory).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytesseract
from PIL import Image, ImageOps
from pytesseract import Output, TesseractError, TesseractNotFoundError

from analysis.errors import IngestError
from analysis.ingest.document import Box
from analysis.interruptions import is_interruption

if TYPE_CHECKING:
    from pypdfium2 import PdfPage

# OpenMP threads fight each other on a small machine: one thread is about 3x faster on 2 cores.
if "OMP_THREAD_LIMIT" not in os.environ:
    os.environ["OMP_THREAD_LIMIT"] = "1"

# Automatic page segmentation (--psm 3): on the JINGWEI scan it reads as well as --psm 6 ("one
# uniform block"), and unlike 6 it finds columns, tables and signature blocks as separate blocks.
_CONFIG = "--oem 1 --psm 3"

# A dense page takes a few seconds; a page that takes this long is pathological, not slow.
_PAGE_TIMEOUT_S = 120

# About 50 MB of grayscale: an A3 page at 300 dpi fits, a billboard-sized page is scaled down.
_MAX_PIXELS = 50_000_000

_FAILED = "Text recognition (OCR) failed on this page."


@dataclass(frozen=True)
class OcrPage:
    # Each line's text and its box in PDF points, top-left origin, in Tesseract's reading order.
    lines: tuple[tuple[str, Box], ...]
    # Mean word confidence, 0-100; None when no word was recognised.
    mean_confidence: float | None

    @property
    def text(self) -> str:
        return "\n".join(text for text, _ in self.lines)


@functools.cache
def available() -> bool:
    """Whether the tesseract binary is installed and runs."""
    try:
        pytesseract.get_tesseract_version()
    except (Exception, SystemExit):  # pytesseract exits on a version string it cannot parse
        return False
    return True


def recognise_page(page: PdfPage, *, dpi: int = 200, language: str = "eng") -> OcrPage:
    """Render a pypdfium2 PdfPage at `dpi` and recognise it; boxes come back in PDF points."""
    width, height = page.get_size()
    # A poster-sized page at full resolution would cost gigabytes; text that large reads fine lower.
    scale = min(dpi / 72, math.sqrt(_MAX_PIXELS / max(width * height, 1.0)))
    try:
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()
    except Exception as exc:
        if is_interruption(exc):
            raise
        raise IngestError(_FAILED) from exc
    try:
        # PDFium rounds the bitmap up to whole pixels, so scale each axis by what it really drew.
        data = _tesseract(image, dpi=round(scale * 72), language=language)
        return _page_from_data(
            data,
            x_scale=image.width / width,
            y_scale=image.height / height,
            bounds=(width, height),
        )
    finally:
        image.close()
        bitmap.close()


def recognise_image(image: Image.Image, *, dpi: int, language: str = "eng") -> OcrPage:
    """Recognise a page image rendered at `dpi`; boxes come back in PDF points."""
    data = _tesseract(image, dpi=dpi, language=language)
    scale = dpi / 72
    return _page_from_data(
        data,
        x_scale=scale,
        y_scale=scale,
        bounds=(image.width / scale, image.height / scale),
    )


def _tesseract(image: Image.Image, *, dpi: int, language: str) -> dict[str, list]:
    if image.mode not in ("L", "RGB"):
        image = ImageOps.grayscale(image)
    try:
        return pytesseract.image_to_data(
            image,
            lang=language,
            config=f"{_CONFIG} --dpi {dpi}",
            output_type=Output.DICT,
            timeout=_PAGE_TIMEOUT_S,
        )
    except (TesseractError, TesseractNotFoundError, RuntimeError, OSError) as exc:
        # TimeoutError is an OSError, but it means the whole job ran out of time, not this page.
        if is_interruption(exc):
            raise
        # pytesseract reports its own timeout as a bare RuntimeError.
        raise IngestError(_FAILED) from exc


def _page_from_data(
    data: dict[str, list],
    *,
    x_scale: float,
    y_scale: float,
    bounds: tuple[float, float],
) -> OcrPage:
    # Dicts keep insertion order, so lines stay in Tesseract's reading order.
    lines: dict[tuple[int, int, int], list[tuple[str, int, int, int, int]]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word:
            continue
        left, top = int(data["left"][i]), int(data["top"][i])
        right, bottom = left + int(data["width"][i]), top + int(data["height"][i])
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append((word, left, top, right, bottom))
        confidence = float(data["conf"][i])
        if confidence >= 0:
            confidences.append(confidence)

    width, height = bounds
    result: list[tuple[str, Box]] = []
    for words in lines.values():
        box = Box(
            x0=min(w[1] for w in words) / x_scale,
            y0=min(w[2] for w in words) / y_scale,
            x1=min(max(w[3] for w in words) / x_scale, width),
            y1=min(max(w[4] for w in words) / y_scale, height),
        )
        result.append((" ".join(w[0] for w in words), box))
    mean = sum(confidences) / len(confidences) if confidences else None
    return OcrPage(lines=tuple(result), mean_confidence=mean)
