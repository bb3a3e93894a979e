"""The `operation` decorator: one declaration per API view for access, validation and docs.

    @bp.post("/api/v1/models")
    @operation("admin", "Register a model", body=ModelIn, response=ModelOut, status=201,
               errors=(409,))
    def create_model(body: ModelIn): ...

The decorator checks nothing about the caller itself (app.api.auth enforces the declared level
before the view runs, so a caller without a key gets 401 before its body is read); it parses the
query string (unknown names refused) and the JSON body into the declared models and passes them
as `query` and `body`. The declaration is also the route table that app.api.openapi describes, so
the description, the validation and the access check cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request
from pydantic import BaseModel

from app.api import auth
from app.api.schemas import NoQuery
from app.api.validation import parse_body, parse_query


@dataclass(frozen=True)
class Operation:
    access: str
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] = NoQuery
    response: Any = None  # a pydantic model, or None for no body
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    path_params: dict[str, dict] = field(default_factory=dict)  # name -> JSON schema


def operation(
    access: str,
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] = NoQuery,
    response: Any = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    description: str = "",
    path_params: dict[str, dict] | None = None,
) -> Callable:
    spec = Operation(
        access,
        summary,
        body,
        query,
        response,
        status,
        tuple(errors),
        description,
        dict(path_params or {}),
    )

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(**kwargs):
            if spec.query is not NoQuery:
                kwargs["query"] = parse_query(spec.query)
            elif request.query_string:
                parse_query(NoQuery)  # refuses unknown parameters
            if spec.body is not None:
                kwargs["body"] = parse_body(spec.body)
            return fn(**kwargs)

        view.operation = spec
        return auth.requires(access)(view)

    return wrap


def operation_of(view: Callable) -> Operation | None:
    return getattr(view, "operation", None)
