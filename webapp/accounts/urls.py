from django.urls import path

from webapp.accounts import views

urlpatterns = [
    path("tokens/", views.token_list_view, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
    path("reset/<str:uidb64>/<str:token>/", views.password_reset_legacy_view, name="password_reset_legacy"),
]
