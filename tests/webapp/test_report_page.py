"""The report page's first screen (the document's name, then the findings by risk or the first pass, the ingestion
facts folded away), its document pane (text page by page, passages marked and tied to their findings, a window of
pages at a time) and the workspace page's search, filters and retry."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests import factories
from tests.webapp.test_analyses import _ready_with_analysis, scripted  # noqa: F401 - the fixture
from tests.webapp.test_analyses import TEXT, _uploaded
from webapp.documents.models import Document, DocumentPage, DocumentStatus
from webapp.reports.models import Finding
from webapp.reports.presenters.document_pane import PAGES_PER_WINDOW, Span, _segments, document_pane, pane_window
from webapp.reports.presenters.findings import RiskCount, risk_counts


def _side_pane(html: str) -> str:
    return html[html.index('<div class="side-pane">'):]


def _headings(html: str) -> list[str]:
    """The text of each h2, tags and runs of spaces dropped."""
    return [" ".join(re.sub(r"<[^>]+>", "", h).split()) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.S)]


def test_a_ready_analysis_opens_the_side_pane_with_its_findings_counted_by_risk(
        scripted, workspace, owner, login, django_assert_num_queries):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    for item, present, risk in (("parties", True, "none"), ("governing_law", True, "high"),
                                ("anti_assignment", False, "high")):  # an absent finding is not counted
        Finding.objects.filter(analysis=analysis, item=item).update(present=present, risk=risk)
    for n, risk in enumerate(("low", "low", "high")):
        Finding.objects.create(analysis=analysis, position=10 + n, item=f"extra_{n}", category=f"Extra {n}",
                               present=True, answer="", risk=risk)
    with django_assert_num_queries(1):
        counted = risk_counts(findings=analysis.findings.all())
    assert counted == (RiskCount("high", 2), RiskCount("medium", 0), RiskCount("low", 2), RiskCount("none", 1))

    client = login(owner)
    url = reverse("reports:detail", args=[document.id])
    html = client.get(url).content.decode()
    side = _side_pane(html)
    assert _headings(side)[0] == "Findings by risk"
    opens = side.index('<p class="risk-summary"')
    summary = side[opens:side.index("</p>", opens)]
    links = re.findall(r'<a href="\?analysis=([^&]+)&amp;risk=(\w+)#analysis"[^>]*><strong>(\d+)</strong>',
                       summary)
    assert [(level, int(n)) for _, level, n in links] == [("high", 2), ("medium", 0), ("low", 2), ("none", 1)]
    assert {shown for shown, _, _ in links} == {str(analysis.id)}
    # Below the findings, riskiest first: the runs and the run-a-playbook form, then the first pass.
    shown = re.findall(r'<li class="finding (risk-\w+)', side)
    assert shown[:2] == ["risk-high", "risk-high"] and shown[-1] == "risk-high"  # the absent one last
    assert side.index('<ol class="findings">') < side.index('id="analyses"') < side.index('id="first-pass"')
    assert (side.index('id="analyses"') < side.index('class="analysis-run shown"')
            < side.index('class="filters run-playbook"'))
    title = escape(analysis.playbook_title)
    assert f"reviewed by <strong>scripted-test-double</strong> with <strong>{title}</strong>" in html

    only_high = client.get(url, {"analysis": str(analysis.id), "risk": "high"}).content.decode()
    assert only_high.count('<li class="finding ') == 3
    assert 'data-risk="high" aria-current="true"' in only_high and "all risks</a>" in only_high


def test_without_an_analysis_the_first_pass_comes_before_the_model_analysis(workspace, owner, login):
    document = _uploaded(workspace, TEXT)  # no engine configured: the first pass only
    assert not document.analyses.exists()
    html = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    side = _side_pane(html)
    assert _headings(side)[:2] == ["First pass (read without a language model)", "Model analysis"]
    assert side.index('id="first-pass"') < side.index('id="analyses"') < side.index('id="followups"')
    assert "Key terms" in side[:side.index('id="analyses"')] and "risk-summary" not in html
    subtitle = re.search(r'<p class="doc-subtitle">(.*?)</p>', html, re.S).group(1)
    subtitle = " ".join(re.sub(r"<[^>]+>", "", subtitle).split())
    assert subtitle == "Contract · 1 page · first pass only: no language model has read it yet"
    assert "No language model has read this document yet" in html


def test_the_ingestion_facts_are_a_closed_details_section_and_the_heading_is_the_document(workspace, owner, login):
    hostile = '<img src=x onerror=alert(1)> terms.txt'
    document = factories.make_document(workspace, content=TEXT.encode(), status=DocumentStatus.QUEUED,
                                       original_name=hostile)
    from webapp.pipeline.ingest import document_ingest
    from webapp.pipeline.reading import report_generate

    document_ingest(document_id=document.id)
    report_generate(document_id=document.id)
    html = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    [h1] = re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert h1 == "&lt;img src=x onerror=alert(1)&gt; terms.txt" and "<img src=x" not in html
    assert html.count("Ingestion facts") == 1 and '<details class="ingestion-facts">' in html  # no open attribute
    opens = html.index('<details class="ingestion-facts">')
    folded = html[opens:html.index("</details>", opens)]
    assert "<summary>Ingestion facts</summary>" in folded
    assert "<dt>Estimated tokens (characters ÷ 4)</dt>" in folded and "Generated " in folded
    assert html.count("<dt>Estimated tokens") == 1  # the facts are drawn once, inside it
    assert html.index('id="followups"') < html.index('class="ingestion-facts"')  # after the side pane's content


def test_segments_split_at_every_span_boundary_and_keep_overlaps():
    text = "0123456789"
    spans = [Span(2, 6, "a1", "finding", "finding-1"), Span(4, 8, "fp0", "first-pass")]
    segments = _segments(text, 0, 10, spans)
    assert [(s.text, s.keys) for s in segments] == [
        ("01", ()), ("23", ("a1",)), ("45", ("a1", "fp0")), ("67", ("fp0",)), ("89", ())]
    assert segments[2].css == "hl-finding hl-first-pass" and segments[2].findings == ("finding-1",)
    assert "".join(s.text for s in segments) == text  # nothing lost or doubled


def test_the_pane_shows_a_window_of_pages_and_the_pager_reaches_every_window():
    class Row:
        def __init__(self, number):
            self.number, self.start, self.end, self.estimated = number, (number - 1) * 10, number * 10, False

    text = "".join(f"page {n:04d}." for n in range(1, 31))
    pane = document_pane(text=text, pages=[Row(n) for n in range(1, 31)], window=pane_window("14", 30), spans=[])
    assert (pane.window.first, pane.window.last, pane.window.total) == (13, 24, 30)
    assert [p.number for p in pane.pages] == list(range(13, 25)) and len(pane.pages) == PAGES_PER_WINDOW
    assert pane.window.window_starts == (1, 13, 25)
    assert pane_window("junk", 30).first == 1


def test_quotes_and_their_marked_passages_point_at_each_other(scripted, workspace, owner, login):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    page = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    law = analysis.findings.get(item="governing_law")
    anchor = law.anchors.get(verified=True)
    marks = re.findall(r'<mark class="([^"]+)" data-keys="([^"]+)" data-findings="([^"]+)" data-findings-pages="([^"]+)">'
                       r'(.*?)</mark>', page, re.S)
    marked = {key: (css, findings, pages, words) for css, keys, findings, pages, words in marks for key in keys.split()}
    css, findings, pages, words = marked[f"a{anchor.pk}"]
    assert "hl-finding" in css and findings == f"finding-{law.pk}" and pages == "1"
    assert " ".join(words.split()) == "governed by the laws of the State of New York"
    assert f'id="finding-{law.pk}"' in page and f'data-key="a{anchor.pk}"' in page and "js/report.js" in page
    assert page.count('class="doc-page"') == DocumentPage.objects.filter(document=document).count()
    assert "Keys: j / k" in page and 'id="toggle-first-pass"' in page


def test_document_text_is_escaped_in_the_pane(scripted, workspace, owner, login):  # noqa: F811
    body = "Agreement.\n<script>alert('x')</script> <img src=x onerror=alert(1)> governed by the laws of New York.\n"
    document = factories.make_document(workspace, content=body.encode(), status=DocumentStatus.QUEUED)
    from webapp.pipeline.ingest import document_ingest
    from webapp.pipeline.reading import report_generate

    document_ingest(document_id=document.id)
    report_generate(document_id=document.id)
    page = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "<img src=x" not in page


def test_workspace_page_searches_filters_and_retries(scripted, workspace, owner, login):  # noqa: F811
    ready, _ = _ready_with_analysis(workspace, scripted)
    failed = factories.make_document(workspace, content=b"broken", status=DocumentStatus.FAILED,
                                     original_name="broken-scan.pdf", error_message="The file is damaged.")
    client = login(owner)
    url = reverse("workspaces:detail", args=[workspace.id])
    page = client.get(url).content.decode()
    assert ready.original_name in page and "broken-scan.pdf" in page and "The file is damaged." in page
    assert "Retry" in page and "olivia" in page  # who uploaded (the failed one has no uploader)
    assert "broken-scan.pdf" not in client.get(url, {"name": "doc-"}).content.decode()
    only_failed = client.get(url, {"status": "failed"}).content.decode()
    assert "broken-scan.pdf" in only_failed and ready.original_name not in only_failed
    by_playbook = client.get(url, {"playbook": "contract"}).content.decode()
    assert ready.original_name in by_playbook and "broken-scan.pdf" not in by_playbook
    assert "No documents match these filters." in client.get(url, {"playbook": "report"}).content.decode()

    viewer, stranger = factories.make_user("vi"), factories.make_user("st")
    factories.add_member(workspace, viewer, "viewer")
    retry = reverse("documents:retry", args=[failed.id])
    assert login(stranger).post(retry).status_code == 404
    assert login(viewer).post(retry).status_code == 403
    assert login(owner).post(retry, {"next": "workspace"})["Location"] == url
    failed.refresh_from_db()
    assert (failed.status, failed.error_message, failed.progress) == (DocumentStatus.QUEUED, "", 0)
    assert login(owner).post(reverse("documents:retry", args=[ready.id])).status_code == 302  # not failed: a message
    assert Document.objects.get(pk=ready.pk).status == DocumentStatus.READY


@pytest.mark.parametrize("fmt", ["json"])
def test_export_links_carry_the_pages_filters(scripted, workspace, owner, login, fmt):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    page = login(owner).get(reverse("reports:detail", args=[document.id]), {"risk": "low", "verified": "1"}).content.decode()
    link = reverse("reports:analysis_export", args=[analysis.id, fmt])
    assert f'href="{link}?risk=low&amp;verified=1"' in page


def test_pdf_page_images_are_drawn_cached_and_served_only_to_members(workspace, owner, login, corpus, settings, tmp_path):
    from webapp.pipeline.ingest import document_ingest

    settings.VAR_DIR = tmp_path
    path = corpus / "contracts_cuad" / "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF"
    document = factories.make_document_from_file(workspace, path, "pdf")
    document_ingest(document_id=document.id)
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.READY)
    client = login(owner)
    url = reverse("documents:page_image", args=[document.id, 2])
    first = client.get(url)
    body = b"".join(first.streaming_content)
    assert first.status_code == 200 and first["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    assert first["Cache-Control"].startswith("private") and first["ETag"]
    assert list((tmp_path / "cache" / "page-images" / str(document.id)).glob("2-*.png"))  # drawn once, kept
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get(reverse("documents:page_image", args=[document.id, 999])).status_code == 404
    stranger = factories.make_user("nosy")
    assert login(stranger).get(url).status_code == 404
    text_doc = factories.make_document(workspace, content=b"plain text")
    assert login(owner).get(reverse("documents:page_image", args=[text_doc.id, 1])).status_code == 404


def test_findings_come_fifty_a_page_and_the_pane_marks_every_page_of_them(scripted, workspace, owner, login):  # noqa: F811
    from webapp.reports.models import Anchor, Finding

    document, analysis = _ready_with_analysis(workspace, scripted)
    text = Document.objects.get(pk=document.pk).text
    for n in range(117):
        extra = Finding.objects.create(analysis=analysis, position=10 + n, item=f"extra_{n}", category=f"Extra {n:03d}",
                                       present=True, answer="", risk="none")
        Anchor.objects.create(finding=extra, position=0, quote=text[:20], verified=True, start=0, end=20, pages=[1])
    client = login(owner)
    url = reverse("reports:detail", args=[document.id])
    first = client.get(url).content.decode()
    assert first.count('<li class="finding ') == 50 and "120 findings, 50 a page" in first
    last = client.get(url, {"fpage": "3"}).content.decode()
    assert last.count('<li class="finding ') == 20
    # The pane is the same whichever findings page is shown, and each mark names the findings page of each of its
    # findings, so a click on one that page 3 does not show can go to the page that does.
    assert _document_pages(first) == _document_pages(last)
    page_of = {}
    for findings, pages in re.findall(r'data-findings="([^"]+)" data-findings-pages="([^"]+)"', last):
        page_of.update(zip(findings.split(), map(int, pages.split())))
    assert len(page_of) == analysis.findings.filter(anchors__verified=True).distinct().count()  # every one of them
    for number, html in ((1, first), (3, last)):
        shown = re.findall(r'<li class="finding [^"]*" id="(finding-\d+)"', html)
        assert all(page_of[f] == number for f in shown if f in page_of)
    assert {page_of[f] for f in page_of} == {1, 2, 3}
    assert client.get(url, {"fpage": "999"}).status_code == 200 and client.get(url, {"fpage": "x"}).status_code == 200


def _document_pages(html: str) -> str:
    return html[html.index('<article class="doc-page"'):html.rindex("</article>")]
