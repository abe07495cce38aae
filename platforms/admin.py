from __future__ import annotations

from django.contrib import admin
from django.db import models

from platforms.models import ConnectionShare, PlatformConnection


class ShareInline(admin.TabularInline):
    model = ConnectionShare
    extra = 0


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    # The encrypted columns are not editable and not listed: the admin never shows a secret.
    list_display = ["name", "team", "kind", "auth_method", "verify_tls", "last_test_ok"]
    list_filter = ["kind", "auth_method", "team"]
    search_fields = ["name", "team__name"]
    exclude = ["secret_key_encrypted", "password_encrypted"]
    readonly_fields = ["last_test_ok", "last_test_message", "last_tested_at", "detected_dialect"]
    inlines = [ShareInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
