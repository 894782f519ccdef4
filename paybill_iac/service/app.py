"""The ASGI application: the guard in front of everything, then the REST routes and the MCP endpoint.

The guard (pure ASGI, outermost) on every request:
    1. GET /healthz is answered at once: the only path without a token
    2. the bearer token is authenticated (constant-time hash comparison in the store); without a valid
       one: 401 with the same body whatever was wrong (missing, malformed, unknown, expired, revoked),
       and failed attempts are rate limited per client address
    3. the token's rate limit (429 with Retry-After), then the body's size (413, by Content-Length and
       as it streams)
    4. the principal is handed to the routes in the scope; no header or parameter can set it
    5. any failure becomes a problem body; a traceback never reaches a caller (nor the log, unless
       PAYBILL_DEBUG is set)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio.to_thread
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paybill_iac.service import agents, openapi
from paybill_iac.service.auth import bearer
from paybill_iac.service.core import Service
from paybill_iac.service.limits import RateLimiter
from paybill_iac.service.problems import Problem, from_error
from paybill_iac.service.rest import PRINCIPAL, routes

log = logging.getLogger("paybill_iac.service")

HEALTH = b'{"status":"ok"}'
FAILED_AUTH_RATE = 20.0
FAILED_AUTH_BURST = 100
"""Requests without a valid token, per client address (a token's 256 random bits make guessing futile;
this keeps a flood from reaching the database)."""


class BodyTooLarge(Exception):
    pass


class Guard:
    """Authentication, rate limits, size limits and the last line against tracebacks (see the module doc)."""

    def __init__(self, app: ASGIApp, service: Service):
        self.app = app
        self.service = service
        config = service.config
        self.max_body = config.max_body
        self.limiter = RateLimiter(config.rate, config.burst)
        self.failures = RateLimiter(FAILED_AUTH_RATE, FAILED_AUTH_BURST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        path = scope.get("path", "")
        try:
            if path == "/healthz":
                await self._health(scope, tracked)
                return
            await self._guarded(scope, receive, tracked)
        except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
            if isinstance(error, BodyTooLarge):
                error = Problem("payload-too-large", f"the body is larger than {self.max_body} bytes")
            if started:  # the exception handler answered already (and from_error logged it)
                log.debug("after the response started on %s: %s", path, type(error).__name__)
                return
            await from_error(error).response(path)(scope, receive, tracked)

    async def _health(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise Problem("method-not-allowed", "GET /healthz")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": HEALTH if scope["method"] == "GET" else b""})

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        token = bearer(headers.get("authorization"))
        principal = await anyio.to_thread.run_sync(self.service.authenticate, token) if token else None
        if principal is None:
            address = (scope.get("client") or ("unknown", 0))[0]
            wait = self.failures.take(f"ip:{address}")
            if wait:
                raise Problem("rate-limited", "too many requests without a valid token from this address",
                              headers={"Retry-After": str(max(1, round(wait)))})
            raise Problem("unauthenticated", "a valid bearer token is required (Authorization: Bearer <token>)",
                          headers={"WWW-Authenticate": 'Bearer realm="paybill-iac"'
                                   + (', error="invalid_token"' if token else "")})
        wait = self.limiter.take(principal.token_id)
        if wait:
            raise Problem("rate-limited", f"this token's limit is {self.service.config.rate:g} requests per second "
                          f"(bursts of {self.service.config.burst})", headers={"Retry-After": str(max(1, round(wait)))})
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise Problem("payload-too-large", f"the body is larger than {self.max_body} bytes")
        scope[PRINCIPAL] = principal
        await self.app(scope, self._capped(receive), send)

    def _capped(self, receive: Receive) -> Receive:
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return message

        return capped


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        if name not in found:  # the first of a repeated header; a second Authorization changes nothing
            found[name] = value.decode("latin-1")
    return found


async def _problem(request: Request, error: Exception) -> Response:
    if isinstance(error, HTTPException):
        kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "bad-request")
        detail = {404: f"no endpoint {request.url.path[:100]}",
                  405: f"{request.method} is not allowed on {request.url.path[:100]}"}.get(error.status_code,
                                                                                         str(error.detail))
        return Problem(kind, detail).response(request.url.path)
    if isinstance(error, BodyTooLarge):
        return Problem("payload-too-large", "the body is too large").response(request.url.path)
    return from_error(error).response(request.url.path)


def build_app(service: Service, *, bind_host: str = "127.0.0.1") -> Starlette:
    """The whole application: REST, /v1/openapi.json, MCP at /mcp, behind the guard."""
    config = service.config
    server = agents.build(service, write_tools=config.write_tools, issuer_url=config.public_url)
    loopback = bind_host in ("127.0.0.1", "localhost", "::1")
    # DNS-rebinding protection for a loopback bind (the SDK's default there); elsewhere the bearer token
    # (which a browser never attaches on its own) and the TLS proxy or certificate guard the endpoint.
    security = None if loopback else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    mcp_app = server.streamable_http_app(streamable_http_path="/mcp", max_request_body_size=config.max_body,
                                         transport_security=security, host=bind_host)
    try:
        release = version("paybill-iac")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        release = "0"
    document = openapi.document(release)

    async def openapi_json(request: Request) -> Response:
        if request.query_params:
            raise Problem("bad-request", "this endpoint takes no query parameters")
        return JSONResponse(document)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = Starlette(
        routes=[*routes(service), Route("/v1/openapi.json", openapi_json, methods=["GET"]),
                Route("/mcp", endpoint=mcp_app)],
        exception_handlers={Problem: _problem, HTTPException: _problem, Exception: _problem},  # type: ignore[dict-item]
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # /v1/tenants/ is not /v1/tenants: 404, never a redirect
    app.state.service = service
    return app  # the guard wraps it in asgi()


def asgi(service: Service, *, bind_host: str = "127.0.0.1") -> Any:
    """The application as uvicorn runs it: the guard around `build_app`."""
    return Guard(build_app(service, bind_host=bind_host), service)
