"""Existing users keep logging in after the move to django-allauth, which lets an account in only once its address is
verified (ACCOUNT_EMAIL_VERIFICATION = "mandatory").

The previous release required an email address at sign-up, one account per address, and accepted it as it was: those
addresses were accepted by that release, so each user with one gets it as their verified, primary allauth
EmailAddress rather than a verification mail at their next log-in. Users without an address get none (allauth asks
them to add one). Two accounts could share an address only through the admin; there the oldest account keeps it
verified and the others get it unverified (allauth allows one verified owner per address), so they verify or change
it before logging in. Rows allauth already has are left alone, so running it on a database that had allauth is safe.
Reversing it removes nothing.
"""

from django.conf import settings
from django.db import migrations


def existing_users_verified_email(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    EmailAddress = apps.get_model("account", "EmailAddress")
    verified = set(EmailAddress.objects.filter(verified=True).values_list("email", flat=True))
    with_primary = set(EmailAddress.objects.filter(primary=True).values_list("user_id", flat=True))
    known = set(EmailAddress.objects.values_list("user_id", "email"))
    rows = []
    for user_id, email in User.objects.exclude(email="").order_by("pk").values_list("pk", "email").iterator(2000):
        email = (email or "").strip().lower()  # allauth keeps addresses in lower case
        if not email or (user_id, email) in known:
            continue
        rows.append(EmailAddress(user_id=user_id, email=email, verified=email not in verified,
                                 primary=user_id not in with_primary))
        verified.add(email)
        with_primary.add(user_id)
    EmailAddress.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(existing_users_verified_email, migrations.RunPython.noop, elidable=False),
    ]
