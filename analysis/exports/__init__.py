"""Exports of a report (one analysis of one document) to what a legal or finance team sends on.

Every format renders the same plain dict, the JSON export (`schema.REPORT_SCHEMA`, versioned), so they cannot
disagree: the PDF, the DOCX, the Markdown and the CSV hold the same findings, quotes, pages, comments and review
states. Django-free; the web app builds the dict with the page's filters and permissions applied.
"""

from analysis.exports.formats import FORMATS, ExportFormat, render
from analysis.exports.schema import REPORT_SCHEMA, SCHEMA_VERSION, validate

__all__ = ["FORMATS", "ExportFormat", "REPORT_SCHEMA", "SCHEMA_VERSION", "render", "validate"]
