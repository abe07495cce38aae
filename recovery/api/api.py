"""The NinjaAPI object: routers, error handlers, and the OpenAPI schema at /api/v1/schema."""

from __future__ import annotations

from ninja import NinjaAPI

from recovery.api import auth, errors
from recovery.api.routes import audit, connections, launch_templates, recoveries, reports
from recovery.api.schemas import COMMON_ERRORS, MeOut


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # The view's name ("list_recoveries"), not django-ninja's module-path default.
        return operation.view_func.__name__


api = Api(
    title="Quick Recovery Console API",
    version="1",
    description=(
        "Drive the console without a browser. Authenticate with a personal API token "
        "(`Authorization: Bearer qrc_…`, created under API tokens in the console); it acts "
        "with your current role in the token's team. Errors are JSON with a stable `code` "
        "and a human `message`. See docs/api.md."
    ),
    openapi_url="/schema",
    # The interactive docs page loads scripts from a CDN, which the CSP forbids.
    docs_url=None,
    urls_namespace="api-v1",
)
errors.install(api)


@api.get(
    "/me",
    response={200: MeOut, **COMMON_ERRORS},
    auth=auth.viewer,
    tags=["tokens"],
    summary="Who the token acts as: user, team and current role",
)
def me(request: auth.ApiRequest):
    grant = request.auth
    token = grant.token
    return {
        "user": grant.membership.user.get_username(),
        "team": grant.membership.team.name,
        "team_id": grant.membership.team_id,
        "role": grant.membership.role,
        "token_name": token.name,
        "token_prefix": token.prefix,
        "token_expires_at": token.expires_at,
    }


api.add_router("", connections.router)
api.add_router("", recoveries.router)
api.add_router("", launch_templates.router)
api.add_router("", audit.router)
api.add_router("", reports.router)
