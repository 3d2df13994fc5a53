from django.urls import path

from webapp.obligations import views

app_name = "obligations"

urlpatterns = [
    path("w/<uuid:workspace_id>/calendar/", views.calendar_view, name="calendar"),
    path("w/<uuid:workspace_id>/calendar/feed/", views.feed_create_view, name="feed_create"),
    path("w/<uuid:workspace_id>/calendar/feed/revoke/", views.feed_revoke_view, name="feed_revoke"),
    path("feeds/<str:token>.ics", views.feed_view, name="feed"),
]
