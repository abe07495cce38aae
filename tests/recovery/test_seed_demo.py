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
