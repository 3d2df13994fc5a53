from django import forms

from webapp.workspaces.models import Role


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(max_length=120)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
