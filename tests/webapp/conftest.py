from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login
