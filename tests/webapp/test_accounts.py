"""Accounts on django-allauth: sign-up that needs the emailed link before anything else, log-in by username or email
address, password change and reset, pages that answer alike whether or not an address has an account, TOTP after the
password, SSO-only mode, and the lockout seeing allauth's form."""

from __future__ import annotations

import re
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests import factories
from webapp.settings import oidc_providers

NEW_PASSWORD = "a-long-unusual-pass-42"


def _sign_up(client: Client, email: str):
    return client.post(reverse("account_signup"), {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


def _link(message, path: str) -> str:
    return re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", message.body).group(1)


def _logged_in(client: Client) -> bool:
    return client.get(reverse("workspaces:list")).status_code == 200


def _page_text(response) -> str:
    """What the page says, without the parts that differ on every request (CSRF tokens)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_sign_up_needs_the_emailed_link_before_entering_a_workspace(client, db):
    response = _sign_up(client, "nina@example.com")
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    assert not _logged_in(client)  # no workspace list, no workspace: sent to log in
    # Logging in with the right password is not enough either: allauth mails the link again.
    again = Client().post(reverse("account_login"), {"login": "nina", "password": NEW_PASSWORD})
    assert again["Location"] == reverse("account_email_verification_sent")

    link = _link(mail.outbox[0], "/accounts/confirm-email/")
    assert mail.outbox[0].to == ["nina@example.com"]
    assert client.get(link).status_code == 200  # a page with a button: a mail scanner's GET confirms nothing
    assert not EmailAddress.objects.get(email="nina@example.com").verified
    confirmed = client.post(link)
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email="nina@example.com").verified
    assert _logged_in(client)  # the same browser is logged in once the address is confirmed
    owner = get_user_model().objects.get(username="nina")
    factories.make_workspace(owner, name="Nina's")
    assert "Nina&#x27;s" in client.get(reverse("workspaces:list")).content.decode()


def test_sign_up_answers_alike_for_a_taken_and_a_new_address(db):
    factories.make_user("first", email="same@example.com")
    taken = _sign_up(Client(), "SAME@example.com")
    fresh = _sign_up(Client(), "third@example.com")
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    taken_page, fresh_page = (Client().get(r["Location"]) for r in (taken, fresh))
    assert _page_text(taken_page) == _page_text(fresh_page)
    assert "already exists" not in _page_text(taken_page)
    assert get_user_model().objects.filter(email__iexact="same@example.com").count() == 1  # nothing made, nothing said
    to_taken = [m for m in mail.outbox if m.to[0].lower() == "same@example.com"]
    assert len(to_taken) == 1 and "already exists" in to_taken[0].body  # the address's owner is told, by mail


def test_sign_up_asks_for_no_username_so_a_taken_one_is_never_said(db):
    """A username chosen on the form would have to be refused when taken. Sign-up asks for an address only; the
    account's username is made from it, distinct from any that exists, and the page is the one a fresh name gets."""
    factories.make_user("lou")
    taken = _sign_up(Client(), "lou@elsewhere.example")
    fresh = _sign_up(Client(), "zed@elsewhere.example")
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    assert "username" not in Client().get(reverse("account_signup")).content.decode().lower()
    made = get_user_model().objects.get(email="lou@elsewhere.example")
    assert made.username != "lou" and made.username.startswith("lou")
    assert get_user_model().objects.get(email="zed@elsewhere.example").username == "zed"


def test_password_reset_answers_alike_for_a_known_and_an_unknown_address(db):
    factories.make_user("rita")
    known = Client().post(reverse("account_reset_password"), {"email": "rita@example.com"})
    unknown = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert _page_text(Client().get(known["Location"])) == _page_text(Client().get(unknown["Location"]))
    [to_rita] = [m for m in mail.outbox if m.to == ["rita@example.com"]]
    [to_nobody] = [m for m in mail.outbox if m.to == ["nobody@example.com"]]
    assert "/accounts/password/reset/key/" in to_rita.body
    assert "/accounts/password/reset/key/" not in to_nobody.body  # told there is no account, by mail only


def test_password_reset_by_emailed_link(client, db):
    user = factories.make_user("rita")
    client.post(reverse("account_reset_password"), {"email": "rita@example.com"})
    form_page = client.get(_link(mail.outbox[0], "/accounts/password/reset/key/"), follow=True)
    assert form_page.status_code == 200 and "password1" in form_page.content.decode()
    response = client.post(form_page.redirect_chain[-1][0],
                           {"password1": "reset-long-pass-99", "password2": "reset-long-pass-99"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("reset-long-pass-99")


def test_a_reset_link_from_before_the_upgrade_says_to_ask_for_a_new_one(client, db):
    response = client.get("/accounts/reset/MQ/c4x9yz-0123456789abcdef0123456789abcdef/")
    assert response.status_code == 200
    assert "no longer works" in response.content.decode()
    assert reverse("account_reset_password") in response.content.decode()


@pytest.mark.parametrize("typed", ["lou", "lou@example.com", "LOU@Example.com"])
def test_log_in_by_username_or_email_and_log_out(client, db, typed):
    factories.make_user("lou")
    response = client.post(reverse("account_login"), {"login": typed, "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("workspaces:list")
    assert _logged_in(client)
    client.post(reverse("account_logout"))
    assert not _logged_in(client)


def test_log_in_keeps_a_next_on_this_site_and_drops_one_elsewhere(db):
    factories.make_user("lou")
    url = reverse("account_login")
    here = Client().post(f"{url}?next=/accounts/tokens/", {"login": "lou", "password": factories.PASSWORD})
    assert here["Location"] == "/accounts/tokens/"
    elsewhere = Client().post(f"{url}?next=https://evil.example/", {"login": "lou", "password": factories.PASSWORD})
    assert elsewhere["Location"] == reverse("workspaces:list")


def test_wrong_password_is_refused(client, db):
    factories.make_user("lou")
    response = client.post(reverse("account_login"), {"login": "lou", "password": "nope"})
    assert response.status_code == 200
    assert "username and/or password you specified are not correct" in response.content.decode()
    assert not _logged_in(client)


def test_password_change(client, db):
    user = factories.make_user("pat")
    client.force_login(user)
    response = client.post(reverse("account_change_password"), {
        "oldpassword": factories.PASSWORD, "password1": "another-long-pass-77", "password2": "another-long-pass-77"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-pass-77")
    assert _logged_in(client)  # changing the password keeps this session


def test_totp_is_asked_after_the_password(client, db):
    user = factories.make_user("tom")
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    response = client.post(reverse("account_login"), {"login": "tom", "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert not _logged_in(client)  # the password alone lets nobody in

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    assert not _logged_in(client)

    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    code = format_hotp_value(hotp_value(secret, counter))
    right = client.post(reverse("mfa_authenticate"), {"code": code})
    assert right.status_code == 302 and right["Location"] == reverse("workspaces:list")
    assert _logged_in(client)


def test_lockout_counts_one_account_however_its_name_is_typed(db, settings):
    """django-axes reads allauth's "login" field and resolves it to the account: three spellings, one count."""
    settings.AXES_FAILURE_LIMIT = 3
    factories.make_user("bea")
    client = Client()
    for typed in ("bea", "BEA"):
        assert client.post(reverse("account_login"), {"login": typed, "password": "guess"}).status_code == 200
    third = client.post(reverse("account_login"), {"login": "bea@example.com", "password": "guess"})
    assert third.status_code == 429 and third["Retry-After"].isdigit()
    locked = client.post(reverse("account_login"), {"login": "bea", "password": factories.PASSWORD})
    assert locked.status_code == 429
    assert not _logged_in(client)


@pytest.fixture
def sso_only(settings):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(issuer="https://id.example.com", client_id="quire",
                                                      secret="s3cret", name="Example ID")
    settings.QUIRE_SSO_ONLY = True
    return settings


def test_sso_only_mode_hides_local_log_in_sign_up_and_reset(db, sso_only):
    from webapp.api.tokens import token_create

    user = factories.make_user("sid")
    token = token_create(user=user, name="script").raw
    client = Client()
    page = client.get(reverse("account_login")).content.decode()
    assert "Sign in with Example ID" in page
    assert 'name="password"' not in page and reverse("account_reset_password") not in page
    assert reverse("account_signup") not in page  # neither on the page nor in its header
    for name in ("account_signup", "account_reset_password", "account_change_password", "account_email"):
        assert client.get(reverse(name)).status_code == 404, name
    assert _sign_up(client, "new@example.com").status_code == 404
    assert client.get("/accounts/reset/MQ/some-token/").status_code == 404
    refused = client.post(reverse("account_login"), {"login": "sid", "password": factories.PASSWORD})
    assert refused.status_code == 403 and not _logged_in(client)
    assert client.get(reverse("admin:login"))["Location"].startswith(reverse("account_login"))
    me = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "sid"  # API tokens keep working


def test_login_page_offers_sso_beside_the_password_form_when_configured(db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(issuer="https://id.example.com", client_id="quire",
                                                      secret="s3cret", name="Example ID")
    page = Client().get(reverse("account_login") + "?next=/invites/abc/").content.decode()
    assert 'name="password"' in page and "Sign in with Example ID" in page
    # The button posts to the provider's log-in URL, which carries the invitation as next.
    assert 'action="/accounts/oidc/sso/login/?process=login&amp;next=%2Finvites%2Fabc%2F"' in page


def test_no_sso_button_without_an_issuer(db):
    page = Client().get(reverse("account_login")).content.decode()
    assert "Sign in with" not in page
    assert Client().post("/accounts/oidc/sso/login/").status_code == 404


def test_an_sso_login_without_an_email_address_is_refused(rf, db, settings):
    """The browser tests (tests/browser/test_sso.py) cover an unverified address; a provider may also give none."""
    from allauth.core.exceptions import ImmediateHttpResponse
    from allauth.socialaccount.models import SocialAccount, SocialLogin
    from django.contrib.auth.models import AnonymousUser

    from webapp.accounts.adapters import SocialAccountAdapter

    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(issuer="https://id.example.com", client_id="quire",
                                                      secret="s3cret", name="Example ID")
    request = rf.get("/accounts/oidc/sso/login/callback/")
    request.user = AnonymousUser()
    sociallogin = SocialLogin(account=SocialAccount(provider="sso", uid="no-mail", extra_data={}), email_addresses=[])
    with pytest.raises(ImmediateHttpResponse) as refused:
        SocialAccountAdapter().pre_social_login(request, sociallogin)
    assert refused.value.response.status_code == 403
    assert "Example ID did not give Quire an email address" in refused.value.response.content.decode()


def test_an_account_made_outside_sign_up_verifies_its_address_at_first_log_in(db):
    """createsuperuser and the admin make accounts with no verified address: the first log-in mails the link."""
    factories.make_user("ada", verified=False)
    client = Client()
    response = client.post(reverse("account_login"), {"login": "ada", "password": factories.PASSWORD})
    assert response["Location"] == reverse("account_email_verification_sent") and not _logged_in(client)
    client.post(_link(mail.outbox[-1], "/accounts/confirm-email/"))
    assert _logged_in(client)
