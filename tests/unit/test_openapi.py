"""The OpenAPI document stays true: every Flask route is described (and nothing else), it is
valid OpenAPI 3.1, and its request schema agrees with the validator it was generated from."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from api import create_app
from common.config import Settings

IGNORED_METHODS = {"HEAD", "OPTIONS"}
"""Added to every rule by Flask/werkzeug; not part of the contract."""

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = Settings().replace(storage="local", local_dir=str(tmp_path_factory.mktemp("storage")), engine="tone",
                                  redis_url="redis://127.0.0.1:1/15")
    return create_app({"SETTINGS": settings, "TESTING": True})


@pytest.fixture(scope="module")
def document(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _openapi_path(rule: str) -> str:
    """``/v1/jobs/<job_id>`` (or ``<string:job_id>``) → ``/v1/jobs/{job_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _flask_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - IGNORED_METHODS:
            ops.add((_openapi_path(rule.rule), method.lower()))
    return ops


def _documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}


def test_every_route_is_documented_and_nothing_else(app, document):
    flask_ops, documented = _flask_operations(app), _documented_operations(document)
    assert flask_ops - documented == set(), "routes missing from the OpenAPI document"
    assert documented - flask_ops == set(), "documented operations that no route serves"


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    try:
        validate(document)
    except OpenAPIValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"invalid OpenAPI 3.1: {exc}")


def test_every_operation_is_named_and_answers(document):
    ids = []
    for path, method in _documented_operations(document):
        operation = document["paths"][path][method]
        ids.append(operation["operationId"])
        assert operation["responses"], (path, method)
        for parameter in re.findall(r"{([^}]+)}", path):
            params = document["paths"][path].get("parameters", []) + operation.get("parameters", [])
            names = {document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p
                     else p["name"] for p in params}
            assert parameter in names, (path, parameter)
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_request_schema_comes_from_the_validator(document):
    from common.job_request import _Shape

    schema = document["components"]["schemas"]["JobRequest"]
    assert set(schema["properties"]) == set(_Shape.model_fields)
    assert schema["required"] == ["text"] and schema["additionalProperties"] is False
    voice = next(b for b in schema["properties"]["voice"]["anyOf"] if b.get("type") == "string")
    assert voice["enum"] == ["tone-a", "tone-b"]
    assert schema["properties"]["text"]["maxLength"] == Settings().max_text_chars
    sync = document["components"]["schemas"]["SyncTtsRequest"]
    assert sync["properties"]["text"]["maxLength"] == Settings().sync_max_chars


def test_public_routes_need_no_key(app, document):
    from api.auth import requires_key

    for path, method in _documented_operations(document):
        public = document["paths"][path][method].get("security") == []
        concrete = path.replace("{job_id}", "x")
        assert public == (not requires_key(concrete)), (path, method)
        if public:
            assert "401" not in document["paths"][path][method]["responses"], path
        else:
            assert "401" in document["paths"][path][method]["responses"], path


def test_error_responses_use_the_error_schema(document):
    for name, response in document["components"]["responses"].items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name
