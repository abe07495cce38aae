"""API test fixtures: a token per persona, a JSON client, and the served schema as a judge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from recovery.api.tokens import create_token
from recovery.models import Membership, Recovery

SCHEMA_URI = "urn:qrc-openapi"
PERSONAS = ("admin", "manager", "operator", "viewer", "outsider")


class Api:
    """A Django test client that speaks JSON with a bearer token."""

    def __init__(self, token: str | None, **headers: str) -> None:
        self.client = Client()
        self.headers = dict(headers)
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, data: dict | None = None, **headers: str):
        return self.client.get(path, data or {}, headers={**self.headers, **headers})

    def post(self, path: str, body: Any = None, **headers: str):
        payload = "" if body is None else json.dumps(body)
        return self.client.post(
            path, payload, content_type="application/json", headers={**self.headers, **headers}
        )


def token_for(membership: Membership, name: str = "tests", **fields: Any) -> str:
    _, raw = create_token(
        user=membership.user,
        team=membership.team,
        name=name,
        expires_at=fields.get("expires_at"),
    )
    return raw


@pytest.fixture
def tokens(personas) -> dict[str, str]:
    return {name: token_for(getattr(personas, name)) for name in PERSONAS}


@pytest.fixture
def api_as(tokens):
    def make(persona: str) -> Api:
        return Api(tokens[persona])

    return make


@dataclass
class Judge:
    """Checks a response against what the served OpenAPI schema promises for it."""

    document: dict[str, Any]

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SCHEMA_URI, resource)

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return self.document["paths"][template][method.lower()]

    def check(self, response, method: str, template: str) -> Any:
        responses = self.operation(method, template)["responses"]
        status = str(response.status_code)
        assert status in responses, (
            f"{method} {template} answered {status}, which the schema does not document "
            f"({sorted(responses)}): {response.content[:300]!r}"
        )
        assert response["Content-Type"].startswith("application/json")
        body = json.loads(response.content)
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", template, method.lower(), "responses", status, "content",
                         "application/json", "schema")
        )  # fmt: skip
        validator = Draft202012Validator(
            {"$ref": f"{SCHEMA_URI}#/{pointer}"},
            registry=self.registry,
            format_checker=FormatChecker(),
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{method} {template} {status}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5]
        )
        return body


@pytest.fixture
def judge(db) -> Judge:
    response = Client().get("/api/v1/schema")
    assert response.status_code == 200
    return Judge(json.loads(response.content))


def make_recovery(team, connection, vm: str = "vm-1", status: str = "completed", **fields):
    return Recovery.objects.create(
        team=team, connection=connection, connection_name=connection.name, vm_id=vm, vm_name=vm,
        nfs_server="192.0.2.50", nfs_export="/backup", datastore_name="qr-test",
        reason=fields.pop("reason", "test"), status=status, **fields,
    )  # fmt: skip
