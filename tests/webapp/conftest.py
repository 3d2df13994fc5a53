from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def owner(db):
    return factories.make_user("olivia")


@pytest.fixture
def workspace(owner):
    return factories.make_workspace(owner, name="Acme contracts")


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login
