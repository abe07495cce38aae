"""The JSON API at /api/v1/: personal tokens, endpoints over the console's services, OpenAPI."""
