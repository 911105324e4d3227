"""Every error leaves as a JSON body with a stable shape; never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


def error_body(status: int, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"status": status, "message": message, **extra}}


def install(app: FastAPI) -> None:
    from shared.provider.errors import ProviderError  # noqa: PLC0415
    from web import provider_errors  # noqa: PLC0415  (builds on error_body)
    from web.refusal import Refusal, respond  # noqa: PLC0415  (refusal builds on error_body)

    app.add_exception_handler(Refusal, respond)
    app.add_exception_handler(ProviderError, provider_errors.respond)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body(422, "invalid request", details=details), status_code=422)

    @app.exception_handler(RedisError)
    async def _redis(_: Request, exc: RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", type(exc).__name__)
        return JSONResponse(error_body(503, "data store unavailable"), status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, __: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(500, "internal error"), status_code=500)
