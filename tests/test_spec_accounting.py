"""Every exchange of the accounting writers (and the Pax8 token call) with their fakes, held against the
vendors' published specifications: Xero against its Accounting OpenAPI with openapi-core, Sage against
its v3.1 Swagger 2.0 file (request and response bodies against the swagger's JSON schemas, with
jsonschema), QuickBooks Online invoice JSON against the element names of the entity XSDs, and the Pax8
token call against the Pax8 authentication OpenAPI. A push, a lookup after an unknown outcome and a
validation error are driven through each writer; every field either side uses must be declared.

The specs live outside the repository (`../shared/specs`, or `MCC_SPECS_DIR`); without them these tests
skip, e.g. in a user's clone."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from openapi_core import Config, OpenAPI

from accounting.registry import writer_for
from mcc import invoicing
from sandbox import quickbooks, sage, xero
from sandbox.server import Fake, Request, Response
from tests.invoicebook import APPROVER, INVOICER, PERIOD, seed
from tests.test_spec_conformance import SPECS, Recorder, _as_request, _as_response, undeclared

# Xero ContactIDs are UUIDs (the spec's `format: uuid`).
XERO_CONTACTS = {
    "5b7d5c1e-8f1a-4c4e-9d7e-3f2a1b0c9d01": "Acme Dental",
    "5b7d5c1e-8f1a-4c4e-9d7e-3f2a1b0c9d02": "Beta Law",
}
CUSTOMERS = {"58": "Acme Dental", "59": "Beta Law"}
ITEMS = ["WS", "M365-BP", "LABOR"]

# Fields a fake answers (because the real API sends them) that the spec leaves undeclared, each with why
# it is a defect of the spec and not of our model. Keep this list short and reasoned.
SPEC_DEFECTS: dict[tuple[str, str], str] = {
    **{
        ("xero", name): "every Xero answer is wrapped in Id, Status, ProviderName and DateTimeUTC beside the "
        "entity list (developer.xero.com's response examples); the spec declares only the list"
        for name in ("Id", "Status", "ProviderName", "DateTimeUTC")
    },
    **{
        ("xero", f"Invoices[].{name}"): "Xero answers each date a second time as a plain string (DateString, "
        "DueDateString) beside the /Date(ms)/ value; the spec declares only the latter"
        for name in ("DateString", "DueDateString")
    },
    ("xero", "Elements[]."): "a ValidationException echoes the whole rejected invoice in Elements (the "
    "validation-errors example of developer.xero.com); the spec's Element declares only the ids and "
    "ValidationErrors",
    ("sage", "header Idempotency-Key"): "Sage's idempotency guide documents the Idempotency-Key header for "
    "POST sales_invoices; the swagger lists no header parameters",
    ("sage", "list envelope"): "list answers are an object with $total, $page, $next, $back, "
    "$items_per_page and $items (the API's paging guide); the swagger types them as a bare array of items",
}


def known_defect(kind: str, path: str) -> bool:
    """`path` is a listed defect of the spec, itself or under a listed prefix (a key ending in `.`)."""
    return (kind, path) in SPEC_DEFECTS or any(
        k == kind and p.endswith(".") and path.startswith(p) for k, p in SPEC_DEFECTS
    )


SAGE_ENVELOPE = {"$total", "$page", "$next", "$back", "$items_per_page", "$items"}


def _xero() -> Fake:
    return xero.XeroFake(contacts=XERO_CONTACTS, item_codes=ITEMS)


def _qbo() -> Fake:
    fake = quickbooks.QuickBooksFake(customers=CUSTOMERS)
    fake.seed({}, ITEMS)
    return fake


def _sage() -> Fake:
    return sage.SageFake(contacts=CUSTOMERS)


WRITERS: dict[str, Any] = {
    "xero": (
        _xero,
        lambda f: f'kind = "xero"\ntenant_id = "{f.tenant_id}"\n',
        xero,
        lambda f: f.fail_next_invoice("Account code '999' is not a valid code for this document."),
        lambda f: "/api.xro/2.0/Invoices",
        list(XERO_CONTACTS),
    ),
    "quickbooks": (
        _qbo,
        lambda f: f'kind = "quickbooks"\nrealm_id = "{f.realm_id}"\n',
        quickbooks,
        lambda f: f.fail_next_invoice(code="6000", message="A business validation error", detail="no item"),
        lambda f: f"/v3/company/{f.realm_id}/invoice",
        list(CUSTOMERS),
    ),
    "sage": (
        _sage,
        lambda f: (
            f'kind = "sage"\nincome_account = "{sage.DEFAULT_LEDGER_ACCOUNT}"\n'
            '[accounting.tax_rates]\nWS = "GB_STANDARD"\n"*" = "GB_ZERO"\n'
        ),
        sage,
        lambda f: f.fail_next_invoice("can't be blank", "date"),
        lambda f: "/v3.1/sales_invoices",
        list(CUSTOMERS),
    ),
}


@pytest.fixture(params=sorted(WRITERS))
def writer_exchanges(  # type: ignore[no-untyped-def]
    request: pytest.FixtureRequest, write_config, engine, monkeypatch
) -> tuple[str, str, list[tuple[Request, Response]]]:
    """Validation error, then a 500 on the create (an unknown outcome), then the retry: a lookup by our
    reference and the create."""
    kind = request.param
    make, toml, module, reject, create_path, ids = WRITERS[kind]
    fake = make()
    recorder = Recorder()
    recorder.wrap(fake)
    url = fake.start()
    try:
        monkeypatch.setenv(f"MCC_{kind.upper()}_CLIENT_ID", module.DEFAULT_CLIENT_ID)
        monkeypatch.setenv(f"MCC_{kind.upper()}_CLIENT_SECRET", module.DEFAULT_CLIENT_SECRET)
        monkeypatch.setenv(f"MCC_{kind.upper()}_REFRESH_TOKEN", module.DEFAULT_REFRESH_TOKEN)
        monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
        config = write_config(f'[accounting]\nbase_url = "{url}"\nauth_url = "{url}"\n' + toml(fake))
        book = seed(engine, acme_accounting_id=ids[0], beta_accounting_id=ids[1])
        for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
            invoicing.approve(engine, INVOICER, invoice.id)
        reject(fake)
        rejected = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0]
        assert rejected.status == "failed", rejected
        fake.faults.add(path=create_path(fake), status=500, times=3)
        with writer_for(config, engine, sleep=lambda s: None, default_retry_after=0) as writer:
            failed = invoicing.push(
                engine, config, INVOICER, period=PERIOD, client_id=book.acme, writer=writer
            )[0]
        assert failed.status == "failed", failed
        fake.faults.clear()
        results = invoicing.push(engine, config, INVOICER, period=PERIOD)
        assert sorted(r.status for r in results) == ["pushed", "pushed"], results
    finally:
        fake.stop()
    methods = [(r.method, r.path) for r, _ in recorder.exchanges]
    assert ("GET", create_path(fake).replace("/invoice", "/query")) in methods or (
        "GET",
        create_path(fake),
    ) in methods
    return kind, url.rstrip("/"), recorder.exchanges


def _where(request: Request) -> str:
    return f"{request.method} {request.path}?{urlencode({k: v[0] for k, v in request.query.items()})}"


def _json(data: bytes) -> Any:
    return json.loads(data or b"null")


# --- Xero: openapi-core against the Accounting OpenAPI -------------------------------------------------


@cache
def _xero_document() -> str:
    return (SPECS / "xero_accounting.yaml").read_text()


def xero_problems(host: str, recorded: list[tuple[Request, Response]]) -> list[str]:
    import yaml

    document = yaml.safe_load(_xero_document())
    document["servers"] = [{"url": f"{host}/api.xro/2.0"}]
    # The document itself breaks OpenAPI in places (`default: 'false'` on booleans); the exchanges are
    # still checked against it.
    openapi = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
    problems: list[str] = []
    for request, response in recorded:
        if not request.path.startswith("/api.xro/2.0/"):
            continue  # the token endpoint is identity.xero.com's, outside the Accounting API
        where = _where(request)
        spec_request = _as_request(host, request)
        problems += [
            f"{where}: request: {e} {e.__cause__ or ''}" for e in openapi.iter_request_errors(spec_request)
        ]
        if response.status < 500:
            problems += [
                f"{where}: response {response.status}: {e} {e.__cause__ or ''}"
                for e in openapi.iter_response_errors(spec_request, _as_response(response))
            ]
        operation = _openapi_operation(document, "/api.xro/2.0", request)
        if operation is None:
            problems.append(f"{where}: not an operation of xero_accounting.yaml")
            continue
        if request.body:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            for path in undeclared(document, schema, _json(request.body)):
                problems.append(f"{where}: request field {path!r} is not declared")
        if response.status < 500:
            answer = operation["responses"].get(str(response.status)) or {}
            answer = _deref(document, answer)
            schema = (answer.get("content", {}).get("application/json") or {}).get("schema")
            for path in undeclared(document, schema, _json(response.encode())):
                if not known_defect("xero", path):
                    problems.append(f"{where}: response field {path!r} is not declared")
    return problems


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _template_match(template: str, path: str) -> bool:
    parts, actual = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(actual) and all(
        p == a or (p.startswith("{") and p.endswith("}")) for p, a in zip(parts, actual, strict=True)
    )


def _openapi_operation(document: dict[str, Any], prefix: str, request: Request) -> dict[str, Any] | None:
    local = request.path[len(prefix) :]
    exact = [t for t in document["paths"] if t == local]
    for template in exact or [t for t in document["paths"] if _template_match(t, local)]:
        operation: dict[str, Any] | None = document["paths"][template].get(request.method.lower())
        if operation is not None:
            return operation
    return None


# --- Sage: the swagger's JSON schemas with jsonschema --------------------------------------------------


@cache
def _sage_text() -> str:
    return (SPECS / "sage_accounting_v3.1_openapi.json").read_text()


def _swagger_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema of the swagger, checkable on its own: the definitions alongside, and swagger's
    `x-nullable` read as JSON Schema's null."""
    return {**schema, "definitions": document.get("definitions", {})}


def sage_problems(host: str, recorded: list[tuple[Request, Response]]) -> list[str]:
    document = json.loads(_sage_text())
    base = document.get("basePath", "/v3.1")
    problems: list[str] = []
    for request, response in recorded:
        if not request.path.startswith(base + "/"):
            continue  # the token endpoint is oauth.accounting.sage.com's
        where = _where(request)
        operation = _openapi_operation(document, base, request)
        if operation is None:
            problems.append(f"{where}: not an operation of the Sage swagger")
            continue
        parameters = [_deref(document, p) for p in operation.get("parameters", [])]
        declared_query = {p["name"] for p in parameters if p.get("in") == "query"}
        for name in request.query:
            if name not in declared_query:
                problems.append(f"{where}: query parameter {name!r} is not declared")
        declared_headers = {p["name"].lower() for p in parameters if p.get("in") == "header"}
        if (
            request.header("idempotency-key") is not None
            and "idempotency-key" not in declared_headers
            and not known_defect("sage", "header Idempotency-Key")
        ):
            problems.append(f"{where}: header 'Idempotency-Key' is not declared")
        body_parameter = next((p for p in parameters if p.get("in") == "body"), None)
        if request.body:
            if body_parameter is None:
                problems.append(f"{where}: a body the operation does not take")
            else:
                problems += _schema_errors(
                    document, where, "request", body_parameter["schema"], _json(request.body)
                )
        if response.status >= 300:
            continue  # Sage's error bodies are not described per operation
        answer = _deref(document, operation["responses"].get(str(response.status)) or {})
        if "schema" not in answer:
            problems.append(f"{where}: response {response.status} is not described")
            continue
        body, schema = _json(response.encode()), answer["schema"]
        if schema.get("type") == "array" and isinstance(body, dict) and known_defect("sage", "list envelope"):
            problems += [
                f"{where}: response envelope key {k!r} is unknown" for k in set(body) - SAGE_ENVELOPE
            ]
            body = body.get("$items")
        problems += _schema_errors(document, where, "response", schema, body)
    return problems


def _schema_errors(
    document: dict[str, Any], where: str, side: str, schema: dict[str, Any], value: Any
) -> list[str]:
    validator = jsonschema.Draft4Validator(_swagger_schema(document, schema))
    found = [f"{where}: {side}: {e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(value)]
    found += [
        f"{where}: {side} field {path!r} is not declared"
        for path in undeclared(document, schema, value)
        if not known_defect("sage", path)
    ]
    return found


# --- QuickBooks Online: element names of the entity XSDs -----------------------------------------------

XS = "{http://www.w3.org/2001/XMLSchema}"


@cache
def _qbo_types() -> dict[str, ET.Element]:
    types: dict[str, ET.Element] = {}
    for path in sorted((SPECS / "qbo").glob("*.xsd")):
        for node in ET.parse(path).getroot():
            if node.tag in (f"{XS}complexType", f"{XS}simpleType") and node.get("name"):
                types[node.get("name", "")] = node
            elif node.tag == f"{XS}element" and node.get("name") and node.get("type"):
                types.setdefault(f"element:{node.get('name')}", node)
                if _local(node.get("substitutionGroup")):
                    types[f"member:{_local(node.get('substitutionGroup'))}:{node.get('name')}"] = node
    return types


# Types the stored XSDs name but do not define: IntuitNamesTypes.xsd (Customer, Vendor, Employee...) is
# included by Finance.xsd but not among the stored files, so what QuickBooks answers for a Customer
# cannot be checked here (MCC reads only its Id, DisplayName and CurrencyRef).
QBO_UNDEFINED = {"Customer": "defined in IntuitNamesTypes.xsd, which is not among the stored XSDs"}


def _local(name: str | None) -> str:
    return (name or "").split(":")[-1]


def qbo_fields(type_name: str) -> dict[str, str | None]:
    """Element (and attribute) names of a complexType, through its extension bases, each with its type
    (None for a simple type); a simpleContent type's text is `value`, as the JSON API names it."""
    types = _qbo_types()
    node = types.get(type_name)
    if node is None or node.tag != f"{XS}complexType":
        return {}
    fields: dict[str, str | None] = {}
    for child in node.iter():
        if child.tag == f"{XS}extension" and child.get("base"):
            fields.update(qbo_fields(_local(child.get("base"))))
            if any(parent.tag == f"{XS}simpleContent" for parent in node.iter()):
                fields["value"] = None
        elif child.tag == f"{XS}element" and child.get("name"):
            kind = _local(child.get("type"))
            fields[child.get("name", "")] = (
                kind if types.get(kind) is not None and types[kind].tag == f"{XS}complexType" else None
            )
        elif child.tag == f"{XS}element" and child.get("ref"):
            ref = _local(child.get("ref"))
            members = [key.rsplit(":", 1)[1] for key in types if key.startswith(f"member:{ref}:")]
            for name in members or [ref]:  # an abstract head stands for its substitution group
                element = types.get(f"element:{name}")
                fields[name] = _local(element.get("type")) if element is not None else None
        elif child.tag == f"{XS}attribute" and child.get("name"):
            fields[child.get("name", "")] = None
    return fields


# JSON keys of the REST answers that are not entity content (the envelope of every answer).
QBO_ENVELOPE = {"time"}


def qbo_undeclared(type_name: str, value: Any, where: str = "") -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from qbo_undeclared(type_name, item, f"{where}[]")
        return
    if not isinstance(value, dict):
        return
    if type_name in QBO_UNDEFINED:
        return
    fields = qbo_fields(type_name)
    assert fields, f"{type_name} is not a complexType of the stored XSDs"
    for key, item in value.items():
        if key not in fields:
            yield f"{where}.{key}".lstrip(".")
        elif fields[key] is not None:
            yield from qbo_undeclared(str(fields[key]), item, f"{where}.{key}")


def qbo_problems(host: str, recorded: list[tuple[Request, Response]]) -> list[str]:
    problems: list[str] = []
    for request, response in recorded:
        if "/v3/company/" not in request.path:
            continue
        where = _where(request)
        if request.path.endswith("/invoice") and request.body:
            problems += [
                f"{where}: request field {p!r}" for p in qbo_undeclared("Invoice", _json(request.body))
            ]
        if response.status >= 500:  # a 400 Fault is checked too (IntuitResponse.Fault)
            continue
        body = _json(response.encode())
        for key, value in body.items():
            if key in QBO_ENVELOPE:
                continue
            root = "IntuitResponse"  # the REST answer: an entity, a QueryResponse or a Fault
            element = _qbo_types().get(f"element:{key}")
            if key not in qbo_fields(root) and element is None:
                problems.append(f"{where}: response key {key!r} is not an element of the XSDs")
                continue
            kind = qbo_fields(root).get(key) or _local(element.get("type") if element is not None else None)
            problems += [
                f"{where}: response field {key}.{p}"
                for p in qbo_undeclared(str(kind), value)
                if not known_defect("quickbooks", f"{key}.{p}")
            ]
    return problems


CHECKS = {"xero": xero_problems, "sage": sage_problems, "quickbooks": qbo_problems}


def test_every_writer_exchange_is_valid_against_the_vendors_spec(writer_exchanges) -> None:  # type: ignore[no-untyped-def]
    kind, host, recorded = writer_exchanges
    problems = sorted(set(CHECKS[kind](host, recorded)))
    assert problems == [], "\n".join(problems)


# --- Pax8: the token call against the authentication OpenAPI --------------------------------------------


def test_the_pax8_token_call_is_valid_against_the_auth_spec(write_config, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from collectors.sync import sync_source
    from tests.sources.conftest import TEST_POLICY
    from tests.sources.harness import VENDORS

    harness = VENDORS["pax8"]
    fake = harness.make_fake()
    recorder = Recorder()
    recorder.wrap(fake)
    url = fake.start()
    try:
        extra = harness.extra_toml.format(url=url)
        config = write_config(f'[[sources]]\nname = "src"\nkind = "pax8"\nbase_url = "{url}"\n{extra}\n')
        for key, value in harness.env.items():
            monkeypatch.setenv(f"MCC_SRC_{key}", value)
        assert all(r.ok for r in sync_source(engine, config, "src", policy=TEST_POLICY))
    finally:
        fake.stop()
    host = url.rstrip("/")
    document = json.loads((SPECS / "pax8-authentication-openapi.json").read_text())
    document["servers"] = [{"url": f"{host}/v1"}]
    openapi = OpenAPI.from_dict(document)
    tokens = [(q, a) for q, a in recorder.exchanges if q.path == "/v1/token"]
    assert tokens
    problems: list[str] = []
    operation = document["paths"]["/token"]["post"]
    for request, response in tokens:
        spec_request = _as_request(host, request)
        problems += [f"request: {e} {e.__cause__ or ''}" for e in openapi.iter_request_errors(spec_request)]
        problems += [
            f"response: {e} {e.__cause__ or ''}"
            for e in openapi.iter_response_errors(spec_request, _as_response(response))
        ]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        problems += [f"request field {p!r}" for p in undeclared(document, schema, _json(request.body))]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        problems += [f"response field {p!r}" for p in undeclared(document, answer, _json(response.encode()))]
    assert sorted(set(problems)) == [], "\n".join(sorted(set(problems)))


# --- the checks themselves catch what they are for ------------------------------------------------------


def test_an_undeclared_qbo_invoice_field_is_caught() -> None:
    invoice = {
        "CustomerRef": {"value": "58", "nmae": "x"},
        "Line": [{"Amount": 1, "Colour": "red"}],
        "Memo": "x",
    }
    assert sorted(qbo_undeclared("Invoice", invoice)) == ["CustomerRef.nmae", "Line[].Colour", "Memo"]
