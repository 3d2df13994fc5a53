"""Single sign-on end to end: real headless Chromium, Quire's live server and a real OpenID Connect provider process
(node-oidc-provider, tests/oidc/provider.mjs, started once for the module). A first sign-in makes the account and
enters the app; an invited address that signs in through SSO from the invitation link lands back on it and joins;
an address the provider has not verified is refused with a page that says why, and no account is made."""

from __future__ import annotations

import os
import select
import shutil
import subprocess

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests import factories
from tests.conftest import REPO
from webapp.audit.models import AuditAction, AuditEvent
from webapp.settings import OIDC_PROVIDER_ID, oidc_form_action, oidc_providers
from webapp.workspaces.models import Membership
from webapp.workspaces.services import member_invite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROVIDER = REPO / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "quire-browser-tests", "a-client-secret-for-tests-only"
ID_PASSWORD = "test-id-password"  # every account's password at the test provider (tests/oidc/provider.mjs)
BUTTON = "button:has-text('Sign in with Test ID')"


def _provider_missing(reason: str):
    if os.environ.get("QUIRE_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (QUIRE_REQUIRE_BROWSER is set)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def oidc_issuer(live_server, tmp_path_factory):
    """The provider, on a free port, with Quire's callback on the live server as its client's only redirect URI."""
    node = shutil.which("node")
    if node is None:
        _provider_missing("Node.js is not installed: the SSO tests run an OpenID Connect provider on it "
                          "(make system-deps)")
    if not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test OpenID Connect provider is not installed: npm ci --prefix tests/oidc (make install does)")
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {**os.environ, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
           "OIDC_REDIRECT_URI": f"{live_server.url}/accounts/oidc/{OIDC_PROVIDER_ID}/login/callback/"}
    with log.open("w") as errors:
        process = subprocess.Popen([node, str(PROVIDER / "provider.mjs")], stdout=subprocess.PIPE, stderr=errors,
                                   text=True, env=env)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("ready http://"), f"the provider did not start: {line!r}\n{log.read_text()}"
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sso(settings, oidc_issuer):
    """This Quire configured for the provider, as QUIRE_OIDC_* would configure it (webapp/settings.py)."""
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(issuer=oidc_issuer, client_id=CLIENT_ID, secret=CLIENT_SECRET,
                                                      name="Test ID")
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives,
                                                       "form-action": ["'self'", *oidc_form_action(oidc_issuer)]}}
    return oidc_issuer


def _sign_in_at_the_provider(page, issuer: str, account: str) -> None:
    page.wait_for_url(f"{issuer}/interaction/**")
    page.fill("input[name=login]", account)
    page.fill("input[name=password]", ID_PASSWORD)
    page.click("button:has-text('Sign in to Test ID')")


def test_a_first_sso_sign_in_makes_the_account_and_enters_the_app(page, live_server, sso):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("input[name=password]").count() == 1  # local passwords still work beside SSO
    page.click(BUTTON)
    _sign_in_at_the_provider(page, sso, "sam")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(".who").inner_text() == "sam"

    user = get_user_model().objects.get(email="sam@sso.example")
    assert EmailAddress.objects.filter(user=user, email="sam@sso.example", verified=True, primary=True).exists()
    assert SocialAccount.objects.get(user=user).uid == "sam"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user).exists()
    page.fill("#id_name", "Sam's team")
    page.click("text=Create workspace")
    page.wait_for_url(f"{live_server.url}/w/**")
    assert Membership.objects.get(user=user, workspace__name="Sam's team").role == "owner"


def test_an_invited_address_signs_in_through_sso_from_the_link_and_joins(page, live_server, sso):
    owner = factories.make_user("olga")
    workspace = factories.make_workspace(owner, name="Invited team")
    invitation = member_invite(workspace=workspace, inviter=owner, email="ivy@sso.example", role="editor",
                               base_url=live_server.url)
    page.goto(invitation.url)
    page.wait_for_url(f"{live_server.url}/accounts/login/?next=**")
    page.click(BUTTON)
    _sign_in_at_the_provider(page, sso, "ivy")
    page.wait_for_url(invitation.url)  # `next` survived the round trip through the provider
    assert "Join “Invited team”" in page.locator("h1").inner_text()
    page.click("button:has-text('Accept invitation')")
    page.wait_for_url(f"{live_server.url}/w/{workspace.id}/")
    member = Membership.objects.get(workspace=workspace, user__email="ivy@sso.example")
    assert member.role == "editor" and member.user.username == "ivy"


def test_an_address_the_provider_has_not_verified_is_refused(page, live_server, sso):
    page.goto(f"{live_server.url}/accounts/login/")
    page.click(BUTTON)
    _sign_in_at_the_provider(page, sso, "uma")
    page.wait_for_url(f"{live_server.url}/accounts/oidc/{OIDC_PROVIDER_ID}/login/callback/**")
    assert page.locator("h1").inner_text() == "Sign-in refused"
    said = page.locator("[role=alert]").inner_text()
    assert "did not confirm that uma@sso.example is your verified email address" in said
    assert not get_user_model().objects.filter(email="uma@sso.example").exists()
    assert not EmailAddress.objects.filter(email="uma@sso.example").exists()
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/accounts/login/?next=/")  # not logged in
