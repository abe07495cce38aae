"""Every database column that holds a secret as a Fernet token under CREDENTIALS_KEYS.

Key rotation (`manage.py rotate_credential_key`) re-encrypts exactly what is registered here,
so a column that is missing from the registry becomes unreadable once the old key is dropped.
Each app registers its own columns in its AppConfig.ready(): `platforms` never imports
`recovery`, so it cannot list the recovery apps' columns itself.

Such columns are named `<something>_encrypted`. A column of that name that nobody registered is
a system check error (qrc.E001): `manage.py check`, `migrate` and the server refuse to start,
so the next encrypted column cannot be forgotten by the rotation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models

SUFFIX = "_encrypted"
CHECK_ID = "qrc.E001"

# "app_label.ModelName" -> its encrypted columns. Labels, not classes: the registry outlives a
# test's isolated app registry and never holds a stale class.
_columns: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Registered:
    model: type[models.Model]
    columns: tuple[str, ...]


def register(model: type[models.Model], *columns: str) -> None:
    """Declare `columns` of `model` as Fernet tokens that key rotation must re-encrypt."""
    if not columns:
        raise ImproperlyConfigured(f"{model._meta.label}: name the encrypted columns to register.")
    names = {field.name for field in model._meta.concrete_fields}
    unknown = [column for column in columns if column not in names]
    if unknown:
        raise ImproperlyConfigured(
            f"{model._meta.label} has no column(s) {', '.join(unknown)} to register as encrypted."
        )
    existing = _columns.get(model._meta.label, ())
    _columns[model._meta.label] = tuple(dict.fromkeys((*existing, *columns)))


def registered() -> list[Registered]:
    """The registered models and their columns, in a stable order (model label)."""
    return [
        Registered(apps.get_model(label), columns) for label, columns in sorted(_columns.items())
    ]


def unregistered(model_list: Iterable[type[models.Model]] | None = None) -> list[str]:
    """`app.Model.column` for each `*_encrypted` column that key rotation would not see."""
    missing = []
    for model in apps.get_models() if model_list is None else model_list:
        known = _columns.get(model._meta.label, ())
        for field in model._meta.concrete_fields:
            if field.name.endswith(SUFFIX) and field.name not in known:
                missing.append(f"{model._meta.label}.{field.name}")
    return missing


def unregistered_error(columns: list[str]) -> str:
    return (
        f"Encrypted column(s) not registered for key rotation: {', '.join(columns)}. "
        "rotate_credential_key would leave them under the old key, unreadable once it is "
        "dropped. Register them with platforms.encrypted.register(Model, 'column') in the "
        "app's AppConfig.ready()."
    )


@checks.register(checks.Tags.security)
def check_encrypted_columns(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    model_list = None if app_configs is None else [m for c in app_configs for m in c.get_models()]
    missing = unregistered(model_list)
    if not missing:
        return []
    return [checks.Error(unregistered_error(missing), id=CHECK_ID)]
