"""Every exchange of a collector with its fake, held against the vendor's published OpenAPI document with
openapi-core: the request MCC sends and the answer the fake gives must be valid, and every field either
side uses must be declared in the spec (unless listed below as a defect of the spec itself).

The specs live outside the repository (`../shared/specs`, or `MCC_SPECS_DIR`); without them these tests
skip, e.g. in a user's clone."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from collectors.sync import sync_source
from sandbox.server import Fake, Request, Response
from tests.sources.conftest import TEST_POLICY
from tests.sources.harness import VENDORS

REPO = Path(__file__).resolve().parents[1]
SPECS = Path(os.environ.get("MCC_SPECS_DIR") or REPO.parent / "shared" / "specs")
if not SPECS.is_dir():
    pytest.skip(
        f"vendor specifications not found at {SPECS} (set MCC_SPECS_DIR to the folder of "
        "SOURCES.md); the spec conformance tests need them",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class Spec:
    file: str
    server: str  # the path prefix the spec's `servers` puts before its paths, on the fake's host
    skip_paths: tuple[str, ...] = ()  # exchanges another document covers (token endpoints)


# kind → the document its collector is held against.
SPECS_BY_KIND = {
    "pax8": Spec("pax8-partner-endpoints-openapi.json", "/v1", skip_paths=("/v1/token",)),
    "ninjaone": Spec("ninjaone-api-core-resources.yaml", "", skip_paths=("/ws/oauth/token",)),
    "datto_rmm": Spec("datto_rmm_swagger.json", "/api", skip_paths=("/auth/oauth/token",)),
}

# Fields the fake answers (because the real API sends them) that the spec leaves undeclared, each with
# why it is a defect of the spec and not of our model. Keep this list short and reasoned.
SPEC_DEFECTS: dict[tuple[str, str], str] = {}

# Datto's springdoc output declares only the error answers of its reads, never the 200 (every GET lists
# 401/403/409/500 and nothing else); the 200 body is the schema the operation's name and the platform's
# answers show. Added here, the rest of each answer is still checked against the spec's own schemas.
MISSING_200 = {
    "datto_rmm": {
        "/v2/account/devices": "DevicesPage",
        "/v2/account/sites": "SitesPage",
        "/v2/system/pagination": "PaginationConfiguration",
    }
}


# Fields the spec types non-nullable that the vendor documents (and clients rely on) as null.
NULLABLE: dict[tuple[str, str, str], str] = {
    (
        "datto_rmm",
        "PaginationData",
        "nextPageUrl",
    ): "null on the last page: how Datto says there is no next page",
    ("datto_rmm", "PaginationData", "prevPageUrl"): "null on the first page",
}


def _load(spec: Spec, host: str) -> tuple[OpenAPI, dict[str, Any]]:
    path = SPECS / spec.file
    document = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    document = copy.deepcopy(document)
    document["servers"] = [{"url": f"{host}{spec.server}"}]
    for (kind, schema_name, field_name), _why in NULLABLE.items():
        if SPECS_BY_KIND[kind] is spec:
            document["components"]["schemas"][schema_name]["properties"][field_name]["nullable"] = True
    for kind, paths in MISSING_200.items():
        if SPECS_BY_KIND[kind] is spec:
            for template, schema in paths.items():
                document["paths"][template]["get"]["responses"]["200"] = {
                    "description": "OK (missing from the spec)",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                }
    return OpenAPI.from_dict(document), document


@dataclass
class SpecRequest:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class SpecResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def _as_request(host: str, request: Request) -> SpecRequest:
    return SpecRequest(
        host_url=host,
        path=request.path,
        method=request.method.lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, values in request.query.items() for v in values]),
            header=Headers(request.headers),
        ),
        content_type=request.header("content-type") or "application/json",
        body=request.body or None,
    )


def _as_response(response: Response) -> SpecResponse:
    headers = Headers(response.headers)
    content_type = headers.get("Content-Type") or "application/json"
    return SpecResponse(response.status, content_type, headers, response.encode())


@dataclass
class Recorder:
    exchanges: list[tuple[Request, Response]] = field(default_factory=list)

    def wrap(self, fake: Fake) -> None:
        original = fake.dispatch

        def dispatch(request: Request) -> Response:
            response = original(request)
            self.exchanges.append((request, response))
            return response

        fake.dispatch = dispatch  # type: ignore[method-assign]


def _resolve(document: dict[str, Any], schema: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 50:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema, seen = node, seen + 1
    return schema


def undeclared(document: dict[str, Any], schema: Any, value: Any, where: str = "") -> Iterator[str]:
    """Field paths in `value` that `schema` does not declare (objects with `properties` and no
    `additionalProperties`), following $ref, allOf/oneOf/anyOf and arrays."""
    schema = _resolve(document, schema)
    if not isinstance(schema, dict):
        return
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            merged: dict[str, Any] = {}
            for part in schema[combined]:
                merged.update(_resolve(document, part).get("properties", {}))
            schema = {**schema, "properties": {**schema.get("properties", {}), **merged}}
    if isinstance(value, list):
        for item in value:
            yield from undeclared(document, schema.get("items", {}), item, f"{where}[]")
    elif isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None or schema.get("additionalProperties") not in (None, False):
            return
        for key, item in value.items():
            if key not in properties:
                yield f"{where}.{key}".lstrip(".")
            else:
                yield from undeclared(document, properties[key], item, f"{where}.{key}")


def _operation(document: dict[str, Any], spec: Spec, method: str, path: str) -> dict[str, Any] | None:
    local = path[len(spec.server) :] if path.startswith(spec.server) else path
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, local) and method.lower() in item:
            return item[method.lower()]
    return None


def _response_schema(document: dict[str, Any], operation: dict[str, Any], status: int) -> Any:
    responses = operation.get("responses", {})
    answer = _resolve(document, responses.get(str(status)) or responses.get("default") or {})
    return (
        answer.get("content", {}).get("application/json") or answer.get("content", {}).get("*/*") or {}
    ).get("schema")


@pytest.fixture(params=sorted(SPECS_BY_KIND))
def exchanges(
    request: pytest.FixtureRequest, write_config, engine, monkeypatch
) -> tuple[str, str, list[tuple[Request, Response]]]:  # type: ignore[no-untyped-def]
    kind = request.param
    harness = VENDORS[kind]
    fake = harness.make_fake()
    recorder = Recorder()
    recorder.wrap(fake)
    url = fake.start()
    try:
        extra = harness.extra_toml.format(url=url)
        config = write_config(f'[[sources]]\nname = "src"\nkind = "{kind}"\nbase_url = "{url}"\n{extra}\n')
        for key, value in harness.env.items():
            monkeypatch.setenv(f"MCC_SRC_{key}", value)
        results = sync_source(engine, config, "src", policy=TEST_POLICY)
        assert all(result.ok for result in results), [result.error for result in results]
    finally:
        fake.stop()
    host = url.rstrip("/")
    return kind, host, recorder.exchanges


def test_every_exchange_is_valid_against_the_vendors_spec(exchanges) -> None:  # type: ignore[no-untyped-def]
    kind, host, recorded = exchanges
    spec = SPECS_BY_KIND[kind]
    openapi, document = _load(spec, host)
    problems: list[str] = []
    checked = 0
    for request, response in recorded:
        if request.path in spec.skip_paths or response.status >= 400:
            continue  # error answers (a 404 of a retired product) are the fake's own fault bodies
        checked += 1
        where = f"{request.method} {request.path}?{urlencode({k: v[0] for k, v in request.query.items()})}"
        for error in openapi.iter_request_errors(_as_request(host, request)):
            problems.append(f"{where}: request: {error}")
        for error in openapi.iter_response_errors(_as_request(host, request), _as_response(response)):
            problems.append(f"{where}: response {response.status}: {error} {getattr(error, '__cause__', '')}")
        operation = _operation(document, spec, request.method, request.path)
        if operation is None:
            problems.append(f"{where}: not an operation of {spec.file}")
            continue
        body = json.loads(response.encode() or b"null")
        for path in undeclared(document, _response_schema(document, operation, response.status), body):
            if (kind, path) not in SPEC_DEFECTS:
                problems.append(f"{where}: response field {path!r} is not declared in {spec.file}")
    assert checked > 0
    problems = sorted(set(problems))
    assert problems == [], "\n".join(problems)


def test_an_undeclared_field_is_caught() -> None:
    document = {
        "components": {"schemas": {"Org": {"type": "object", "properties": {"id": {"type": "string"}}}}}
    }
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Org"}}
    assert list(undeclared(document, schema, [{"id": "1", "nmae": "typo"}])) == ["[].nmae"]
