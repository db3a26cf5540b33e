"""``clipsearch serve``: an HTTP API over one index, and a web page to look at the results.

Safety by construction: files and thumbnails are reached only by item id (an integer path
parameter), never by a client-supplied path. A file is opened once, with no symlink followed along
its real path, inside the folders the index was asked to index (``follow_links`` lifts that), and
served from that descriptor only while it is still what was indexed (a regular file, same size and
mtime). Requests must name an allowed host (loopback names, plus ``allow_hosts``): a DNS-rebinding
page reaches nothing; anything but GET from another site's page is refused. Uploads are
size-capped and decoded with the decompression-bomb bound. ``token`` requires
``Authorization: Bearer TOKEN`` (or ``?token=`` for image tags) on every API call.

The model loads once, on the first query that needs it; text embeddings are cached; one lock
serialises the vector index catch-up and search, so concurrent requests are safe.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import UPLOAD_MAX_BYTES, IndexLocation
from ..errors import ClipsearchError, ImageLoadError, IndexNotFoundError, IndexReadOnlyError, UsageError
from .routes import add_change_routes, add_item_routes, add_query_routes
from .state import ServerState

MAX_UPLOAD_BYTES = UPLOAD_MAX_BYTES


def create_app(
    location: IndexLocation,
    *,
    token: str | None = None,
    device: str | None = None,
    loader: Any = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    allow_hosts: tuple[str, ...] = (),
    follow_links: bool = False,
    changes_to: str | None = None,
) -> Any:
    """The FastAPI application for one index (opened now: a missing index fails here, not later).

    ``allow_hosts``: host names (or ``*``) accepted in the Host header besides the loopback ones;
    ``follow_links``: serve files whose real path lies outside the indexed folders;
    ``changes_to``: the page may dismiss duplicate groups and move copies into this folder (and
    undo), else the server changes nothing."""
    state = ServerState(location, device, loader, follow_links, changes_to)
    app = FastAPI(title="clipsearch", version="1", description="Semantic image search over one index.",
                  responses=ERRORS)  # fmt: skip
    app.state.clipsearch = state
    allowed = frozenset(h.lower().strip("[]") for h in allow_hosts) | LOOPBACK_NAMES

    @app.middleware("http")
    async def _same_origin(request: Request, call_next: Any) -> Any:
        host = host_name(request.headers.get("host", ""))
        if not host_allowed(host, allowed):
            return JSONResponse({"error": f"host {host!r} is not served here (serve --allow-host {host or 'NAME'})"},
                                status_code=421)  # fmt: skip
        if request.method not in SAFE_METHODS or _writes(request):
            origin = request.headers.get("origin")
            cross = request.headers.get("sec-fetch-site") == "cross-site"
            if cross or (origin and not host_allowed(host_name(origin.split("://", 1)[-1]), allowed)):
                return JSONResponse({"error": "refused: a request from another site's page"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")  # a served file is what its type says
        return response

    def require_token(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ClipsearchError)
    async def _errors(_request: Request, err: ClipsearchError) -> JSONResponse:
        code = (
            404 if isinstance(err, IndexNotFoundError) else 400 if isinstance(err, UsageError | ImageLoadError)
            else 403 if isinstance(err, IndexReadOnlyError) else 500
        )  # fmt: skip
        return JSONResponse({"error": getattr(err, "web", None) or str(err)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        why = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
                        for e in err.errors())  # fmt: skip
        return JSONResponse({"error": why or "malformed request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_errors(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code, headers=err.headers)

    guard = [Depends(require_token)]

    add_query_routes(app, state, guard, max_upload_bytes)
    add_item_routes(app, state, guard)
    add_change_routes(app, state, guard)
    return app


_ERROR_BODY = {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}  # fmt: skip
#: What every route may answer besides its own result (422, a malformed parameter, FastAPI adds).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": why, "content": _ERROR_BODY}
    for code, why in {
        400: "cannot be done as asked (the reason is the error)",
        401: "missing or wrong bearer token (serve --token)",
        403: "refused: a request from another site's page, or a write to a read-only index",
        404: "no such item, or its file is gone or changed since it was indexed",
        413: "upload larger than the server accepts",
        421: "a host name this server does not answer (serve --allow-host)",
        422: "a parameter malformed or out of range (the error names it)",
        500: "the index is damaged or its catalog server unreachable (the error says which)",
    }.items()
}

#: Host names that always reach this machine's loopback (RFC 6761: ``*.localhost`` too).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(value: str) -> str:
    """The host of a Host header or an origin's authority, without port, brackets or case."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    return "*" in allowed or host in allowed or host.endswith(".localhost") or is_loopback(host)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: GET requests that change the index's files or hold it long: another site's page may not send them
#: (an `<img src>` needs no script), whatever the method says.
_WRITING_GETS = {"/api/map": "rebuild"}


def _writes(request: Request) -> bool:
    flag = _WRITING_GETS.get(request.url.path)
    return flag is not None and request.query_params.get(flag, "").lower() in ("1", "true", "on", "yes")
