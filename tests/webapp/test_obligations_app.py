"""Obligations in the app: the reading step stores the dates a contract sets with their passages; the workspace
calendar lists them (upcoming first, by kind and document); a member's private ICS feed, reopened with the icalendar
package, holds every one with a link to its passage; a wrong, revoked or orphaned token answers 404."""

from __future__ import annotations

from datetime import date
from io import StringIO

import icalendar
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests import factories
from webapp.documents.models import Document
from webapp.obligations.models import CalendarFeed, Obligation
from webapp.obligations.selectors import obligations_for_workspace
from webapp.obligations.services import feed_create
from webapp.pipeline import ingest, reading
from webapp.workspaces.models import Membership

ABILITY = "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT"


@pytest.fixture
def ability(workspace, corpus) -> Document:
    document = factories.make_document_from_file(workspace, corpus / "contracts_cuad" / f"{ABILITY}.txt", "text")
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    return Document.objects.get(pk=document.pk)


def test_reading_a_contract_stores_its_dates_each_with_the_passage_it_comes_from(ability):
    found = {o.kind: o for o in Obligation.objects.filter(document=ability)}
    assert (found["effective"].date, found["expiry"].date) == (date(2019, 11, 1), date(2020, 12, 31))
    expiry = found["expiry"]
    assert ability.text[expiry.start:expiry.end] == expiry.text and "December 31, 2020" in expiry.text
    assert expiry.derivation and expiry.passages[0]["start"] == expiry.start


def test_the_calendar_lists_upcoming_then_past_and_filters_by_kind(client, owner, workspace, ability):
    rows = obligations_for_workspace(user=owner, workspace=workspace, today=date(2020, 1, 1))
    assert [(r.kind, r.date) for r in rows] == [("expiry", date(2020, 12, 31))]
    past = obligations_for_workspace(user=owner, workspace=workspace, past=True, today=date(2020, 1, 1))
    assert [r.kind for r in past] == ["effective"]
    client.force_login(owner)
    url = reverse("obligations:calendar", args=[workspace.id])
    body = client.get(url, {"when": "past", "kind": "effective"}).content.decode()
    assert "2019-11-01" in body and "2020-12-31" not in body
    assert f'href="/d/{ability.id}/report/' in body


def test_a_members_feed_reopens_as_a_calendar_with_every_date_and_a_link_to_its_passage(client, owner, workspace, ability):
    created = feed_create(workspace=workspace, user=owner)
    assert created.feed.last_used_at is None
    response = client.get(reverse("obligations:feed", args=[created.token]))  # no session: the token is the key
    created.feed.refresh_from_db()
    assert created.feed.last_used_at is not None  # the calendar page says when a program last fetched it
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert response["Cache-Control"] == "private, no-store"
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["categories"].cats[0]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"effective", "expiry"}
    expiry = events["expiry"]
    assert expiry.decoded("dtstart") == date(2020, 12, 31)
    assert str(expiry["url"]).startswith(f"http://testserver/d/{ability.id}/report/")
    assert "December 31, 2020" in str(expiry["description"])
    assert CalendarFeed.objects.get(pk=created.feed.pk).last_used_at is not None


def test_a_wrong_revoked_or_orphaned_feed_token_is_404(client, owner, workspace, ability):
    editor = factories.make_user("eli")
    membership = factories.add_member(workspace, editor, "editor")
    first = feed_create(workspace=workspace, user=editor)
    second = feed_create(workspace=workspace, user=editor)  # a new address: the old one stops
    assert client.get(reverse("obligations:feed", args=[first.token])).status_code == 404
    assert client.get(reverse("obligations:feed", args=[second.token])).status_code == 200
    assert client.get(reverse("obligations:feed", args=[second.token[:-2] + "xx"])).status_code == 404
    Membership.objects.filter(pk=membership.pk).delete()  # they left the workspace
    assert client.get(reverse("obligations:feed", args=[second.token])).status_code == 404
    own = feed_create(workspace=workspace, user=owner)
    client.force_login(owner)
    client.post(reverse("obligations:feed_revoke", args=[workspace.id]))
    assert client.get(reverse("obligations:feed", args=[own.token])).status_code == 404
    assert not CalendarFeed.objects.filter(token_hash__contains=own.token).exists()  # only the hash is kept


def test_outsiders_see_no_calendar_and_cannot_make_a_feed_of_it(client, workspace, ability):
    outsider = factories.make_user("omar")
    client.force_login(outsider)
    assert client.get(reverse("obligations:calendar", args=[workspace.id])).status_code == 404
    assert client.post(reverse("obligations:feed_create", args=[workspace.id])).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_the_api_lists_a_workspaces_obligations_for_members_only(client, owner, workspace, ability):
    client.force_login(owner)
    url = reverse("api:obligation-list", args=[workspace.id])
    listed = client.get(url, {"when": "all"}).json()
    assert [(o["kind"], o["date"]) for o in listed["results"]] == [("effective", "2019-11-01"), ("expiry", "2020-12-31")]
    expiry = listed["results"][1]
    assert ability.text[expiry["start"]:expiry["end"]] == expiry["text"] and expiry["url"].startswith(f"/d/{ability.id}/report/")
    assert [o["kind"] for o in client.get(url, {"when": "all", "kind": "expiry"}).json()["results"]] == ["expiry"]
    client.force_login(factories.make_user("oscar"))
    assert client.get(url).status_code == 404


def test_obligations_refresh_fills_documents_read_before_obligations_were_stored(ability, owner, workspace):
    """An upgrade leaves documents read by the previous version with no obligations: the command reads them again,
    leaves those that have some alone unless --all, and keeps to the workspace it is given."""
    before = sorted(Obligation.objects.filter(document=ability).values_list("kind", "date", "start", "end"))
    assert before
    other = factories.make_workspace(owner, name="Elsewhere")
    Obligation.objects.filter(document=ability).delete()
    out = StringIO()
    call_command("obligations_refresh", "--workspace", str(other.id), stdout=out)
    assert not Obligation.objects.filter(document=ability).exists() and "0 documents read" in out.getvalue()
    call_command("obligations_refresh", "--workspace", str(workspace.id), stdout=out)
    assert sorted(Obligation.objects.filter(document=ability).values_list("kind", "date", "start", "end")) == before
    first_ids = set(Obligation.objects.values_list("pk", flat=True))
    call_command("obligations_refresh", stdout=out)  # nothing lacks obligations now: nothing is read again
    assert set(Obligation.objects.values_list("pk", flat=True)) == first_ids
    call_command("obligations_refresh", "--all", stdout=out)  # --all reads it again: new rows, the same dates
    assert set(Obligation.objects.values_list("pk", flat=True)).isdisjoint(first_ids)
    assert sorted(Obligation.objects.filter(document=ability).values_list("kind", "date", "start", "end")) == before
    with pytest.raises(CommandError, match="Not a workspace id"):
        call_command("obligations_refresh", "--workspace", "nope")
