"""The Web Connector's SOAP 1.1 wire format and a small threaded WSGI server for it.

A hand-written envelope serves better than a SOAP framework here: eight methods with string and int
arguments, one fixed namespace (http://developer.intuit.com/), and the stdlib parser with DTDs refused.
Every call answers with a result, never a fault, unless the request itself is not SOAP: a fault makes
the Web Connector retry the same call forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.etree import ElementTree

from accounting.qbd import parse_xml
from accounting.qbwc import WebConnectorService
from mcc.errors import MccError

log = logging.getLogger(__name__)

INTUIT = "http://developer.intuit.com/"
SOAP_ENVELOPES = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
MAX_BODY = 20 * 1024 * 1024  # a qbXML answer with many invoices is large, but not this large


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def envelope(method: str, result: str | int | list[str]) -> bytes:
    if isinstance(result, list):
        inner = "".join(f"<string>{_escape(item)}</string>" for item in result)
    else:
        inner = _escape(str(result))
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<soap:Body><{method}Response xmlns="{INTUIT}"><{method}Result>{inner}</{method}Result>'
        f"</{method}Response></soap:Body></soap:Envelope>"
    ).encode()


def fault(message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        f"<faultcode>soap:Client</faultcode><faultstring>{_escape(message)}</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def read_call(body: bytes) -> tuple[str, dict[str, str]]:
    """(method, arguments by local name) from a SOAP request; MccError when it is not one."""
    root = parse_xml(body, "the SOAP request")
    if _local(root.tag) != "Envelope":
        raise MccError("the request is not a SOAP envelope")
    soap_body: ElementTree.Element | None = None
    for namespace in SOAP_ENVELOPES:
        soap_body = root.find(f"{{{namespace}}}Body")
        if soap_body is not None:
            break
    if soap_body is None or len(soap_body) == 0:
        raise MccError("the SOAP envelope has no call in its Body")
    call = soap_body[0]
    return _local(call.tag), {_local(child.tag): child.text or "" for child in call}


def dispatch(service: WebConnectorService, method: str, args: dict[str, str]) -> str | int | list[str]:
    def arg(name: str) -> str:
        return args.get(name, "")

    if method == "serverVersion":
        return service.server_version()
    if method == "clientVersion":
        return service.client_version(arg("strVersion"))
    if method == "authenticate":
        return service.authenticate(arg("strUserName"), arg("strPassword"))
    if method == "sendRequestXML":
        return service.send_request_xml(arg("ticket"))
    if method == "receiveResponseXML":
        return service.receive_response_xml(arg("ticket"), arg("response"), arg("hresult"), arg("message"))
    if method == "connectionError":
        return service.connection_error(arg("ticket"), arg("hresult"), arg("message"))
    if method == "getLastError":
        return service.get_last_error(arg("ticket"))
    if method == "closeConnection":
        return service.close_connection(arg("ticket"))
    raise MccError(f"unknown Web Connector method {method!r}")


def application(service: WebConnectorService) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: POST a SOAP call to any path; GET answers with a line saying what this is."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            text = b"Morton Command Center: QuickBooks Web Connector service (SOAP over POST)\n"
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
            return [text]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            start_response("413 Request Entity Too Large", [("Content-Type", "text/plain")])
            return [b"request body missing its length or too large\n"]
        body = environ["wsgi.input"].read(length)
        status = "200 OK"
        try:
            method, args = read_call(body)
            payload = envelope(method, dispatch(service, method, args))
        except MccError as error:
            log.warning("Web Connector request refused: %s", error)
            status, payload = "500 Internal Server Error", fault(str(error))
        start_response(
            status, [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # request lines go to our log, not stderr
        log.info("%s %s", self.address_string(), format % args)


def make_qbwc_server(service: WebConnectorService, host: str, port: int) -> WSGIServer:
    return make_server(host, port, application(service), _ThreadingServer, _QuietHandler)


def serve_in_thread(service: WebConnectorService, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """Start the service on a free port in a background thread (tests, the demo); `.shutdown()` stops it."""
    server = make_qbwc_server(service, host, port)
    threading.Thread(target=server.serve_forever, name="qbwc", daemon=True).start()
    return server
