"""The OpenAPI schema at /api/v1/schema: valid, public, complete, and true to the responses.

Schemathesis fuzzes every read-only operation of the live server with a valid token and
checks each answer against the schema (status documented, JSON content type, body shape, no
5xx, auth enforced). Request-level tests elsewhere check POST answers with the same schema.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.generation.modes import GenerationMode

from tests.api.conftest import make_recovery, token_for
from tests.recovery.engine_helpers import lab_connection

SCHEMA_PATH = "/api/v1/schema"


def _document() -> dict:
    response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3_and_served_without_a_token(db):
    document = _document()
    assert document["openapi"].startswith("3.")
    validate(document)


def test_every_operation_documents_auth_errors_and_an_id(db):
    document = _document()
    assert document["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer"}
    }
    ids = []
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            assert operation["security"] == [{"TokenAuth": []}], (method, template)
            for status in ("400", "401", "403", "404", "429"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (template, status)
    assert len(ids) == len(set(ids))
    assert set(document["components"]["schemas"]["ErrorOut"]["required"]) == {"code", "message"}


def _api_routes(resolver, prefix: str = "") -> list[str]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _api_routes(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            found.append(route)
    return found


def test_every_api_url_is_in_the_schema(db):
    # Nothing is served under /api/v1/ that the schema does not describe, but the schema and
    # django-ninja's root (which it reverses to find its prefix; a JSON 404).
    paths = _document()["paths"]
    documented = {template.replace("{", "<").replace("}", ">") for template in paths}
    routes = {"/" + route for route in _api_routes(get_resolver())}
    normalised = {
        route.replace("<int:", "<").replace("<str:", "<").replace("<path:", "<") for route in routes
    }
    assert normalised - {SCHEMA_PATH, "/api/v1/"} == documented
    assert Client().get("/api/v1/").status_code == 404


# --- schemathesis against the live server ---------------------------------------------------


# Per operation and generation mode; about 250 requests in all, well under a minute.
EXAMPLES = 15


@pytest.fixture
def live_schema(live_server, personas, lab):
    connection = lab_connection(personas.team, lab, name="Lab SCP")
    for status in ("completed", "failed", "merging"):
        make_recovery(personas.team, connection, vm=f"vm-{status}", status=status)
    token = token_for(personas.admin, name="schemathesis")
    schema = schemathesis.openapi.from_url(f"{live_server.url}{SCHEMA_PATH}")
    schema.config.update(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
    return schema.include(method="GET")


@pytest.mark.django_db(transaction=True)
def test_read_only_operations_conform_to_the_schema(live_schema):
    # Driven by hand rather than by schemathesis' pytest plugin (whose lazy loader does not
    # work with pytest 9): one hypothesis run per operation and mode.
    operations = [result.ok() for result in live_schema.get_all_operations()]
    assert len(operations) == 12
    counts: dict[str, int] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
                database=None,
                derandomize=True,  # the same examples every run: CI is not a lottery
            )
            def check(case) -> None:
                case.call_and_validate()
                counts[case.operation.label] = counts.get(case.operation.label, 0) + 1

            try:
                check()
            except Unsatisfiable:
                # No parameter to make invalid (e.g. /me): nothing negative to send.
                assert mode == GenerationMode.NEGATIVE, operation.label
    assert all(count >= 1 for count in counts.values()) and len(counts) == len(operations)
    print(f"schemathesis: {sum(counts.values())} requests over {len(counts)} operations", counts)
