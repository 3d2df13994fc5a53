"""The report page's cached parts (webapp/reports/page_cache.py): what one reader changes, the next sees at once;
what differs between readers (their CSRF token, what their role lets them do) is never served from another's part;
and a cache that cannot be reached costs a render, not the page."""

from __future__ import annotations

import re

from django.test import Client, override_settings
from django.urls import reverse

from tests import factories
from tests.webapp.test_analyses import _ready_with_analysis, scripted  # noqa: F401 - the fixture
from webapp.reports.models import Finding
from webapp.reports.page_cache import CSRF_PLACEHOLDER


def _page(client: Client, document, **query) -> str:
    response = client.get(reverse("reports:detail", args=[document.id]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_comment_and_a_review_state_show_on_the_next_view_of_a_cached_page(scripted, workspace, owner, login):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    client = login(owner)
    before = _page(client, document)
    assert "Checked against the signed copy" not in before and f'id="finding-{law.pk}"' in before
    assert client.post(reverse("reports:finding_comment", args=[law.pk]),
                       {"text": "Checked against the signed copy."}).status_code == 302
    after = _page(client, document)
    assert "Checked against the signed copy." in after
    assert client.post(reverse("reports:finding_review", args=[law.pk]), {"state": "disputed"}).status_code == 302
    assert "review-state state-disputed" in _page(client, document)


def test_each_reader_posts_with_their_own_token_from_the_same_cached_part(scripted, workspace, owner):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    editor = factories.make_user("eddie")
    factories.add_member(workspace, editor, "editor")
    for reader, text in ((owner, "First reader's note."), (editor, "Second reader's note.")):
        client = Client(enforce_csrf_checks=True)
        client.force_login(reader)
        page = _page(client, document)
        assert CSRF_PLACEHOLDER not in page
        token = _form_token(page, reverse("reports:finding_comment", args=[law.pk]))
        refused = client.post(reverse("reports:finding_comment", args=[law.pk]), {"text": "no token"})
        assert refused.status_code == 403  # the check is on: the token below is what makes the difference
        posted = client.post(reverse("reports:finding_comment", args=[law.pk]),
                             {"text": text, "csrfmiddlewaretoken": token})
        assert posted.status_code == 302, f"{reader}: the page's token was refused"
    assert list(law.comments.order_by("created_at").values_list("text", flat=True)) == [
        "First reader's note.", "Second reader's note."]


def test_what_a_role_may_do_is_not_served_from_another_roles_part(scripted, workspace, owner, login):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    viewer = factories.make_user("vik")
    factories.add_member(workspace, viewer, "viewer")
    review_form = f'action="{reverse("reports:finding_review", args=[law.pk])}"'
    assert review_form in _page(login(owner), document)  # drawn and cached for an owner first
    as_viewer = _page(login(viewer), document)
    assert review_form not in as_viewer and f'id="finding-{law.pk}"' in as_viewer
    assert review_form in _page(login(owner), document)


def test_an_unreachable_cache_costs_a_render_not_the_page(scripted, workspace, owner, login, caplog):  # noqa: F811
    document, analysis = _ready_with_analysis(workspace, scripted)
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    dead = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0",
                        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    with override_settings(CACHES=dead):
        page = _page(login(owner), document)
    assert f'id="finding-{law.pk}"' in page and 'class="doc-page"' in page and "First pass" in page
    assert "report page cache unreachable" in caplog.text


def _form_token(html: str, action: str) -> str:
    """The token in the form posting to `action` (a form drawn inside a cached part)."""
    form = re.search(r'<form method="post" action="' + re.escape(action) + r'">(.*?)</form>', html, re.S).group(1)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
