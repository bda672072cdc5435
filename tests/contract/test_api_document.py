"""The API document a developer uses: login requirements (``security``) as the server enforces them, the
headers the operations honour, every enumerated input with its values, every example valid against its
schema, and the document served compressed and cacheable."""
import gzip
import re

import jsonschema_rs
import pytest

from api.extensions import limiter
from service.cases import states
from service.system import migrations_head
from tests.factories import auth, make_user, make_world

METHODS = ("get", "post", "put", "patch", "delete")
# Operations anyone may call, without logging in.
PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("post", "/api/v1/auth/wechat"), ("post", "/api/v1/auth/demo"),
          ("get", "/api/v1/auth/demo/users")}
PUBLIC_PREFIXES = ("/api/v1/streets", "/api/v1/areas", "/api/v1/neighbourhoods", "/api/v1/estates",
                   "/api/v1/buildings", "/api/v1/case-categories", "/api/v1/facility-categories", "/api/v1/calendar",
                   "/api/v1/privacy-notice")


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def no_limits():
    limiter.enabled = False
    yield
    limiter.enabled = True


# --- security --------------------------------------------------------------------------------------------------------

def test_the_bearer_scheme_is_declared_for_the_authorize_button(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"]}
    for method, path, operation in operations(document):
        for requirement in operation["security"]:
            assert set(requirement) <= set(document["components"]["securitySchemes"]), (method, path)


def test_an_operation_documents_security_exactly_when_it_refuses_a_caller_without_a_token(client, document, no_limits):
    """Each operation called without a token (and without input): 401 if and only if it lists ``security``.
    The 401 comes before any complaint about the input, so a missing body never hides the login needed."""
    secured, public = [], []
    for method, path, operation in operations(document):
        answer = client.open(_concrete(path), method=method.upper())
        assert answer.status_code != 500, (method, path)
        documented = bool(operation["security"])
        assert (answer.status_code == 401) == documented, (method, path, answer.status_code, answer.get_json())
        (secured if documented else public).append((method, path))
    assert {op for op in public if op not in PUBLIC} == {op for op in public if op[1].startswith(PUBLIC_PREFIXES)}
    assert PUBLIC <= set(public) and len(secured) >= 60


def test_with_a_token_no_secured_operation_answers_401(client, document, no_limits):
    """The token the Authorize button sends is the one the server takes (``refresh`` wants the refresh
    token instead; ``logout`` would end the session the rest of the test uses)."""
    world = make_world()
    user = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id,
                     roles=[("staff", "street", world.street.id)])
    headers = auth(user)
    for method, path, operation in operations(document):
        if not operation["security"] or path in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
            continue
        answer = client.open(_concrete(path), method=method.upper(), headers=headers)
        assert answer.status_code not in (401, 500), (method, path, answer.get_json())


def test_a_caller_without_the_role_hears_403_before_any_complaint_about_the_input(client):
    resident = make_user(name="张三")
    refused = client.post("/api/v1/cases/1/actions", json={"action": "no-such"}, headers=auth(resident))
    assert refused.status_code == 403 and refused.json["error"] == "auth.role_required"
    assert client.post("/api/v1/cases/1/actions", json={"action": "no-such"}).status_code == 401


# --- headers ---------------------------------------------------------------------------------------------------------

def _parameter_names(document, operation) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        names.add((parameter["in"], parameter["name"]))
    return names


def test_accept_language_on_every_operation_and_idempotency_key_on_the_posts_that_honour_it(client, document,
                                                                                           no_limits):
    """Documented where the server reads it: a POST that honours the key refuses a malformed one (422
    ``idempotency.key_invalid``, before anything else); one that ignores it (logins, refresh, logout) does not."""
    honouring = 0
    for method, path, operation in operations(document):
        names = _parameter_names(document, operation)
        assert ("header", "Accept-Language") in names, (method, path)
        documented = ("header", "Idempotency-Key") in names
        assert not documented or method == "post", (method, path)
        if method != "post":
            continue
        answer = client.post(_concrete(path), json={}, headers={"Idempotency-Key": "x" * 129})
        honours = answer.status_code == 422 and answer.get_json()["error"] == "idempotency.key_invalid"
        assert documented == honours, (method, path, answer.status_code, answer.get_json())
        if documented:
            honouring += 1
            assert {"409", "422"} <= set(operation["responses"]), (method, path)
    assert honouring >= 30
    for key in ("a\x01b", "\u94a5\u5319", "x" * 129):  # outside the documented pattern and length
        refused = client.post("/api/v1/cases", json={}, headers={"Idempotency-Key": key})
        assert refused.status_code == 422 and refused.json["error"] == "idempotency.key_invalid", key


def test_accept_language_changes_the_messages_as_documented(client):
    assert client.get("/api/v1/me").get_json()["message"] == "请先登录"
    assert client.get("/api/v1/me", headers={"Accept-Language": "en"}).get_json()["message"] == (
        "A bearer token is required")


# --- enumerated inputs -----------------------------------------------------------------------------------------------

# Input fields whose values are a closed set wherever they appear. A field not named here is still held to
# the rule below: a name enumerated in one input must be enumerated in every input that uses it.
ENUMERATED = {"action", "method", "outcome", "result", "status", "datum", "meal", "mode", "kind", "role",
              "scope_type", "choice", "relation", "pace", "scenario", "format", "group_by", "documents", "revote",
              "coord_source"}
# Codes an operator defines in config/rules (a category, a target group): open sets checked by the service,
# each listed by its own endpoint, which the field's description names.
RULES_DATA = {"category", "target_group"}


def _resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _input_fields(document):
    """(where, name, schema) of every input property and parameter; a list gives its items' schema."""

    def walk(schema, where, seen):
        schema = _resolve(document, schema)
        if id(schema) in seen:
            return
        seen = seen | {id(schema)}
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                yield from walk(part, where, seen)
        if isinstance(schema.get("items"), dict):
            yield from walk(schema["items"], where + "[]", seen)
        for name, prop in (schema.get("properties") or {}).items():
            prop = _resolve(document, prop)
            items = prop.get("items") if prop.get("type") == "array" else None
            yield f"{where}.{name}", name, _resolve(document, items) if isinstance(items, dict) else prop
            yield from walk(prop, f"{where}.{name}", seen)

    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                continue  # the shared headers
            schema = parameter.get("schema", {})
            if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
                schema = schema["items"]
            if "description" in parameter:  # a parameter's description is beside its schema
                schema = {**schema, "description": parameter["description"]}
            yield f"{method} {path} {parameter['in']}", parameter["name"], schema
        for media in operation.get("requestBody", {}).get("content", {}).values():
            yield from walk(media["schema"], f"{method} {path} body", frozenset())


def test_every_enumerated_input_lists_its_values(document):
    fields = [(where, name, schema) for where, name, schema in _input_fields(document)
              if schema.get("type") == "string"]
    enumerated = {name for _, name, schema in fields if "enum" in schema}
    assert ENUMERATED <= enumerated, f"named as enumerated but never listed: {ENUMERATED - enumerated}"
    missing = [where for where, name, schema in fields if name in enumerated and "enum" not in schema]
    assert not missing, f"enumerated inputs without their values: {missing}"
    for where, name, schema in fields:
        if name in RULES_DATA:
            assert "enum" not in schema and "GET /api/v1/" in schema.get("description", ""), where


def test_the_case_actions_inputs_list_the_values_the_service_takes(document):
    body = _resolve(document, document["paths"]["/api/v1/cases/{case_id}/actions"]["post"]["requestBody"]
                    ["content"]["application/json"]["schema"])["properties"]
    assert body["action"]["enum"] == list(states.STAFF_ACTIONS)
    assert [v for v in body["method"]["enum"] if v is not None] == list(states.CONTACT_METHODS)
    assert [v for v in body["outcome"]["enum"] if v is not None] == list(states.OUTCOMES)
    assert [v for v in body["result"]["enum"] if v is not None] == list(states.VISIT_RESULTS)
    assert "satisfied" not in body["result"]["enum"]


# --- examples --------------------------------------------------------------------------------------------------------

def _json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable`` becomes a ``null`` type (and a null enum value)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "discriminator")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out or "allOf" in out:
            out = {"anyOf": [{"type": "null"}, {k: v for k, v in out.items()}]}
    return out


def _examples(document):
    """(where, example, schema) for every example in the document: of a response or request body, of a
    parameter, and of a schema property."""
    def of_schema(schema, where, seen):
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return
            seen = seen | {name}
            schema = document["components"]["schemas"][name]
        if "example" in schema:
            yield where, schema["example"], schema
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                yield from of_schema(part, where, seen)
        if isinstance(schema.get("items"), dict):
            yield from of_schema(schema["items"], where + "[]", seen)
        for name, prop in (schema.get("properties") or {}).items():
            yield from of_schema(prop, f"{where}.{name}", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            yield from of_schema(schema["additionalProperties"], where + "{}", seen)

    def of_content(content, where):
        for media_type, media in content.items():
            if "example" in media:
                yield f"{where} {media_type}", media["example"], media.get("schema", {})
            for name, example in (media.get("examples") or {}).items():
                yield f"{where} {media_type} {name}", example["value"], media.get("schema", {})
            yield from of_schema(media.get("schema", {}), f"{where} {media_type} schema", frozenset())

    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if "$ref" not in response:
                yield from of_content(response.get("content", {}), f"{method} {path} {status}")
        if "requestBody" in operation:
            yield from of_content(operation["requestBody"]["content"], f"{method} {path} body")
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            schema = parameter.get("schema", {})
            if "example" in parameter:
                yield f"{method} {path} {parameter['name']}", parameter["example"], schema
            yield from of_schema(schema, f"{method} {path} {parameter['name']}", frozenset())
    for name, response in document["components"].get("responses", {}).items():
        yield from of_content(response.get("content", {}), f"response {name}")


def test_every_example_is_valid_against_its_schema(document):
    components = _json_schema(document["components"])
    failures, checked = [], 0
    for where, example, schema in _examples(document):
        validator = jsonschema_rs.Draft7Validator({**_json_schema(schema), "components": components},
                                                  validate_formats=True)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(example)]
        checked += 1
        if errors:
            failures.append(f"{where}: {errors[:3]}")
    assert checked >= 150
    assert not failures, "\n".join(failures)


def test_the_validation_catches_an_invalid_example(document):
    """The check above can fail: a case whose status is not one of the statuses, or a timestamp that is not one."""
    components = _json_schema(document["components"])
    schema = {"$ref": "#/components/schemas/CaseOut", "components": components}
    example = document["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]["200"]["content"][
        "application/json"]["example"]
    validator = jsonschema_rs.Draft7Validator(schema, validate_formats=True)
    assert validator.is_valid(example)
    assert not validator.is_valid({**example, "status": "satisfied"})
    assert not validator.is_valid({**example, "received_at": "yesterday"})


def test_the_readiness_example_names_the_migration_this_code_ships(document):
    example = document["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    assert example["revision"] == example["head"] == migrations_head() != "0001"


# --- served compressed and cacheable ---------------------------------------------------------------------------------

def test_the_document_is_gzip_compressed_and_revalidated_by_etag(client):
    plain = client.get("/openapi.json")
    zipped = client.get("/openapi.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) * 5 < len(plain.data)
    for response in (plain, zipped):
        assert response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    again = client.get("/openapi.json", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    changed = client.get("/openapi.json", headers={"Accept-Encoding": "gzip", "If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.data == zipped.data


def test_the_swagger_ui_assets_are_compressed_and_cached(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "persistAuthorization" in page.get_data(as_text=True)
    plain = client.get("/docs/assets/swagger-ui-bundle.js")
    zipped = client.get("/docs/assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) * 3 < len(plain.data)
    assert "max-age=86400" in zipped.headers["Cache-Control"] and zipped.headers["ETag"]
    again = client.get("/docs/assets/swagger-ui-bundle.js",
                       headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/docs/assets/../../config/__init__.py").status_code == 404
