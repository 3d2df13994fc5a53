"""Account writes that are Quire's own; everything else about accounts is django-allauth's."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction


@transaction.atomic
def account_email_confirm(*, user) -> EmailAddress | None:
    """Make the user's address their verified primary one, as if they had followed the emailed link: for accounts
    an operator vouches for (the demo user of `make run`). None for a user without an address."""
    email = (user.email or "").strip().lower()
    if not email:
        return None
    EmailAddress.objects.filter(user=user, primary=True).exclude(email=email).update(primary=False)
    address, _ = EmailAddress.objects.update_or_create(user=user, email=email,
                                                       defaults={"verified": True, "primary": True})
    return address
