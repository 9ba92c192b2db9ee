"""Where the dev server finds the query filters of a command, and what it adds to them."""

from datetime import UTC, datetime

from mongo_type_brackets import bracketed, bracketed_command

NOW = datetime(2026, 12, 1, tzinfo=UTC)
DUE = {"status": "forming", "expires_at": {"$lte": NOW}}
BRACKETED_DUE = {"status": "forming", "expires_at": {"$lte": NOW, "$type": "date"}}


def test_a_find_filter_is_bracketed_and_the_command_left_as_it_was() -> None:
    command = {"find": "teams", "filter": DUE, "limit": 100}
    assert bracketed_command(command) == {"find": "teams", "filter": BRACKETED_DUE, "limit": 100}
    assert command["filter"] == {"status": "forming", "expires_at": {"$lte": NOW}}


def test_every_statement_of_an_update_or_delete_and_every_match_stage_is_bracketed() -> None:
    update = {"update": "teams", "updates": [{"q": DUE, "u": {"$set": {"x": 1}}}, {"q": {"n": {"$gt": 2}}, "u": {}}]}
    statements = bracketed_command(update)["updates"]
    assert [s["q"] for s in statements] == [BRACKETED_DUE, {"n": {"$gt": 2, "$type": "number"}}]
    delete = {"delete": "teams", "deletes": [{"q": DUE, "limit": 0}]}
    assert bracketed_command(delete)["deletes"] == [{"q": BRACKETED_DUE, "limit": 0}]
    group = {"$group": {"_id": None, "n": {"$sum": 1}}}
    aggregate = {"aggregate": "teams", "pipeline": [{"$match": DUE}, group], "cursor": {}}
    assert bracketed_command(aggregate)["pipeline"] == [{"$match": BRACKETED_DUE}, group]
    modify = {"findAndModify": "teams", "query": DUE, "update": {"$set": {"x": 1}}}
    assert bracketed_command(modify)["query"] == BRACKETED_DUE


def test_operands_of_each_type_get_their_bracket() -> None:
    assert bracketed({"a": {"$lt": "m"}, "b": {"$gte": True}, "c": {"$gt": 1.5}}) == {
        "a": {"$lt": "m", "$type": "string"},
        "b": {"$gte": True, "$type": "bool"},
        "c": {"$gt": 1.5, "$type": "number"},
    }


def test_what_has_no_single_bracket_is_left_alone() -> None:
    unchanged = [
        {"at": {"$lte": None}},  # null's own comparison
        {"at": {"$gt": 1, "$lt": NOW}},  # two types: no single bracket
        {"at": {"$lte": NOW, "$type": "string"}},  # the caller chose a type
        {"at": NOW},  # equality
        {"doc": {"lt": 1}},  # an embedded document to equal
        {"$expr": {"$lt": ["$a", "$b"]}},
    ]
    for query in unchanged:
        assert bracketed(query) == query
    insert = {"insert": "teams", "documents": [{"at": {"$lt": 1}}]}
    assert bracketed_command(insert) is insert
