from django.urls import path

from webapp.workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("", views.workspace_list_view, name="list"),
    path("w/<uuid:workspace_id>/", views.workspace_detail_view, name="detail"),
    path("w/<uuid:workspace_id>/status.json", views.workspace_status_view, name="status"),
    path("w/<uuid:workspace_id>/members/", views.workspace_members_view, name="members"),
    path("w/<uuid:workspace_id>/members/<int:membership_id>/remove/", views.member_remove_view, name="member-remove"),
    path("w/<uuid:workspace_id>/members/<int:membership_id>/role/", views.member_role_view, name="member-role"),
    path("w/<uuid:workspace_id>/leave/", views.workspace_leave_view, name="leave"),
    path("w/<uuid:workspace_id>/delete/", views.workspace_delete_view, name="delete"),
    path("invites/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
]
