from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from recovery.urlshapes import object_actions, object_urls
from recovery.views import (
    audit,
    auth,
    connection_shares,
    connections,
    invitations,
    language,
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
    *object_actions(
        "connections/",
        "connection",
        test=connections.connection_test,
        inventory=connections.connection_inventory,
        share=connection_shares.connection_share,
        exports=connections.connection_exports,
    ),
    path(
        "connections/<int:pk>/shares/<int:share_pk>/remove/",
        connection_shares.connection_unshare,
        name="connection-unshare",
    ),
    # A share offered to the current team: its admins accept or decline it (or stop using it).
    *object_actions(
        "shares/",
        "share",
        accept=connection_shares.share_accept,
        decline=connection_shares.share_decline,
    ),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/chain/", audit.audit_chain_status, name="audit-chain"),
    path("reports/", reports.report, name="reports"),
    path("launch/", launch.launch_start, name="launch"),
    # Before launch/<step>/ and recoveries/<pk>/<action>/, which would take them.
    path("launch/templates/", launch_templates.template_list, name="launch-templates"),
    path("launch/templates/new/", launch_templates.template_save, name="launch-template-save"),
    *object_actions(
        "launch/templates/",
        "launch-template",
        use=launch_templates.template_use,
        delete=launch_templates.template_delete,
    ),
    *object_actions("recoveries/", "recovery", launch_again=launch_templates.recovery_launch_again),
    *object_actions("batches/", "batch", launch_again=launch_templates.batch_launch_again),
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
    *object_actions(
        "team/members/", "team-member", role=team.change_role, remove=team.remove_member
    ),
    *object_actions(
        "team/invitations/",
        "team-invitation",
        link=team.invitation_link,
        revoke=team.invitation_revoke,
    ),
    # The invited person's side: their open invitations, and the one-time link.
    path("invitations/", invitations.invitation_list, name="invitations"),
    *object_actions(
        "invitations/",
        "invitation",
        accept=invitations.invitation_accept,
        decline=invitations.invitation_decline,
    ),
    path("invitations/join/<str:secret>/", invitations.invitation_join, name="invitation-join"),
    path("teams/switch/", team.switch, name="team-switch"),
    path("language/", language.choose_language, name="language"),
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
