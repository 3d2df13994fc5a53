import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests import factories


def test_sign_up_logs_the_new_user_in(client, db):
    response = client.post(
        reverse("signup"),
        {"username": "nina", "email": "nina@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
    )
    assert response.status_code == 302
    assert client.get(reverse("workspaces:list")).context["user"].username == "nina"


def test_sign_up_refuses_an_email_already_in_use(client, db):
    factories.make_user("first", email="same@example.com")
    response = client.post(
        reverse("signup"),
        {"username": "second", "email": "SAME@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not get_user_model().objects.filter(username="second").exists()


def test_sign_up_ignores_a_next_url_on_another_host(client, db):
    response = client.post(
        reverse("signup") + "?next=https://evil.example/",
        {"username": "nina", "email": "nina@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
    )
    assert response["Location"] == reverse("workspaces:list")


def test_log_in_and_log_out(client, db):
    factories.make_user("lou")
    response = client.post(reverse("login"), {"username": "lou", "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("workspaces:list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("workspaces:list")).status_code == 302


def test_wrong_password_is_refused(client, db):
    factories.make_user("lou")
    response = client.post(reverse("login"), {"username": "lou", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_password_change(client, db):
    user = factories.make_user("pat")
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": factories.PASSWORD, "new_password1": "another-long-pass-77", "new_password2": "another-long-pass-77"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-pass-77")


def test_password_reset_by_emailed_link(client, db):
    user = factories.make_user("rita")
    client.post(reverse("password_reset"), {"email": "rita@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "reset-long-pass-99", "new_password2": "reset-long-pass-99"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("reset-long-pass-99")
