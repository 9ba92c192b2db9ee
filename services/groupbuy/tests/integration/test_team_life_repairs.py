"""What a call or a process that stopped halfway leaves behind, and how retail's events and the
worker's sweeps finish it: a seat order retail made but groupbuy never recorded, a release that
never named the next leader."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from groupbuy.documents import Seat
from groupbuy.domain.teams import seat_order_key
from groupbuy.service import paid_orders, team_life, teams
from mallkit.clock import frozen_at, now
from mallkit.errors import Unavailable
from mallkit.testing import order_paid_event

from ..conftest import answer_lost, as_user, redis_down, user
from .test_team_life import events, team_with
from .test_teams import join_as, live_campaign, open_as, pay, refusal

pytestmark = pytest.mark.integration


def stored_key(seat: Seat) -> str:
    """How retail stores the key groupbuy placed the seat's order under (and sends it in events)."""
    return f"groupbuy/{seat_order_key(seat.id)}"


def order_made_then_call_lost(fake_retail, monkeypatch, user_id: str, team_id: str) -> str:
    """place_seat_order, where retail makes the order but the answer never comes back (a deadline
    that ran out, a process that died): the seat has no order recorded. Returns the order id."""
    create_order = fake_retail.CreateOrder
    monkeypatch.setattr(fake_retail, "CreateOrder", answer_lost(create_order))
    with as_user(user(user_id)), pytest.raises(Unavailable):
        teams.place_seat_order(fake_retail, team_id)
    monkeypatch.setattr(fake_retail, "CreateOrder", create_order)
    seat = Seat.objects.get(team_id=team_id, user_id=user_id)
    assert seat.order_id == ""
    return fake_retail.order_ids[(user_id, seat_order_key(seat.id))]


def paid(gate, seat: Seat, order_id: str) -> None:
    envelope = order_paid_event(
        order_id, buyer_id=seat.user_id, group_team_id=seat.team_id, idempotency_key=stored_key(seat)
    )
    paid_orders.order_paid(gate, envelope)


def test_a_seat_order_paid_before_groupbuy_recorded_it_pays_the_seat(mongo_db, gate, fake_retail, monkeypatch):
    _, team = team_with(gate, fake_retail, size=2, paid=1, unpaid=0)
    join_as(gate, "u_member", team.id)
    order_id = order_made_then_call_lost(fake_retail, monkeypatch, "u_member", team.id)
    seat = Seat.objects.get(team_id=team.id, user_id="u_member")
    # the buyer found the order in their order list and paid it there
    paid(gate, seat, order_id)
    assert (seat.reload().status, seat.order_id) == ("paid", order_id)
    team.reload()
    assert team.status == "formed"
    [formed] = events(team, "team_formed")
    assert order_id in formed["data"]["order_ids"]  # so retail lets it ship
    # a retry of the lost call now answers with the seat as it is
    with as_user(user("u_member")):
        assert teams.place_seat_order(fake_retail, team.id).order_id == order_id


def test_an_unrecorded_order_paid_after_its_seat_was_released_is_named_for_retail_to_refund(
    mongo_db, gate, fake_retail, monkeypatch
):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    join_as(gate, "u_member", team.id)
    order_id = order_made_then_call_lost(fake_retail, monkeypatch, "u_member", team.id)
    seat = Seat.objects.get(team_id=team.id, user_id="u_member")
    with frozen_at(now() + timedelta(minutes=31)):
        assert team_life.release_expired_holds(gate) == 1  # its hold knew of no order
    paid(gate, seat, order_id)
    paid(gate, seat, order_id)  # delivered twice
    assert seat.reload().status == "released"
    assert [e["data"]["order_id"] for e in events(seat, "seat_released")] == ["", order_id]
    assert team.reload().paid_seats == [Seat.objects.get(team_id=team.id, user_id="u_lead").id]


def test_an_unrecorded_order_cancelled_unpaid_releases_its_seat(mongo_db, gate, fake_retail, monkeypatch):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    join_as(gate, "u_member", team.id)
    order_id = order_made_then_call_lost(fake_retail, monkeypatch, "u_member", team.id)
    seat = Seat.objects.get(team_id=team.id, user_id="u_member")
    cancelled = {
        "type": "order_cancelled",
        "data": {
            "order_id": order_id,
            "buyer_id": "u_member",
            "idempotency_key": stored_key(seat),
            "attribution": {"group_team_id": team.id},
        },
    }
    assert paid_orders.order_cancelled(gate, cancelled)
    assert paid_orders.order_cancelled(gate, cancelled) is False
    assert (seat.reload().status, seat.release_reason, seat.order_id) == ("released", "order_cancelled", order_id)


def test_another_orders_key_or_another_buyers_order_finds_no_seat(mongo_db, gate, fake_retail, monkeypatch):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    join_as(gate, "u_member", team.id)
    seat = Seat.objects.get(team_id=team.id, user_id="u_member")
    for key in (seat_order_key(seat.id), f"retail/{seat_order_key(seat.id)}", "ord_9"):  # not groupbuy's
        envelope = order_paid_event("ord_9", buyer_id="u_member", group_team_id=team.id, idempotency_key=key)
        paid_orders.order_paid(gate, envelope)
    # the seat's key, but someone else's order (had anything let them store that key)
    envelope = order_paid_event("ord_8", buyer_id="u_mallory", group_team_id=team.id, idempotency_key=stored_key(seat))
    paid_orders.order_paid(gate, envelope)
    assert (seat.reload().status, seat.order_id) == ("held", "")


def test_a_gate_that_fails_during_a_release_still_gets_the_team_a_new_leader(mongo_db, gate, fake_retail, monkeypatch):
    _, team = team_with(gate, fake_retail, size=3, paid=0, unpaid=2)
    member = Seat.objects.get(team_id=team.id, user_id="u_0")
    pay(gate, fake_retail, "u_0", team.id)
    leader = Seat.objects.get(team_id=team.id, user_id="u_lead")
    monkeypatch.setattr(gate, "give_back", redis_down)
    with pytest.raises(redis.exceptions.ConnectionError):
        team_life.release_seat(gate, leader, "hold_expired")
    team.reload()
    assert team.leader_id == "u_0"
    assert team.expires_at == member.reload().paid_at + timedelta(hours=24)  # the paid successor's clock


def test_leaders_a_crash_never_named_are_named_by_the_sweep(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=0, unpaid=2)
    pay(gate, fake_retail, "u_0", team.id)
    _, alone = team_with(gate, fake_retail, size=3, paid=0, unpaid=1)
    _, sound = team_with(gate, fake_retail, size=3, paid=0, unpaid=2)
    for crashed in (team, alone):
        # the leader's seat was released, then the process died before naming a successor
        Seat.objects(team_id=crashed.id, user_id="u_lead").update_one(
            set__status="released", set__member_key=f"x:{crashed.id}"
        )
    later = now() + team_life.LEADERLESS_AFTER
    with frozen_at(later - timedelta(seconds=1)):
        assert team_life.name_missing_leaders(gate) == 0  # holds may still be running out
    with frozen_at(later):
        assert team_life.name_missing_leaders(gate) == 2  # the sound team is looked at, and left
        assert team_life.name_missing_leaders(gate) == 0
    team.reload(), alone.reload(), sound.reload()
    successor = Seat.objects.get(team_id=team.id, user_id="u_0")
    assert (team.leader_id, team.expires_at) == ("u_0", successor.paid_at + timedelta(hours=24))
    assert (alone.status, alone.failure_reason) == ("failed", "leader_left")
    assert (sound.status, sound.leader_id, sound.expires_at) == ("forming", "u_lead", None)


def test_an_openers_quota_left_in_the_gate_when_the_team_formed_is_freed_by_the_straggler_sweep(
    mongo_db, gate, fake_retail, monkeypatch
):
    campaign = live_campaign(fake_retail, team_size=2)  # one team opened at a time
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_0", team.id)
    pay(gate, fake_retail, "u_lead", team.id)
    free_quota = gate.free_quota
    monkeypatch.setattr(gate, "free_quota", redis_down)
    with pytest.raises(redis.exceptions.ConnectionError):
        pay(gate, fake_retail, "u_0", team.id)  # the team forms; settling it stops at the gate
    monkeypatch.setattr(gate, "free_quota", free_quota)
    team.reload()
    assert (team.status, team.seats_settled) == ("formed", False)
    assert refusal(open_as, gate, "u_lead", campaign) == "open_limit_reached"  # MongoDB has freed it already
    with frozen_at(now() + team_life.SETTLE_GRACE + timedelta(seconds=1)):
        assert team_life.settle_stragglers(gate) == 1
    second, _ = open_as(gate, "u_lead", campaign)
    assert second.leader_id == "u_lead"
