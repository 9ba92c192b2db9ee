"""MongoDB's type bracketing for range queries, which the dev server's engine does not apply.

MongoDB compares `$lt`, `$lte`, `$gt` and `$gte` only with values of the operand's own type:
`{expires_at: {$lte: <date>}}` never matches a document whose `expires_at` is null. mongoeco 4.11
orders values across types instead (null < numbers < strings < ... < dates), so that query matched
every null: a forming team whose expiry was not set yet (its leader had not paid) failed "at
expiry" at the dev server's next sweep. The dev server therefore rewrites each query filter it
receives: a range operator on a date, number, string, boolean or ObjectId gets a `$type` condition
on the same field.

For a scalar field that is exactly MongoDB's answer. For an array it is slightly wider: MongoDB
wants one element both of the type and in range, the rewrite accepts one element of the type and
another in mongoeco's cross-type range (`[null, <later date>]` for `$lt: <date>`). Stages nested
in `$lookup` or `$facet` pipelines are not rewritten; only top-level `$match` stages are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import Decimal128, ObjectId

RANGE_OPERATORS = frozenset({"$lt", "$lte", "$gt", "$gte"})
LOGICAL_OPERATORS = frozenset({"$and", "$or", "$nor"})
# where each command carries its query filter(s)
FILTER_KEYS = {"find": "filter", "count": "query", "distinct": "query", "findandmodify": "query"}
STATEMENT_LISTS = {"update": "updates", "delete": "deletes"}


def bracketed_command(body: dict[str, Any]) -> dict[str, Any]:
    """The command with every query filter it carries bracketed (a new dict; `body` is kept)."""
    if not body:
        return body
    name = next(iter(body)).lower()
    if key := FILTER_KEYS.get(name):
        return _replace(body, key, bracketed)
    if key := STATEMENT_LISTS.get(name):
        return _replace(body, key, lambda statements: [_replace(s, "q", bracketed) for s in statements])
    if name == "aggregate":
        return _replace(body, "pipeline", lambda stages: [_bracketed_stage(s) for s in stages])
    return body


def bracketed(query: Any) -> Any:
    """A query filter in which every range operator only matches values of its operand's type."""
    if not isinstance(query, dict):
        return query
    rewritten = {}
    for key, condition in query.items():
        if key in LOGICAL_OPERATORS and isinstance(condition, list):
            rewritten[key] = [bracketed(clause) for clause in condition]
        elif not key.startswith("$") and _is_operator_spec(condition):
            rewritten[key] = _bracketed_operators(condition)
        else:
            rewritten[key] = condition
    return rewritten


def _bracketed_operators(spec: dict[str, Any]) -> dict[str, Any]:
    rewritten = dict(spec)
    if _is_operator_spec(spec.get("$not")):
        rewritten["$not"] = _bracketed_operators(spec["$not"])
    if isinstance(element := spec.get("$elemMatch"), dict):
        rewritten["$elemMatch"] = _bracketed_operators(element) if _is_operator_spec(element) else bracketed(element)
    types = {_bracket_of(operand) for operator, operand in spec.items() if operator in RANGE_OPERATORS}
    if len(types) == 1 and None not in types and "$type" not in spec:
        rewritten["$type"] = types.pop()
    return rewritten


def _bracket_of(operand: Any) -> str | None:
    """The `$type` alias of the values MongoDB compares `operand` with; None: leave the operator be."""
    if isinstance(operand, bool):
        return "bool"
    if isinstance(operand, int | float | Decimal128):
        return "number"
    if isinstance(operand, str):
        return "string"
    if isinstance(operand, datetime):
        return "date"
    if isinstance(operand, ObjectId):
        return "objectId"
    return None


def _is_operator_spec(condition: Any) -> bool:
    return isinstance(condition, dict) and bool(condition) and all(key.startswith("$") for key in condition)


def _bracketed_stage(stage: Any) -> Any:
    if isinstance(stage, dict) and "$match" in stage:
        return _replace(stage, "$match", bracketed)
    return stage


def _replace(document: dict[str, Any], key: str, rewrite: Callable[[Any], Any]) -> dict[str, Any]:
    if key not in document:
        return document
    return {**document, key: rewrite(document[key])}
