"""API tokens end with what they were granted on: the user's password and their membership.

A token acts as its user, so it must not outlive the user's own proof of who they are (a
password changed because it leaked) nor the membership it was made in (a removed member who
is invited back starts with no tokens). Both revocations are audited in the token's team.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from recovery.api import tokens
from recovery.models import Membership
from recovery.services.members import REMOVED_BY, REMOVED_REQUEST
from recovery.texts import Text

User = get_user_model()
_CHANGED = "_qrc_password_changed"


@receiver(pre_save, sender=User)
def _note_password_change(sender: Any, instance: Any, update_fields: Any = None, **kw: Any) -> None:
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return  # a new user has no tokens; a last_login update does not touch the password
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        setattr(instance, _CHANGED, True)


@receiver(post_save, sender=User)
def _revoke_on_password_change(sender: Any, instance: Any, created: bool, **kw: Any) -> None:
    if created or not getattr(instance, _CHANGED, False):
        return
    delattr(instance, _CHANGED)
    tokens.revoke_all(
        user=instance,
        by=instance,
        reason=Text("the password of the account was changed; create a new token"),
    )


@receiver(post_delete, sender=Membership)
def _revoke_on_membership_end(sender: Any, instance: Membership, **kw: Any) -> None:
    # Who removed them when a view says so; a membership deleted elsewhere (the Django admin,
    # a deleted user) is revoked all the same, with no actor.
    tokens.revoke_all(
        user=instance.user_id,
        team=instance.team_id,
        by=getattr(instance, REMOVED_BY, None),
        request=getattr(instance, REMOVED_REQUEST, None),
        reason=Text(
            "%(user)s is no longer a member of %(team)s",
            user=str(instance.user),
            team=str(instance.team),
        ),
    )
