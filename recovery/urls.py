from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from recovery.urlshapes import object_urls
from recovery.views import (
    audit,
    auth,
    connections,
    invitations,
    launch,
    launch_templates,
    pages,
    recoveries,
    reports,
    team,
    verify,
)

urlpatterns = [
    path("", pages.home, name="home"),
    *object_urls(
        "connections/",
        "connection",
        list=connections.connection_list,
        create=connections.connection_create,
        detail=connections.connection_detail,
        edit=connections.connection_edit,
        delete=connections.connection_delete,
    ),
    path("connections/<int:pk>/test/", connections.connection_test, name="connection-test"),
    path(
        "connections/<int:pk>/inventory/",
        connections.connection_inventory,
        name="connection-inventory",
    ),
    path("connections/<int:pk>/share/", connections.connection_share, name="connection-share"),
    path(
        "connections/<int:pk>/shares/<int:share_pk>/remove/",
        connections.connection_unshare,
        name="connection-unshare",
    ),
    path(
        "connections/<int:pk>/exports/", connections.connection_exports, name="connection-exports"
    ),
    # A share offered to the current team: its admins accept or decline it (or stop using it).
    path("shares/<int:pk>/accept/", connections.share_accept, name="share-accept"),
    path("shares/<int:pk>/decline/", connections.share_decline, name="share-decline"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/chain/", audit.audit_chain_status, name="audit-chain"),
    path("reports/", reports.report, name="reports"),
    path("launch/", launch.launch_start, name="launch"),
    # Before launch/<step>/ and recoveries/<pk>/<action>/, which would take them.
    path("launch/templates/", launch_templates.template_list, name="launch-templates"),
    path("launch/templates/new/", launch_templates.template_save, name="launch-template-save"),
    path(
        "launch/templates/<int:pk>/use/",
        launch_templates.template_use,
        name="launch-template-use",
    ),
    path(
        "launch/templates/<int:pk>/delete/",
        launch_templates.template_delete,
        name="launch-template-delete",
    ),
    path(
        "recoveries/<int:pk>/launch-again/",
        launch_templates.recovery_launch_again,
        name="recovery-launch-again",
    ),
    path(
        "batches/<int:pk>/launch-again/",
        launch_templates.batch_launch_again,
        name="batch-launch-again",
    ),
    path("launch/<slug:step>/", launch.launch_wizard, name="launch-step"),
    path("recoveries/<int:pk>/", recoveries.recovery_detail, name="recovery-detail"),
    # Before the actions' pattern, which would take "proof" for an action's name.
    path("recoveries/<int:pk>/proof/", verify.recovery_proof, name="verify-proof"),
    path("recoveries/<int:pk>/proof.json", verify.recovery_proof_json, name="verify-proof-json"),
    path("recoveries/<int:pk>/proof.pdf", verify.recovery_proof_pdf, name="verify-proof-pdf"),
    path("batches/<int:pk>/", recoveries.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/<slug:action>/", recoveries.batch_action, name="batch-action"),
    path(
        "recoveries/<int:pk>/<slug:action>/",
        recoveries.recovery_action,
        name="recovery-action",
    ),
    path("team/", team.team_detail, name="team"),
    path("team/invite/", team.invite_member, name="team-invite"),
    path("team/members/<int:pk>/role/", team.change_role, name="team-member-role"),
    path("team/members/<int:pk>/remove/", team.remove_member, name="team-member-remove"),
    path("team/invitations/<int:pk>/link/", team.invitation_link, name="team-invitation-link"),
    path(
        "team/invitations/<int:pk>/revoke/",
        team.invitation_revoke,
        name="team-invitation-revoke",
    ),
    # The invited person's side: their open invitations, and the one-time link.
    path("invitations/", invitations.invitation_list, name="invitations"),
    path("invitations/<int:pk>/accept/", invitations.invitation_accept, name="invitation-accept"),
    path(
        "invitations/<int:pk>/decline/",
        invitations.invitation_decline,
        name="invitation-decline",
    ),
    path("invitations/join/<str:secret>/", invitations.invitation_join, name="invitation-join"),
    path("teams/switch/", team.switch, name="team-switch"),
    path("notifications/", include("recovery.notifications.urls")),
    path("drills/", include("recovery.drills.urls")),
    # Accounts: Django's views with our templates.
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # The JSON API (recovery.api) and the page where members manage their API tokens.
    path("api/v1/", include("recovery.api.urls")),
    path("account/tokens/", include("recovery.api.ui_urls")),
    # Superusers only (recovery.admin_site); django-rq's queue pages live inside it.
    path("admin/", admin.site.urls),
]
