"""拼团 and 砍价 end to end through the gateway, with every service and worker running: a brand's
campaign, a leader's team shared to a friend, both seats ordered and paid (simulated), the team
forms and only then may the brand ship; a bargain cut to its floor by friends and bought there.
Along the way, the refusals a front-end shows and the brand's fission funnel."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PRICE_FEN = 2990
GROUP_PRICE_FEN = 1990
LEADER_PRICE_FEN = 1790


@pytest.fixture(scope="module")
def api(platform: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=10) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def eventually(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """Poll `read` until `done` holds: workers react to events asynchronously."""
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        assert time.monotonic() < deadline, f"gave up waiting; last seen: {value}"
        time.sleep(0.25)
    return value


def test_a_shared_team_forms_when_both_seats_are_paid_and_only_then_ships(api: httpx.Client, platform: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    brand = platform.token(f"u_gb_brand_{tag}", "brand")
    other_brand = platform.token(f"u_gb_other_{tag}", "brand")
    leader, friend, late = (platform.token(f"u_gb_{who}_{tag}", "consumer") for who in ("leader", "friend", "late"))
    sku = platform.approved_sku("Yunnan Black Tea", PRICE_FEN, 20, brand_user=f"u_gb_brand_{tag}")

    terms = {"sku_id": sku["id"], "group_price_fen": GROUP_PRICE_FEN, "leader_price_fen": LEADER_PRICE_FEN,
             "team_size": 2}  # fmt: skip
    draft = ok(api.post("/groupbuy/campaigns", json=terms, headers=brand), 201)
    # another brand's draft does not exist for anyone else; its owner hears that it is not live yet
    refused(api.post(f"/groupbuy/campaigns/{draft['id']}/teams", headers=leader), 404, "campaign_not_found")
    refused(api.post(f"/groupbuy/campaigns/{draft['id']}/teams", headers=brand), 409, "campaign_not_live")
    refused(api.post(f"/groupbuy/campaigns/{draft['id']}/publish", headers=other_brand), 404, "campaign_not_found")
    campaign = ok(api.post(f"/groupbuy/campaigns/{draft['id']}/publish", headers=brand))
    assert campaign["status"] == "live"

    # the leader opens a team and shares it; the friend joins through the code
    opened = ok(api.post(f"/groupbuy/campaigns/{campaign['id']}/teams", headers=leader), 201)
    team_id = opened["team"]["id"]
    assert (opened["seat"]["seat_no"], opened["seat"]["leader"], opened["seat"]["price"]["fen"]) == (
        1,
        True,
        LEADER_PRICE_FEN,
    )
    refused(api.post(f"/groupbuy/campaigns/{campaign['id']}/teams", headers=leader), 409, "open_limit_reached")
    code = ok(api.post(f"/groupbuy/teams/{team_id}/share", headers=leader))["share_code"]
    landing = ok(api.get(f"/groupbuy/shares/{code}"))  # the page the link opens, before signing in
    assert (landing["team"]["id"], landing["team"]["seats"], landing["sharer_id"]) == (
        team_id,
        [],
        f"u_gb_leader_{tag}",
    )
    seat = ok(api.post("/groupbuy/join", json={"share_code": code}, headers=friend), 201)
    assert (seat["seat_no"], seat["price"]["fen"]) == (2, GROUP_PRICE_FEN)
    refused(api.post(f"/groupbuy/teams/{team_id}/join", headers=friend), 409, "already_joined")
    refused(api.post(f"/groupbuy/teams/{team_id}/join", headers=late), 409, "team_full")
    joinable = ok(api.get(f"/groupbuy/campaigns/{campaign['id']}/teams"))
    assert team_id not in [t["id"] for t in joinable["items"]]  # full: nobody else can join

    # each member orders their seat (once) and pays it
    orders = {}
    for member in (leader, friend):
        first = ok(api.post(f"/groupbuy/teams/{team_id}/order", headers=member), 201)
        again = ok(api.post(f"/groupbuy/teams/{team_id}/order", headers=member), 201)
        assert first["order_id"] and again["order_id"] == first["order_id"]
        assert first["leader"] is (member is leader)
        orders[first["order_id"]] = member
    refused(api.post(f"/groupbuy/teams/{team_id}/order", headers=late), 404, "seat_not_found")
    leader_order = next(order_id for order_id, member in orders.items() if member is leader)
    order = ok(api.get(f"/orders/{leader_order}", headers=leader))
    assert (order["total"]["fen"], order["attribution"]["group_team_id"], order["awaiting_group"]) == (
        LEADER_PRICE_FEN,
        team_id,
        True,
    )
    ok(api.post(f"/dev/payments/{leader_order}/simulate", headers=leader))
    paid = eventually(lambda: ok(api.get(f"/orders/{leader_order}", headers=leader)), lambda o: o["status"] == "paid")
    shipment = {"carrier": "SF Express", "tracking_number": f"SF{tag}"}
    refused(api.post(f"/orders/{leader_order}/shipment", json=shipment, headers=brand), 409, "group_not_formed")
    assert paid["awaiting_group"] is True

    friend_order = next(order_id for order_id, member in orders.items() if member is friend)
    ok(api.post(f"/dev/payments/{friend_order}/simulate", headers=friend))
    team = eventually(lambda: api.get(f"/groupbuy/teams/{team_id}", headers=leader).json(),
                      lambda t: t["status"] != "forming")  # fmt: skip
    assert (team["status"], team["seats_paid"], team["virtually_filled"]) == ("formed", 2, False), team
    refused(api.post(f"/groupbuy/teams/{team_id}/leave", headers=friend), 409, "team_formed")

    # retail hears team_formed: the orders may ship now
    eventually(lambda: ok(api.get(f"/orders/{leader_order}", headers=leader)), lambda o: not o["awaiting_group"])
    assert ok(api.post(f"/orders/{leader_order}/shipment", json=shipment, headers=brand))["status"] == "shipped"

    funnel = ok(api.get(f"/groupbuy/campaigns/{campaign['id']}/funnel", headers=brand))
    assert funnel["totals"] == {"shares": 1, "opens": 1, "joins": 1, "paid": 2, "formed": 1}
    assert [i["counts"]["joins"] for i in funnel["inviters"]] == [1]
    refused(api.get(f"/groupbuy/campaigns/{campaign['id']}/funnel", headers=other_brand), 403, "not_campaign_owner")


def test_friends_cut_a_bargain_to_its_floor_and_the_initiator_buys_it_there(api: httpx.Client, platform: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    brand = platform.token(f"u_bg_brand_{tag}", "brand")
    initiator, *friends = (platform.token(f"u_bg_{i}_{tag}", "consumer") for i in range(4))
    sku = platform.approved_sku("Wuyi Rock Tea", PRICE_FEN, 20, brand_user=f"u_bg_brand_{tag}")
    terms = {"sku_id": sku["id"], "original_price_fen": PRICE_FEN, "floor_price_fen": 990, "helpers_needed": 3,
             "buy_rule": "floor_only"}  # fmt: skip
    campaign = ok(api.post("/bargain/campaigns", json=terms, headers=brand), 201)

    bargain = ok(api.post(f"/bargain/campaigns/{campaign['id']}/bargains", headers=initiator), 201)
    again = api.post(f"/bargain/campaigns/{campaign['id']}/bargains", headers=initiator)
    refused(again, 409, "already_started")
    assert again.json()["details"] == {"bargain_id": bargain["id"]}  # where a reloaded page finds it again
    listed = ok(api.get("/bargain/campaigns", params={"sku_id": sku["id"], "status": "live"}))["items"]
    assert [c["id"] for c in listed] == [campaign["id"]]
    assert [b["id"] for b in ok(api.get("/bargain/me/bargains", headers=initiator))["items"]] == [bargain["id"]]
    assert ok(api.get("/bargain/me/bargains", headers=friends[0]))["items"] == []
    refused(api.post(f"/bargain/bargains/{bargain['id']}/order", headers=initiator), 409, "floor_not_reached")
    refused(api.post(f"/bargain/bargains/{bargain['id']}/order", headers=friends[0]), 403, "not_initiator")

    def cut(helper: dict[str, str]) -> int:
        outcome = ok(api.post(f"/bargain/bargains/{bargain['id']}/help", headers=helper), 201)
        assert outcome["help"]["cut"]["fen"] >= 1
        return int(outcome["help"]["cut"]["fen"])

    cuts = [cut(initiator), cut(friends[0])]  # the initiator's own cut counts as one of the 3
    refused(api.post(f"/bargain/bargains/{bargain['id']}/help", headers=friends[0]), 409, "already_helped")
    cuts.append(cut(friends[1]))
    refused(api.post(f"/bargain/bargains/{bargain['id']}/help", headers=friends[2]), 409, "bargain_finished")

    reached = ok(api.get(f"/bargain/bargains/{bargain['id']}"))
    assert (reached["status"], reached["current_price"]["fen"], sum(cuts)) == ("completed", 990, PRICE_FEN - 990)
    helps = ok(api.get(f"/bargain/bargains/{bargain['id']}/helps"))["items"]
    assert [h["seq"] for h in helps] == [1, 2, 3] and helps[-1]["price_after"]["fen"] == 990

    key = {"Idempotency-Key": uuid.uuid4().hex}
    bought = ok(api.post(f"/bargain/bargains/{bargain['id']}/order", headers={**initiator, **key}), 201)
    assert (bought["price"]["fen"], bought["bargain"]["status"]) == (990, "ordered")
    order = ok(api.get(f"/orders/{bought['bargain']['order_id']}", headers=initiator))
    assert (order["total"]["fen"], order["attribution"]["bargain_id"], order["awaiting_group"]) == (
        990,
        bargain["id"],
        False,
    )
