from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from recovery.models import Membership, Role, Team

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create: bool, extracted, **kwargs) -> None:
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OPERATOR

    class Params:
        viewer = factory.Trait(role=Role.VIEWER)
        manager = factory.Trait(role=Role.MANAGER)
        admin = factory.Trait(role=Role.ADMIN)


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "platforms.PlatformConnection"
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Platform {n}")
    kind = "scp"
    base_url = "https://scp.example.test:4430"
    auth_method = "aksk"
    access_key = "AK-EXAMPLE"

    @factory.post_generation
    def secret(obj, create: bool, extracted, **kwargs) -> None:
        obj.set_secret("secret_key", extracted or "sk-example-secret-value")
        if create:
            obj.save()


class RecoveryFactory(factory.django.DjangoModelFactory):
    """A restore of web-01 in place, queued: no worker, no platform (for rows and pages)."""

    class Meta:
        model = "recovery.Recovery"

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(ConnectionFactory, team=factory.SelfAttribute("..team"))
    connection_name = factory.LazyAttribute(lambda recovery: recovery.connection.name)
    vm_id = "vm-1"
    vm_name = "web-01"
    nfs_server = "nfs-1"
    nfs_export = "/backup"
    datastore_name = "qr-nfs"
    reason = "restore drill"
    mode = "restore"
    target = "in_place"
