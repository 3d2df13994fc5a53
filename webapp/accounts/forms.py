from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms


class LoginForm(AllauthLoginForm):
    """django-allauth's log-in form (settings.ACCOUNT_FORMS), its field labelled for what it takes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What will use it, e.g. “contract intake script”.")
