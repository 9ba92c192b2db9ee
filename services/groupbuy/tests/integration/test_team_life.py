"""Teams after their seats are taken: payments, expiry (on an injected clock), holds, late payments."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from groupbuy.documents import Campaign, Seat, Team
from groupbuy.domain.teams import seat_order_key
from groupbuy.service import funnel, paid_orders, team_life, teams
from mallkit.clock import frozen_at, now
from mallkit.errors import FailedPrecondition
from mallkit.testing import order_paid_event

from ..conftest import BRAND, as_user, user
from .test_teams import join_as, live_campaign, open_as, pay

pytestmark = pytest.mark.integration


def judged(team: Team) -> datetime:
    """When the expiry sweep judges the team."""
    return team.expires_at + team_life.JUDGE_GRACE


def events(document, type_: str) -> list[dict]:
    return [e for e in document.reload().outbox if e["type"] == type_]


def team_with(gate, fake_retail, size: int, paid: int, unpaid: int, **terms):
    """A team of `size` with `paid` paid seats (the leader's first) and `unpaid` ordered, unpaid ones."""
    campaign = live_campaign(fake_retail, team_size=size, **terms)
    team, _ = open_as(gate, "u_lead", campaign)
    members = ["u_lead"] + [f"u_{i}" for i in range(paid + unpaid - 1)]
    for member in members[1:]:
        join_as(gate, member, team.id)
    for member in members[:paid]:
        pay(gate, fake_retail, member, team.id)
    for member in members[paid:]:
        with as_user(user(member)):
            teams.place_seat_order(fake_retail, team.id)
    return campaign, team.reload()


def test_an_expired_team_fails_once_and_names_every_order_for_retail_to_void(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=4, paid=2, unpaid=1)
    orders = sorted(s.order_id for s in Seat.objects(team_id=team.id))
    with frozen_at(judged(team) - timedelta(seconds=1)):
        assert team_life.close_expired_teams(gate) == 0
    with frozen_at(judged(team)):
        assert team_life.close_expired_teams(gate) == 1
        assert team_life.close_expired_teams(gate) == 0  # the sweep running again changes nothing
    team.reload()
    assert (team.status, team.failure_reason, team.seats_settled) == ("failed", "expired", True)
    [failed] = events(team, "team_failed")
    assert sorted(failed["data"]["order_ids"]) == orders
    assert {s.status for s in Seat.objects(team_id=team.id)} == {"released"}
    # every place came back: the campaign's allotment and the members' quotas
    assert gate.claimed(team.campaign_id) == 0


def test_a_team_whose_leader_has_not_paid_has_no_clock_and_never_expires(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=0, unpaid=2)
    assert team.expires_at is None
    with frozen_at(now() + timedelta(days=30)):
        assert team_life.close_expired_teams(gate) == 0
    assert team.reload().status == "forming"


def test_a_team_that_cannot_close_does_not_keep_the_other_expired_teams_open(mongo_db, gate, fake_retail):
    broken_campaign, broken = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    Campaign.objects(id=broken_campaign.id).delete()  # closing `broken` now raises, every time
    with frozen_at(max(judged(broken), judged(team))):
        assert team_life.close_expired_teams(gate) == 1
        assert team_life.close_expired_teams(gate) == 0
    assert (team.reload().status, broken.reload().status) == ("failed", "forming")


def test_virtual_fill_completes_only_teams_at_or_above_the_ratio(mongo_db, gate, fake_retail):
    # BUSINESS_RULES: size 4, ratio 40 % → 2 paid complete (virtual), 1 paid fails
    _, enough = team_with(gate, fake_retail, size=4, paid=2, unpaid=1, virtual_fill_percent=40)
    _, short = team_with(gate, fake_retail, size=4, paid=1, unpaid=0, virtual_fill_percent=40)
    with frozen_at(max(judged(enough), judged(short))):
        assert team_life.close_expired_teams(gate) == 2
    enough.reload(), short.reload()
    assert (enough.status, enough.virtually_filled) == ("formed", True)
    [formed] = events(enough, "team_formed")
    paid_orders_ = sorted(s.order_id for s in Seat.objects(team_id=enough.id, status="paid"))
    assert sorted(formed["data"]["order_ids"]) == paid_orders_ and len(paid_orders_) == 2
    assert formed["data"]["virtually_filled"] is True
    # the unpaid member of the virtually filled team is let go, and retail voids their order
    [unpaid] = Seat.objects(team_id=enough.id, status="released")
    assert [e["data"]["reason"] for e in events(unpaid, "seat_released")] == ["team_closed"]
    assert (short.status, short.virtually_filled) == ("failed", False)


def test_a_payment_after_the_team_failed_releases_the_seat_for_a_refund(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=1)
    late = Seat.objects.get(team_id=team.id, status="held")
    with frozen_at(judged(team)):
        team_life.close_expired_teams(gate)
    assert team_life.seat_paid(gate, late.order_id) is False
    assert late.reload().status == "released"
    assert [e["data"]["order_id"] for e in events(late, "seat_released")] == [late.order_id]


def test_paying_twice_counts_once(mongo_db, gate, fake_retail, order_paid):
    _, team = team_with(gate, fake_retail, size=3, paid=0, unpaid=2)
    seat = Seat.objects(team_id=team.id).first()
    for _ in range(2):
        paid_orders.order_paid(gate, order_paid(seat.order_id, buyer_id=seat.user_id, group_team_id=team.id))
    assert team.reload().paid_seats == [seat.id]


def test_unpaid_seats_go_when_their_hold_runs_out_or_their_order_is_cancelled(mongo_db, gate, fake_retail):
    campaign, team = team_with(gate, fake_retail, size=5, paid=1, unpaid=2)
    never_ordered = join_as(gate, "u_browsing", team.id)
    first, second = Seat.objects(team_id=team.id, status="held", order_id__ne="").order_by("seat_no")
    cancelled = {
        "type": "order_cancelled",
        "data": {"order_id": first.order_id, "attribution": {"group_team_id": team.id}},
    }
    assert paid_orders.order_cancelled(gate, cancelled)
    assert paid_orders.order_cancelled(gate, cancelled) is False
    with frozen_at(now() + timedelta(minutes=31)):
        # a seat without an order goes; one with an order waits for retail's cancellation, or a
        # payment made in its last second whose order_paid is still on its way
        assert team_life.release_expired_holds(gate) == 1
    assert never_ordered.reload().release_reason == "hold_expired"
    with frozen_at(now() + timedelta(minutes=41)):
        assert team_life.release_expired_holds(gate) == 1  # the backstop, if no event ever came
    assert [s.release_reason for s in (first.reload(), second.reload())] == ["order_cancelled", "hold_expired"]
    assert Seat.objects(team_id=team.id, status__in=["held", "paid"]).count() == 1
    assert teams.list_joinable(gate, campaign.id, 10)[0].claimed == 1


def test_a_full_refund_before_forming_takes_the_member_out(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=2, unpaid=0)
    member = Seat.objects.get(team_id=team.id, user_id="u_0")
    refunded = {
        "data": {"order_id": member.order_id, "fully_refunded": True, "attribution": {"group_team_id": team.id}}
    }
    assert paid_orders.order_refunded(gate, refunded)
    assert member.reload().status == "released"
    assert team.reload().paid_seats == [Seat.objects.get(team_id=team.id, user_id="u_lead").id]


def test_a_member_who_leaves_while_their_payment_is_being_counted_is_not_counted(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=1)
    leaving = Seat.objects.get(team_id=team.id, status="held")
    # seat_paid marked the seat paid and read it; before it counts the seat, the member leaves
    Seat.objects(id=leaving.id).update_one(set__status="paid", set__paid_at=now())
    read_by_the_count = leaving.reload()
    with as_user(user(leaving.user_id)):
        teams.leave_team(gate, team.id)
    assert not team_life._count_paid(gate, read_by_the_count)
    join_as(gate, "u_late", team.id)
    pay(gate, fake_retail, "u_late", team.id)
    team.reload()
    assert (team.status, len(team.paid_seats)) == ("forming", 2)
    assert leaving.id not in team.paid_seats
    # and a recount at expiry does not bring it back either
    with frozen_at(judged(team)):
        team_life.close_expired_teams(gate)
    assert (team.reload().status, team.failure_reason) == ("failed", "expired")


def test_a_crash_between_counting_the_leaders_seat_and_starting_the_clock_is_repaired(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=0, unpaid=1)
    leader = Seat.objects.get(team_id=team.id, user_id="u_lead")
    # the leader's payment was counted, then the process died before the clock was started
    Seat.objects(id=leader.id).update_one(set__status="paid", set__paid_at=now())
    Team.objects(id=team.id).update_one(push__paid_seats=leader.id)
    assert team.reload().expires_at is None
    team_life.seat_paid(gate, leader.order_id)  # the redelivered order_paid
    assert team.reload().expires_at == leader.reload().paid_at + timedelta(hours=24)


def test_an_order_placed_while_its_seat_was_released_is_named_for_retail_to_void(
    mongo_db, gate, fake_retail, monkeypatch
):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    join_as(gate, "u_slow", team.id)
    seat = Seat.objects.get(team_id=team.id, user_id="u_slow")
    create_order = fake_retail.CreateOrder

    def released_meanwhile(request, grpc_context=None):
        reply = create_order(request, grpc_context)
        team_life.release_seat(gate, seat.reload(), "hold_expired")  # the hold sweep, while retail worked
        return reply

    monkeypatch.setattr(fake_retail, "CreateOrder", released_meanwhile)
    with as_user(user("u_slow")), pytest.raises(FailedPrecondition, match="released before its order"):
        teams.place_seat_order(fake_retail, team.id)
    order_id = fake_retail.order_ids[("u_slow", seat_order_key(seat.id))]
    assert [e["data"]["order_id"] for e in events(seat, "seat_released")] == ["", order_id]
    assert seat.order_id == order_id  # recorded on the released seat, so retail's later events find it


def test_a_release_read_before_the_seat_got_its_order_does_not_release_it_unnamed(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=0)
    join_as(gate, "u_slow", team.id)
    read_by_the_sweep = Seat.objects.get(team_id=team.id, user_id="u_slow")
    with as_user(user("u_slow")):
        ordered = teams.place_seat_order(fake_retail, team.id)
    assert not team_life.release_seat(gate, read_by_the_sweep, "hold_expired")
    assert (ordered.reload().status, events(ordered, "seat_released")) == ("held", [])
    assert team_life.release_seat(gate, ordered, "hold_expired")
    assert [e["data"]["order_id"] for e in events(ordered, "seat_released")] == [ordered.order_id]


@pytest.mark.parametrize(
    ("paid", "virtual_fill_percent", "code"),
    [(1, 0, "team_closed"), (2, 50, "team_formed")],  # failed at expiry; formed there by virtual fill
)
def test_a_join_granted_before_its_team_closed_and_stored_after_is_undone(
    mongo_db, gate, fake_retail, monkeypatch, paid, virtual_fill_percent, code
):
    _, team = team_with(gate, fake_retail, size=3, paid=paid, unpaid=0, virtual_fill_percent=virtual_fill_percent)
    grant = teams._grant

    def team_closes_meanwhile(*args, **kwargs):
        claim = grant(*args, **kwargs)
        with frozen_at(judged(team)):
            assert team_life.close_expired_teams(gate) == 1
        return claim

    monkeypatch.setattr(teams, "_grant", team_closes_meanwhile)
    with as_user(user("u_late")), pytest.raises(FailedPrecondition) as refused:
        teams.join_team(gate, team.id, "", 1)
    assert refused.value.code == code
    undone = Seat.objects.get(team_id=team.id, user_id="u_late")
    assert (undone.status, undone.release_reason) == ("released", "join_refused")
    assert gate.claimed(team.campaign_id) == (0 if code == "team_closed" else paid)  # a failed team's go back
    with as_user(BRAND):
        assert funnel.campaign_funnel(team.campaign_id, 0).totals.joins == paid - 1  # a refused join is no join


def test_crashes_after_a_payment_or_a_close_are_finished_by_the_clocks(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=3, paid=2, unpaid=1)
    last = Seat.objects.get(team_id=team.id, status="held")
    # the seat was marked paid, then the process died before counting it on the team
    Seat.objects(id=last.id).update_one(set__status="paid", set__paid_at=now())
    assert len(team.reload().paid_seats) == 2
    with frozen_at(judged(team)):
        assert team_life.close_expired_teams(gate) == 1
    team.reload()
    assert (team.status, team.virtually_filled, len(team.paid_seats)) == ("formed", False, 3)
    [formed] = events(team, "team_formed")
    assert sorted(formed["data"]["order_ids"]) == sorted(s.order_id for s in Seat.objects(team_id=team.id))

    # a team closed, then the process died before settling its seats: the straggler sweep does it
    _, failed = team_with(gate, fake_retail, size=3, paid=1, unpaid=1)
    with frozen_at(failed.expires_at):
        Team.objects(id=failed.id).update_one(set__status="failed", set__closed_at=now(), set__seats_settled=False)
    assert team_life.settle_stragglers(gate) == 0  # within the grace it may still be settling
    with frozen_at(failed.expires_at + team_life.SETTLE_GRACE + timedelta(seconds=1)):
        assert team_life.settle_stragglers(gate) == 1
    assert failed.reload().seats_settled
    assert {s.status for s in Seat.objects(team_id=failed.id)} == {"released"}


def test_leaving_while_the_payment_lands_releases_the_paid_seat(mongo_db, gate, fake_retail, monkeypatch):
    _, team = team_with(gate, fake_retail, size=3, paid=1, unpaid=1)
    member = Seat.objects.get(team_id=team.id, status="held")
    release = teams.release_seat

    def paid_meanwhile(gate_, seat, reason, **kwargs):
        if seat.status == "held":  # the leave read the seat unpaid; the payment lands before its write
            team_life.seat_paid(gate_, seat.order_id)
        return release(gate_, seat, reason, **kwargs)

    monkeypatch.setattr(teams, "release_seat", paid_meanwhile)
    with as_user(user(member.user_id)):
        teams.leave_team(gate, team.id)
    assert member.reload().status == "released"
    [released] = events(member, "seat_released")
    assert (released["data"]["order_id"], released["data"]["paid"]) == (member.order_id, True)  # retail refunds it
    assert member.id not in team.reload().paid_seats


def test_a_payment_after_the_team_expired_never_counts(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=2, paid=1, unpaid=1)
    late = Seat.objects.get(team_id=team.id, status="held")
    with frozen_at(team.expires_at + timedelta(seconds=1)):
        assert team_life.seat_paid(gate, late.order_id, paid_at=now()) is False  # the last seat, too late
    assert (team.reload().status, team.paid_seats) == ("forming", [Seat.objects.get(team_id=team.id, kind="o").id])
    with frozen_at(judged(team)):
        assert team_life.close_expired_teams(gate) == 1
    team.reload()
    assert (team.status, team.failure_reason) == ("failed", "expired")
    assert late.reload().status == "released"
    [failed] = events(team, "team_failed")
    assert late.order_id in failed["data"]["order_ids"]  # retail refunds it


def test_a_payment_made_in_time_counts_if_its_event_comes_before_the_team_is_judged(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=2, paid=1, unpaid=1)
    member = Seat.objects.get(team_id=team.id, status="held")
    envelope = order_paid_event(member.order_id, buyer_id=member.user_id, group_team_id=team.id)
    envelope["data"]["paid_at"] = (team.expires_at - timedelta(seconds=1)).isoformat()  # retail's clock
    with frozen_at(judged(team) - timedelta(seconds=1)):
        assert team_life.close_expired_teams(gate) == 0  # the sweep waits for payments on their way
        paid_orders.order_paid(gate, envelope)  # handled after the expiry, by the worker's clock
    assert team.reload().status == "formed"


def test_a_seat_paid_too_late_is_let_go_by_a_virtually_filled_team(mongo_db, gate, fake_retail):
    _, team = team_with(gate, fake_retail, size=4, paid=2, unpaid=1, virtual_fill_percent=40)
    late = Seat.objects.get(team_id=team.id, status="held")
    # paid at the expiry, and judged before that payment is counted
    Seat.objects(id=late.id).update_one(set__status="paid", set__paid_at=team.expires_at)
    with frozen_at(judged(team)):
        assert team_life.close_expired_teams(gate) == 1
    team.reload()
    assert (team.status, team.virtually_filled, len(team.paid_seats)) == ("formed", True, 2)
    assert late.reload().status == "released"
    assert [e["data"]["order_id"] for e in events(late, "seat_released")] == [late.order_id]  # refunded
