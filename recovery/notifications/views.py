"""The Notifications page (managers and admins): channels, thresholds, test, delivery log."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from platforms import outbound
from recovery import audit
from recovery.models import AuditAction, Role
from recovery.notifications.events import emit
from recovery.notifications.forms import ChannelForm, TeamSettingsForm
from recovery.notifications.models import Channel, DeliveryAttempt, EventType, TeamSettings
from recovery.tenancy import SignedInRequest, current_team, get_for_team, team_view
from recovery.texts import Text
from recovery.views.responses import delete_audited

LOG_PAGE_SIZE = 50
# Audit actions (free-form strings: AuditAction is the recovery app's list).
CHANNEL_CREATE = AuditAction.NOTIFICATION_CHANNEL_CREATE
CHANNEL_UPDATE = AuditAction.NOTIFICATION_CHANNEL_UPDATE
CHANNEL_DELETE = AuditAction.NOTIFICATION_CHANNEL_DELETE
CHANNEL_TEST = AuditAction.NOTIFICATION_TEST
SETTINGS_UPDATE = AuditAction.NOTIFICATION_SETTINGS


def _audit_data(channel: Channel) -> dict:
    """What the audit row says about a channel: never the secret, nor a URL path (it can
    carry a token), nor the addresses themselves."""
    data = {"kind": channel.kind, "events": channel.events, "enabled": channel.enabled}
    if channel.kind == Channel.Kind.WEBHOOK:
        data["host"] = outbound.safe_host(channel.url)  # never its user info
    else:
        data["recipients"] = len(channel.recipient_list())
    return data


@team_view(role=Role.MANAGER)
def notifications_page(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    latest = (
        DeliveryAttempt.objects.filter(delivery__channel=OuterRef("pk"))
        .order_by("-time", "-id")
        .values("pk")[:1]
    )
    channels = list(Channel.objects.filter(team=team).annotate(last_attempt_id=Subquery(latest)))
    attempts = DeliveryAttempt.objects.in_bulk(
        [c.last_attempt_id for c in channels if c.last_attempt_id]
    )
    for channel in channels:
        channel.last_attempt = attempts.get(channel.last_attempt_id)  # type: ignore[attr-defined]
    context = {
        "team": team,
        "channels": channels,
        "settings_form": TeamSettingsForm(instance=TeamSettings.for_team(team)),
    }
    return render(request, "notifications/notifications.html", context)


@require_POST
@team_view(role=Role.MANAGER)
def team_settings(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    form = TeamSettingsForm(request.POST, instance=TeamSettings.for_team(team))
    if not form.is_valid():
        channels = list(Channel.objects.filter(team=team))
        context = {"team": team, "channels": channels, "settings_form": form}
        return render(request, "notifications/notifications.html", context, status=400)
    saved = form.save()
    audit.record(
        SETTINGS_UPDATE, team=team, request=request, obj=saved, object_type="teamsettings",
        message=Text(
            "Notification thresholds: merge stalled after %(merge)s min, other steps waiting "
            "after %(waiting)s min, running from backup too long after %(backup)s h, backups "
            "too old after %(age)s h",
            merge=saved.merge_stalled_minutes, waiting=saved.waiting_minutes,
            backup=saved.running_from_backup_hours, age=saved.backup_max_age_hours,
        ),
        data={"changed_fields": sorted(form.changed_data)},
    )  # fmt: skip
    messages.success(request, _("Thresholds saved."))
    return redirect("notifications")


def _kind(request: HttpRequest) -> str:
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    if kind not in Channel.Kind.values:
        raise Http404(_("Unknown channel kind"))
    return kind


@team_view(role=Role.MANAGER)
def channel_create(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    kind = _kind(request)
    form = ChannelForm(request.POST or None, team=team, kind=kind)
    if request.method == "POST" and form.is_valid():
        channel = form.save(commit=False)
        channel.created_by = request.user
        channel.save()
        audit.record(
            CHANNEL_CREATE, team=team, request=request, obj=channel, object_type="channel",
            message=Text(
                "Notification channel %(channel)s added (%(kind)s)",
                channel=str(channel), kind=Channel.Kind(channel.kind).label,
            ),
            data=_audit_data(channel),
        )  # fmt: skip
        if form.generated_secret:
            # Shown in this response only: never stored in the session or a message cookie.
            context = {"channel": channel, "secret": form.generated_secret}
            return render(request, "notifications/secret_once.html", context, status=201)
        messages.success(
            request, _("Channel %(name)s added. Send it a test event.") % {"name": channel}
        )
        return redirect("notifications")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "kind": kind}
    return render(request, "notifications/channel_form.html", context, status=status)


@team_view(role=Role.MANAGER)
def channel_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    channel = get_for_team(request, Channel, pk=pk)
    form = ChannelForm(request.POST or None, instance=channel, team=channel.team, kind=channel.kind)
    if request.method == "POST" and form.is_valid():
        form.save()
        changed = form.changed_fields()
        audit.record(
            CHANNEL_UPDATE, team=channel.team, request=request, obj=channel,
            object_type="channel",
            message=Text(
                "Notification channel %(channel)s changed: %(fields)s",
                channel=str(channel), fields=", ".join(changed),
            )
            if changed
            else Text("Notification channel %(channel)s changed: nothing", channel=str(channel)),
            data={**_audit_data(channel), "changed_fields": changed},
        )  # fmt: skip
        messages.success(request, _("Channel %(name)s saved.") % {"name": channel})
        return redirect("notifications")
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "channel": channel,
        "kind": channel.kind,
    }
    return render(request, "notifications/channel_form.html", context, status=status)


@require_POST
@team_view(role=Role.MANAGER)
def channel_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    channel = get_for_team(request, Channel, pk=pk)
    name = delete_audited(
        request, channel, CHANNEL_DELETE, object_type="channel",
        message=Text("Notification channel %(channel)s deleted", channel=str(channel)),
        data=_audit_data(channel),
    )  # fmt: skip
    messages.success(
        request, _("Channel %(name)s deleted. Its delivery log is kept.") % {"name": name}
    )
    return redirect("notifications")


@require_POST
@team_view(role=Role.MANAGER)
def channel_test(request: SignedInRequest, pk: int) -> HttpResponse:
    channel = get_for_team(request, Channel, pk=pk)
    team = channel.team
    notification = emit(
        team, EventType.TEST, f"test:{channel.pk}:{uuid.uuid4().hex}",
        summary=Text(
            "Test notification from Quick Recovery Console to %(channel)s", channel=channel.name
        ),
        only_channel=channel,
    )  # fmt: skip
    audit.record(
        CHANNEL_TEST, team=team, request=request, obj=channel, object_type="channel",
        message=Text("Test event sent to notification channel %(channel)s", channel=str(channel)),
        data={"notification": str(notification.uid) if notification else ""},
    )  # fmt: skip
    if not channel.enabled:
        messages.warning(
            request,
            _("%(name)s is disabled: enable it first, or the test is not delivered.")
            % {"name": channel},
        )
    else:
        messages.success(
            request,
            _("Test event queued for %(name)s; its outcome shows in the delivery log.")
            % {"name": channel},
        )
    return redirect("notification-log")


@team_view(role=Role.MANAGER)
def delivery_log(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    attempts = DeliveryAttempt.objects.filter(team=team).select_related(
        "delivery", "delivery__notification"
    )
    channel_id = request.GET.get("channel", "")
    channels = Channel.objects.filter(team=team)
    if channel_id.isdigit():
        attempts = attempts.filter(delivery__channel_id=int(channel_id))
    page = Paginator(attempts, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "channels": channels, "channel_id": channel_id, "team": team}
    return render(request, "notifications/delivery_log.html", context)
