"""What the three FastAPI flavours share: the app factory with the routes
that never wait (/hello, /api/simple, /api/serialize), the request and
response models, our body-size limit and the CPU burner.

The routes that wait (/wait, /cpu, /users) live in async_app.py, def_app.py
and blocked_app.py, so each flavour reads top to bottom in one file.
Left out: authentication, OpenAPI tweaks, CORS.
"""

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator

import lab_common

# The query and path parameters, with the bounds of lab/api/contract.rs:
# a missing, non-integer or out-of-range value is FastAPI's own 422.
WaitMs = Annotated[int, Query(ge=0, le=lab_common.MAX_WAIT_MS)]
CpuUs = Annotated[int, Query(ge=0, le=lab_common.MAX_CPU_US)]
UserId = Annotated[int, Path(gt=0)]


class NewUser(BaseModel):
    """The body of POST /users; unknown fields are ignored (Pydantic's default)."""

    email: str

    @field_validator("email")
    @classmethod
    def simple_email_rule(cls, email: str) -> str:
        # The rule of lab/users.rs::validate_email; a ValueError here is a 422.
        if len(email) > lab_common.MAX_EMAIL_CHARS:
            raise ValueError("longer than 254 characters")
        if any(c.isspace() for c in email):
            raise ValueError("contains whitespace")
        local, at, domain = email.partition("@")
        if not at:
            raise ValueError("missing '@'")
        if not local or "@" in domain:
            raise ValueError("expected exactly one '@' after a non-empty name")
        if "." not in domain or domain.startswith(".") or domain.endswith("."):
            raise ValueError("the domain needs a dot, as in example.com")
        return email


class User(BaseModel):
    id: int
    email: str


class Item(BaseModel):
    """One of the 10,000 objects of /api/serialize."""

    id: int
    name: str
    email: str


def no_user(user_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no user with id {user_id}")


def duplicate(email: str) -> HTTPException:
    return HTTPException(status_code=409, detail=f'a user with email "{email}" already exists')


class BodyLimit:
    """Refuses request bodies over MAX_BODY_BYTES with 413 — OUR limit: FastAPI
    and Starlette read any size by default. A plain ASGI middleware that
    counts the bytes as the endpoint reads them; the HTTPException it raises
    there becomes FastAPI's usual {"detail": ...} answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = 0
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > lab_common.MAX_BODY_BYTES:
            seen = int(declared)  # refuse before reading a single byte

        async def limited_receive():
            nonlocal seen
            if seen > lab_common.MAX_BODY_BYTES:
                raise HTTPException(status_code=413, detail=lab_common.BODY_TOO_LARGE)
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > lab_common.MAX_BODY_BYTES:
                raise HTTPException(status_code=413, detail=lab_common.BODY_TOO_LARGE)
            return message

        await self.app(scope, limited_receive, send)


ROWS = lab_common.serialize_rows()


# ANCHOR: orjson
class OrjsonResponse(JSONResponse):
    """WW_JSON=orjson: the same answer, written by orjson (compiled) instead of
    the standard library's json. FastAPI's own ORJSONResponse does this too,
    but is deprecated since FastAPI writes response_model answers through
    Pydantic; a dict returned without a model, like /api/simple's, still goes
    through the response class."""

    def render(self, content) -> bytes:
        import orjson

        return orjson.dumps(content)
# ANCHOR_END: orjson


def make_app(title: str, lifespan=None) -> FastAPI:
    """The app with the routes every flavour answers the same way."""
    if lab_common.JSON == "orjson":
        app = FastAPI(title=title, lifespan=lifespan, default_response_class=OrjsonResponse)
    else:  # FastAPI's own default, untouched
        app = FastAPI(title=title, lifespan=lifespan)
    app.add_middleware(BodyLimit)

    @app.get("/hello")
    async def hello():
        return {"message": "Hello, World!"}

    # ANCHOR: simple
    @app.get("/api/simple")
    async def simple():
        return {"message": "Hello World", "status": "success"}
    # ANCHOR_END: simple

    # ANCHOR: serialize
    @app.get("/api/serialize", response_model=list[Item])
    async def serialize():
        # 10,000 dicts validated into Item and written as JSON by Pydantic.
        return ROWS
    # ANCHOR_END: serialize

    return app
