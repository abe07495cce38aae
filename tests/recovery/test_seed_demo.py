from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from recovery.models import Membership, Role

pytestmark = pytest.mark.django_db


def test_seeding_twice_keeps_the_same_login(tmp_path):
    password_file = tmp_path / "demo_password"
    first, second = StringIO(), StringIO()
    call_command("seed_demo", "--password-file", str(password_file), stdout=first)
    call_command("seed_demo", "--password-file", str(password_file), stdout=second)
    password = re.search(r"Demo login: admin / (\S+)", first.getvalue()).group(1)
    assert f"admin / {password}" in second.getvalue()
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password) and admin.is_superuser
    roles = Membership.objects.filter(user=admin).values_list("team__name", "role")
    assert sorted(roles) == [("Demo Lab", Role.ADMIN), ("Demo Operations", Role.ADMIN)]


def test_seeding_with_the_lab_adds_a_connection_shared_with_the_other_team(tmp_path):
    from platforms.models import PlatformConnection

    for _ in range(2):
        call_command(
            "seed_demo", "--password-file", str(tmp_path / "pw"), "--lab-url", "http://127.0.0.1:9443",
            stdout=StringIO(),
        )  # fmt: skip
    connection = PlatformConnection.objects.get()
    assert (connection.team.name, connection.base_url) == ("Demo Lab", "http://127.0.0.1:9443")
    assert [s.team.name for s in connection.shares.all()] == ["Demo Operations"]
    assert connection.get_secret("secret_key") == "lab-secret-key"
    assert (connection.default_nfs_server, connection.default_nfs_export) == (
        "192.0.2.50",
        "/backup",
    )
