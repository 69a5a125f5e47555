"""The shapes the REST route table (api_table.py) is written in: an operation, a query
parameter, a body that is not JSON, and the shared answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from server.wire import rest, self_service


@dataclass(frozen=True)
class Media:
    """A body that is not JSON: its media type, and the type msgspec describes it by."""

    type: str
    kind: Any = str


ERROR = rest.Error
WRONG_STATE = self_service.WrongState  # 409 naming the order's status
NO_BODY = None  # 204
TEXT = Media("text/plain")
EMPTY_LIST = Annotated[list[Any], msgspec.Meta(max_length=0)]
IMAGE = (Media("image/jpeg", bytes), Media("image/png", bytes), Media("image/webp", bytes))


@dataclass(frozen=True)
class Param:
    name: str
    kind: Any  # a type msgspec can describe
    description: str
    where: str = "query"


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    auth: str | None  # "support" | "dispatcher" | "admin" (API key roles, guards.ROLES),
    # "driver", "device", "metrics", "owntracks"
    responses: dict[int, Any]  # status -> type, ERROR, NO_BODY, a Media, or a tuple (any of)
    request: Any = None  # the same: a type, a Media, or a tuple
    params: tuple[Param, ...] = ()
    database: bool = True  # 503 when it is unavailable
    description: str = ""
    deprecated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # x- extensions
    also_driver: bool = False  # a driver's token is accepted too (for what `description` says)
