"""Request parsing: JSON bodies and query strings into pydantic models, errors into problems.

A body must be `application/json` exactly (415 otherwise, `application/merge-patch+json` too),
UTF-8 without a byte-order mark (400: a UTF-16 body is refused, not guessed), well-formed JSON
without NaN, Infinity or duplicate keys (400, with the parser's position but none of Python's own
messages about integer digits or recursion), and valid against its model (422 with one `errors[]`
entry per field, e.g.
`{"field": "capabilities.coding", "reason": "Input should be less than or equal to 1"}`).
The size limit is Flask's MAX_CONTENT_LENGTH (413, rendered by the one error handler).
"""

from __future__ import annotations

import json
from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from app.problems import BadRequest, InvalidInput, Problem

M = TypeVar("M", bound=BaseModel)


class UnsupportedMediaType(Problem):
    status, title = 415, "Unsupported media type"


class JsonRefused(ValueError):
    """A body this service refuses as JSON; the message is fit for the caller."""


def _reject_constant(name: str):
    raise JsonRefused(f"not valid JSON: {name} is not allowed")


def parse_json(raw: bytes | str):
    """Strict JSON: UTF-8 only; NaN, Infinity and duplicate keys are errors, not silently
    accepted. Raises JsonRefused with a plain message."""
    if isinstance(raw, bytes):
        try:
            # json.loads would guess UTF-16 or UTF-32 from the first bytes; the API is UTF-8
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not UTF-8") from None
    try:
        return _loads(raw)
    except JsonRefused:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"not valid JSON: {exc.msg} (character {exc.pos})") from None
    except RecursionError:
        raise JsonRefused("not valid JSON: nested too deeply") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise JsonRefused("not valid JSON: a number has too many digits") from None


def _loads(text: str):

    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise JsonRefused(f"not valid JSON: duplicate key {key[:100]!r}")
            seen[key] = value
        return seen

    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=no_duplicates)


def read_json_body():
    """The request body as a JSON value; raises 415 / 400 problems."""
    if request.mimetype != "application/json":  # is_json would take any +json type too
        raise UnsupportedMediaType("the request body must be application/json")
    raw = request.get_data(cache=True)  # bounded by MAX_CONTENT_LENGTH (413 beyond it)
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return parse_json(raw)
    except JsonRefused as exc:
        raise BadRequest(f"the request body is {exc}") from None


def validate(model: type[M], data, strict: bool | None = None) -> M:
    """Validate already-parsed data against `model`; raises InvalidInput with field errors."""
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        raise InvalidInput("the request is not valid", field_errors=field_errors(exc)) from None


def parse_body(model: type[M]) -> M:
    return validate(model, read_json_body())


def parse_query(model: type[M]) -> M:
    """Query string into `model`; a name given twice is an error, unknown names too."""
    args = request.args
    duplicated = [name for name in args if len(args.getlist(name)) > 1]
    if duplicated:
        raise InvalidInput(
            "a query parameter was given more than once",
            field_errors=[{"field": name, "reason": "given more than once"} for name in duplicated],
        )
    return validate(model, args.to_dict())


def field_errors(exc: ValidationError) -> list[dict]:
    """pydantic errors as `{"field": "a.b", "reason": ...}`, dotted paths, no input echoed."""
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        reason = error["msg"]
        if loc and loc[-1] == "[key]":  # a bad key of a mapping: name the key itself
            loc = loc[:-1]
            reason = f"invalid name: {reason}"
        if error["type"] == "value_error":
            reason = reason.removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "body", "reason": reason})
    return out
