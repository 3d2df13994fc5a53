from django.urls import path

from webapp.accounts import views

urlpatterns = [
    path("signup/", views.signup_view, name="signup"),
    path("tokens/", views.token_list_view, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
]
