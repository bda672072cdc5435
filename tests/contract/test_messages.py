"""Every operation of /openapi.json that takes input, sent an empty body, wrong-typed values and values beyond
their documented bounds (a choice not offered, a text too long, a number too large): every field
message in the refusal is Chinese by default (it holds Chinese characters) and English with
``Accept-Language: en`` (it holds none; nothing sent here is Chinese, so none can be echoed)."""
from __future__ import annotations

import re



CJK = re.compile(r"[\u3400-\u9fff]")
PATH_PARAMETER = re.compile(r"\{[^}]+\}")
# A value of the wrong JSON type for each type a property can have.
WRONG = {"string": 12345, "integer": "many", "number": "far", "boolean": "maybe", "array": "one", "object": 7}
QUERY_WRONG = {"integer": "many", "number": "far", "boolean": "maybe"}
# Revoking the caller's own token would turn the rest of the walk into 401s.
SKIP = {("post", "/api/v1/auth/logout")}


def _schema(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged: dict = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_schema(document, part).get("properties", {}))
        return merged
    return schema


def _type(document: dict, schema: dict) -> str | None:
    schema = _schema(document, schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind or ("object" if "properties" in schema else None)


def _beyond(document: dict, prop: dict):
    """A value of the right type that the property's bounds refuse (a choice not offered, a text too long, a
    number too large, too many items), or None when it has no bounds."""
    schema = _schema(document, prop)
    kind = _type(document, prop)
    if schema.get("enum"):
        return "not-a-choice"
    if kind == "string" and "maxLength" in schema:
        return "x" * (schema["maxLength"] + 1)
    if kind in ("integer", "number") and "maximum" in schema:
        return schema["maximum"] + 1
    if kind == "array" and "maxItems" in schema:
        return [None] * (schema["maxItems"] + 1)
    return None


def _requests(document: dict):
    """(method, path, kwargs) for each request of the walk: the operations with a JSON body get ``{}``, a list
    instead of an object, a body with every property of the wrong type and one with every property beyond its
    bounds; those with query parameters get wrong-typed and out-of-bounds ones."""
    for path, item in document["paths"].items():
        url = PATH_PARAMETER.sub("1", path)
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or (method, path) in SKIP:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                schema = _schema(document, body["schema"])
                yield method, path, {"json": {}, "path": url}
                yield method, path, {"json": [], "path": url}
                properties = {name: prop for name, prop in schema.get("properties", {}).items()
                              if not _schema(document, prop).get("readOnly")}
                wrong = {name: WRONG[kind] for name, prop in properties.items()
                         if (kind := _type(document, prop)) in WRONG}
                if wrong:
                    yield method, path, {"json": wrong, "path": url}
                beyond = {name: value for name, prop in properties.items()
                          if (value := _beyond(document, prop)) is not None}
                if beyond:
                    yield method, path, {"json": beyond, "path": url}
            parameters = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            query = {p["name"]: QUERY_WRONG[kind] for p in parameters
                     if (kind := _type(document, p.get("schema", {}))) in QUERY_WRONG}
            if query:
                yield method, path, {"query_string": query, "path": url}
            query = {p["name"]: value for p in parameters
                     if (value := _beyond(document, p.get("schema", {}))) is not None and not isinstance(value, list)}
            if query:
                yield method, path, {"query_string": query, "path": url}


def _messages(value):
    """Every message (a string leaf) in an answer's ``errors``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _messages(item)
    elif isinstance(value, list):
        for item in value:
            yield from _messages(item)


def test_every_field_message_is_chinese_by_default_and_english_on_request(client, reach_headers):
    document = client.get("/openapi.json").json
    english_only, chinese_in_english, refused, server_errors = [], [], 0, []
    for method, path, kwargs in _requests(document):
        url = kwargs.pop("path")
        for lang in ("zh", "en"):
            extra = {"Accept-Language": "en"} if lang == "en" else {}
            response = client.open(url, method=method.upper(), headers={**reach_headers, **extra}, **kwargs)
            if response.status_code >= 500:
                server_errors.append(f"{method.upper()} {path} {kwargs}: {response.status_code}")
                continue
            if response.status_code not in (400, 422):
                continue
            refused += lang == "zh"
            for message in _messages(response.json["errors"]):
                if lang == "zh" and not CJK.search(message):
                    english_only.append(f"{method.upper()} {path} {kwargs}: {message!r}")
                if lang == "en" and CJK.search(message):
                    chinese_in_english.append(f"{method.upper()} {path} {kwargs}: {message!r}")
    assert not server_errors, "\n".join(server_errors)
    assert refused >= 150, refused  # the walk reached the schemas of most operations
    assert not english_only, "\n".join(english_only)
    assert not chinese_in_english, "\n".join(chinese_in_english)
