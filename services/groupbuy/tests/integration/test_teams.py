"""Teams and seats through the use cases, against the Mongo wire server and real Redis."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from groupbuy.documents import Campaign, Seat, Team
from groupbuy.domain import teams as rules
from groupbuy.domain.campaigns import CampaignTerms, UserLimits
from groupbuy.domain.teams import SeatKind
from groupbuy.service import campaigns, funnel, gate_sync, team_life, teams
from groupbuy.service.seat_gate import SeatGate
from mallkit import context
from mallkit.clock import frozen_at, now
from mallkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

from ..conftest import BRAND, OTHER_BRAND, as_user, user

pytestmark = pytest.mark.integration


def live_campaign(fake_retail, **terms) -> Campaign:
    defaults = {"sku_id": "sku_mist", "group_price_fen": 990, "team_size": 3, "expiry_hours": 24}
    with as_user(BRAND):
        return campaigns.create_campaign(fake_retail, CampaignTerms(**{**defaults, **terms}), publish=True)


def test_a_crowd_that_finds_the_campaign_expired_reads_it_once(mongo_db, fake_retail, monkeypatch):
    campaign = live_campaign(fake_retail)
    reads, read = [], campaigns.get_or_404
    crowd = threading.Barrier(16)

    def slow_read(*args):
        reads.append(args[1])
        time.sleep(0.05)  # the rest of the crowd arrives while it reads
        return read(*args)

    def join_path(_: int) -> str:
        crowd.wait()
        return campaigns.cached_campaign(campaign.id).id

    monkeypatch.setattr(campaigns, "get_or_404", slow_read)
    campaigns._forget(campaign.id)
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(join_path, range(16))) == [campaign.id] * 16
    assert reads == [campaign.id]
    with pytest.raises(NotFound):
        campaigns.cached_campaign("cmp_nobody_has")


def open_as(gate: SeatGate, user_id: str, campaign: Campaign):
    with as_user(user(user_id)):
        return teams.open_team(gate, campaign.id, 0)


def join_as(gate: SeatGate, user_id: str, team_id: str = "", share_code: str = "", quantity: int = 0) -> Seat:
    with as_user(user(user_id)):
        return teams.join_team(gate, team_id, share_code, quantity)


def pay(gate: SeatGate, fake_retail, user_id: str, team_id: str) -> Seat:
    with as_user(user(user_id)):
        seat = teams.place_seat_order(fake_retail, team_id)
    team_life.seat_paid(gate, seat.order_id)
    return seat.reload()


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises((FailedPrecondition, AlreadyExists, InvalidArgument, NotFound, PermissionDenied)) as err:
        call(*args, **kwargs)
    return err.value.code


def test_a_leader_opens_friends_join_and_the_team_forms_when_every_seat_is_paid(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, leader_price_fen=890)
    team, leader_seat = open_as(gate, "u_lead", campaign)
    assert (leader_seat.seat_no, leader_seat.price_fen, team.leader_id) == (1, 890, "u_lead")
    seats = [join_as(gate, u, team.id) for u in ("u_a", "u_b")]
    assert [s.seat_no for s in seats] == [2, 3]
    assert [s.price_fen for s in seats] == [990, 990]

    for member in ("u_lead", "u_a"):
        pay(gate, fake_retail, member, team.id)
    team.reload()
    assert team.status == "forming"
    assert team.expires_at is not None  # the clock runs from the leader's payment

    pay(gate, fake_retail, "u_b", team.id)
    team.reload()
    assert team.status == "formed"
    assert len(team.paid_seats) == 3
    assert refusal(join_as, gate, "u_c", team.id) == "team_formed"  # not merely closed: it formed
    gate.redis.flushdb()
    assert refusal(join_as, gate, "u_c", team.id) == "team_formed"  # told by MongoDB, the gate lost it
    formed = [e for e in team.outbox if e["type"] == "team_formed"]
    assert len(formed) == 1
    assert sorted(formed[0]["data"]["order_ids"]) == sorted(s.reload().order_id for s in [leader_seat, *seats])
    # the seat orders went to retail at the group price, attributed to the team, without commission
    request = fake_retail.orders[("u_a", f"seat:{seats[0].id}")]
    assert request.attribution.group_team_id == team.id
    assert dict(request.quote.unit_price_fen) == {"sku_mist": 990}
    assert request.quote.source == "groupbuy"
    assert request.quote.distribution_enabled is False


def test_refusals_name_their_reason_and_change_nothing(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=2, limits=UserLimits(teams_opened=1, teams_joined=1))

    def records() -> tuple:
        """Every seat and team with its events, and everything the seat gate holds for the campaign."""
        seats = sorted((s.id, s.status, len(s.outbox)) for s in Seat.objects)
        teams_ = sorted((t.id, t.status, len(t.outbox)) for t in Team.objects)
        return seats, teams_, gate_state(gate, campaign.id)

    team, _ = open_as(gate, "u_lead", campaign)
    before = records()
    assert refusal(join_as, gate, "u_lead", team.id) == "already_joined"
    assert records() == before
    join_as(gate, "u_a", team.id)
    before = records()
    assert refusal(join_as, gate, "u_b", team.id) == "team_full"
    assert refusal(open_as, gate, "u_lead", campaign) == "open_limit_reached"
    assert records() == before
    other, _ = open_as(gate, "u_other", campaign)
    before = records()
    assert refusal(join_as, gate, "u_a", other.id) == "join_limit_reached"
    assert refusal(join_as, gate, "u_b", "team_missing") == "team_not_found"
    assert refusal(join_as, gate, "u_b", other.id, quantity=2) == "units_limit_exceeded"
    assert records() == before
    assert Seat.objects(status__in=["held", "paid"]).count() == 3


def gate_state(gate: SeatGate, campaign_id: str) -> dict[str, object]:
    """Every key the gate keeps for the campaign, with its value (`gen` counts give-backs only)."""
    read = {
        "hash": gate.redis.hgetall,
        "set": gate.redis.smembers,
        "string": gate.redis.get,
        "zset": lambda key: gate.redis.zrange(key, 0, -1, withscores=True),
    }
    return {key: read[gate.redis.type(key)](key) for key in gate.redis.scan_iter(match=f"gb:{{{campaign_id}}}:*")}


def test_the_allotment_is_never_oversold(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3, seat_allotment=4)
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_a", team.id)
    second, _ = open_as(gate, "u_b", campaign)
    join_as(gate, "u_c", second.id)
    assert refusal(join_as, gate, "u_d", team.id) == "allotment_sold_out"
    assert refusal(open_as, gate, "u_e", campaign) == "allotment_sold_out"
    assert Team.objects.count() == 2  # the refused open left no team behind


def test_a_campaign_that_is_not_live_takes_no_seats(mongo_db, gate, fake_retail):
    with as_user(BRAND):
        draft = campaigns.create_campaign(
            fake_retail, CampaignTerms("sku_mist", 990, 3, 24, solo_price_fen=1500), publish=False
        )
        assert refusal(teams.open_team, gate, draft.id, 0) == "campaign_not_live"  # its owner sees it
    # to everyone else a draft does not exist, whichever route asks
    assert refusal(open_as, gate, "u_lead", draft) == "campaign_not_found"
    with as_user(user("u_lead")):
        assert refusal(teams.place_solo_order, fake_retail, draft.id, 1) == "campaign_not_found"
    with as_user(BRAND):
        campaigns.publish_campaign(draft.id)
    team, _ = open_as(gate, "u_lead", draft)
    with as_user(BRAND):
        campaigns.end_campaign(draft.id)
    assert refusal(join_as, gate, "u_a", team.id) == "campaign_not_live"
    assert teams.list_joinable(gate, draft.id, 10) == []  # its forming teams take no one now


def test_a_draft_runs_from_its_publication_and_is_never_ended_into_view(mongo_db, gate, fake_retail):
    with as_user(BRAND):
        draft = campaigns.create_campaign(fake_retail, CampaignTerms("sku_mist", 990, 3, 24), publish=False)
        assert refusal(campaigns.end_campaign, draft.id) == "campaign_not_published"
    with as_user(OTHER_BRAND):  # another brand's draft does not exist for them
        assert refusal(teams.list_joinable, gate, draft.id, 10) == "campaign_not_found"
        assert refusal(campaigns.publish_campaign, draft.id) == "campaign_not_found"
    published_at = now() + timedelta(days=31)  # past the 30 days it would have run from its creation
    with as_user(BRAND), frozen_at(published_at):
        live = campaigns.publish_campaign(draft.id)
        assert campaigns.status_of(live) == "live"
    with as_user(OTHER_BRAND):  # now they see it, but it is not theirs to manage
        assert refusal(campaigns.end_campaign, draft.id) == "not_campaign_owner"
    assert (live.start_time, live.end_time) == (published_at, published_at + timedelta(days=30))
    with as_user(BRAND):
        dated = campaigns.create_campaign(
            fake_retail, CampaignTerms("sku_mist", 990, 3, 24, end_time=now() + timedelta(days=1)), publish=False
        )
    with as_user(BRAND), frozen_at(now() + timedelta(days=2)):
        assert refusal(campaigns.publish_campaign, dated.id) == "invalid_schedule"


def test_a_leader_who_leaves_hands_the_team_on_and_a_lone_leader_cancels_it(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3)
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_a", team.id)
    pay(gate, fake_retail, "u_a", team.id)
    with as_user(user("u_lead")):
        after = teams.leave_team(gate, team.id)
    assert after.leader_id == "u_a"
    assert after.expires_at is not None  # the new leader had paid: the clock starts
    # the seat is free again, and the leaver may come back
    join_as(gate, "u_lead", team.id)
    with as_user(user("u_lead")):
        teams.leave_team(gate, team.id)
    with as_user(user("u_a")):
        cancelled = teams.leave_team(gate, team.id)
    assert (cancelled.status, cancelled.failure_reason) == ("failed", "leader_left")
    released = Seat.objects(team_id=team.id, user_id="u_a").first()
    assert released.status == "released"
    assert [e["data"]["order_id"] for e in released.outbox if e["type"] == "seat_released"] == [released.order_id]
    assert refusal(join_as, gate, "u_b", team.id) == "team_closed"


def test_the_gate_is_rebuilt_from_mongodb_after_a_flush(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3, seat_allotment=4)
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_a", team.id)
    gate.redis.flushdb()
    assert refusal(join_as, gate, "u_a", team.id) == "already_joined"
    join_as(gate, "u_b", team.id)
    assert refusal(join_as, gate, "u_c", team.id) == "team_full"
    assert gate.claimed(campaign.id) == 3


def test_a_seat_released_while_the_gate_is_rebuilt_is_freed_by_the_repair(mongo_db, gate, fake_retail, monkeypatch):
    campaign = live_campaign(fake_retail, team_size=2, seat_allotment=4)
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_a", team.id)
    snapshot = gate_sync._snapshot

    def member_leaves_meanwhile(campaign_id):
        taken = snapshot(campaign_id)  # u_a still holds seat 2 in it
        monkeypatch.setattr(gate_sync, "_snapshot", snapshot)
        with as_user(user("u_a")):
            teams.leave_team(gate, team.id)  # its give-back lands on the gate being replaced
        return taken

    monkeypatch.setattr(gate_sync, "_snapshot", member_leaves_meanwhile)
    gate.invalidate(campaign.id)
    assert refusal(join_as, gate, "u_b", team.id) == "team_full"  # the older snapshot won
    assert gate_sync.repair(gate, campaign.id) == 0  # a surplus seen once may be a release in flight
    assert gate_sync.repair(gate, campaign.id) == 1  # seen twice: the gate is rebuilt on the next claim
    join_as(gate, "u_b", team.id)
    assert gate.claimed(campaign.id) == 2 and gate_sync.repair(gate, campaign.id) == 0


def test_a_place_released_in_mongodb_but_never_given_back_is_found_and_freed(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=2, seat_allotment=2)
    team, _ = open_as(gate, "u_lead", campaign)
    member = join_as(gate, "u_a", team.id)
    assert not gate_sync.reconcile(gate, campaign.id)  # gate and MongoDB agree
    # the member's seat was released in MongoDB, then the process died before the give-back
    gone = rules.given_back(member.id)
    Seat.objects(id=member.id).update_one(
        set__status="released", set__member_key=gone, set__place_key=gone, set__allot_key=gone, set__quota_key=gone
    )
    assert refusal(join_as, gate, "u_b", team.id) == "team_full"
    assert gate_sync.repair(gate, campaign.id) == 0  # seen once: maybe a release between its two writes
    assert gate_sync.repair(gate, campaign.id) == 1
    join_as(gate, "u_b", team.id)
    assert gate.claimed(campaign.id) == 2 and not gate_sync.reconcile(gate, campaign.id)


def test_a_stale_gate_is_caught_by_mongodb_and_rebuilt(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3)
    team, _ = open_as(gate, "u_lead", campaign)
    join_as(gate, "u_a", team.id)
    # lose the team's members but keep `ready`: the gate now believes seats 2 and 3 are free
    gate.redis.hdel(f"gb:{{{campaign.id}}}:t:{team.id}", "u:u_a", "s2")
    gate.redis.hincrby(f"gb:{{{campaign.id}}}:t:{team.id}", "n", -1)
    assert refusal(join_as, gate, "u_a", team.id) == "already_joined"
    assert Seat.objects(team_id=team.id, status__in=["held", "paid"]).count() == 2


def test_share_codes_credit_the_sharer_in_the_funnel(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=2)
    team, _ = open_as(gate, "u_lead", campaign)
    with as_user(user("u_lead")):
        code = teams.share_team(team.id)
        assert teams.share_team(team.id) == code
    for _ in range(3):  # joins, leaves and joins again through the code: still one person joining
        seat = join_as(gate, "u_a", share_code=code)
        with as_user(user("u_a")):
            teams.leave_team(gate, team.id)
    seat = join_as(gate, "u_a", share_code=code)
    assert seat.inviter_id == "u_lead"
    with as_user(context.ANONYMOUS):  # what the shared link opens, before anyone signs in
        share = teams.get_share(code)
        assert (share.team_id, share.sharer_id) == (team.id, "u_lead")
        assert refusal(teams.get_share, "sh0000000000000000") == "share_code_not_found"
        assert refusal(teams.get_share, "not a code") == "share_code_not_found"
    pay(gate, fake_retail, "u_lead", team.id)
    pay(gate, fake_retail, "u_a", team.id)
    with as_user(BRAND):
        result = funnel.campaign_funnel(campaign.id, 0)
    totals = result.totals
    assert (totals.shares, totals.opens, totals.joins, totals.paid, totals.formed) == (1, 1, 1, 2, 1)
    inviter, counts = result.inviters[0]
    assert inviter == "u_lead"
    assert (counts.shares, counts.opens, counts.joins, counts.paid, counts.formed) == (1, 1, 1, 1, 1)


def test_a_seat_whose_team_is_gone_shows_it_failed(mongo_db, gate, fake_retail):
    # an opening undone after its seat's insert failed ambiguously (the seat was written after all)
    team, seat = open_as(gate, "u_lead", live_campaign(fake_retail))
    Team.objects(id=team.id).delete()
    shown = teams.teams_of([seat])[team.id]
    assert (shown.status, shown.leader_id) == ("failed", "")


def test_the_funnel_ranks_inviters_by_joins_then_shares(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3, limits=UserLimits(teams_opened=2))
    formed, _ = open_as(gate, "u_p", campaign)
    forming, _ = open_as(gate, "u_q", campaign)
    other, _ = open_as(gate, "u_q", campaign)
    codes = {}
    for sharer, team in [("u_p", formed), ("u_q", formed), ("u_q", forming), ("u_q", other), ("u_s", forming),
                         ("u_t", forming), ("u_t", other)]:  # fmt: skip
        with as_user(user(sharer)):
            codes[sharer, team.id] = teams.share_team(team.id)
    join_as(gate, "u_x", share_code=codes["u_q", formed.id])
    with as_user(user("u_x")):
        teams.leave_team(gate, formed.id)  # joined, but the team formed without them
    for friend in ("u_1", "u_2"):
        join_as(gate, friend, share_code=codes["u_p", formed.id])
    for member in ("u_p", "u_1", "u_2"):
        pay(gate, fake_retail, member, formed.id)
    join_as(gate, "u_3", share_code=codes["u_q", forming.id])
    pay(gate, fake_retail, "u_3", forming.id)
    join_as(gate, "u_5", forming.id)  # found the team by itself: nobody's invitation
    join_as(gate, "u_4", share_code=codes["u_q", other.id])

    with as_user(BRAND):
        result = funnel.campaign_funnel(campaign.id, 4)
        top_two = funnel.campaign_funnel(campaign.id, 2)
    totals = result.totals
    assert (totals.shares, totals.opens, totals.joins, totals.paid, totals.formed) == (7, 3, 6, 4, 1)
    ranked = [(who, (c.shares, c.opens, c.joins, c.paid, c.formed)) for who, c in result.inviters]
    assert ranked == [
        ("u_q", (3, 2, 3, 1, 0)),
        ("u_p", (1, 1, 2, 2, 2)),
        ("u_t", (2, 0, 0, 0, 0)),
        ("u_s", (1, 0, 0, 0, 0)),
    ]
    assert [who for who, _ in top_two.inviters] == ["u_q", "u_p"]


def test_joinable_teams_come_closest_to_forming_first(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=4)
    lonely, _ = open_as(gate, "u_1", campaign)
    busy, _ = open_as(gate, "u_2", campaign)
    join_as(gate, "u_3", busy.id)
    full, _ = open_as(gate, "u_4", campaign)
    for member in ("u_5", "u_6", "u_7"):
        join_as(gate, member, full.id)
    listed = teams.list_joinable(gate, campaign.id, 10)
    assert [(v.team.id, v.claimed) for v in listed] == [(busy.id, 2), (lonely.id, 1)]


def test_a_solo_purchase_is_priced_by_the_campaign_and_keyed_for_retries(mongo_db, fake_retail):
    limits = UserLimits(units_per_order=2)
    campaign = live_campaign(fake_retail, solo_price_fen=1500, distribution_enabled=True, limits=limits)
    with as_user(user("u_solo")):
        first = teams.place_solo_order(fake_retail, campaign.id, 2, "k-1")
        assert teams.place_solo_order(fake_retail, campaign.id, 2, "k-1") == first
        assert teams.place_solo_order(fake_retail, campaign.id, 1, "k-2")[0] != first[0]
        assert refusal(teams.place_solo_order, fake_retail, campaign.id, 1, "k" * 101) == "invalid_idempotency_key"
    assert first[1] == 3000
    request = fake_retail.orders[("u_solo", f"solo:{campaign.id}:k-1")]
    assert (request.attribution.group_campaign_id, request.attribution.group_team_id) == (campaign.id, "")
    assert request.quote.distribution_enabled is True
    no_solo = live_campaign(fake_retail)
    with as_user(user("u_solo")):
        assert refusal(teams.place_solo_order, fake_retail, no_solo.id, 1) == "no_solo_price"


def test_a_crash_between_the_gate_and_mongodb_neither_loses_nor_doubles_a_seat(mongo_db, gate, fake_retail):
    campaign = live_campaign(fake_retail, team_size=3, seat_allotment=3)
    team, _ = open_as(gate, "u_lead", campaign)
    # crashed after the gate granted u_lost's claim, before the seat reached MongoDB
    teams._grant(gate, campaign, team.id, "u_lost", SeatKind.JOINED)
    # crashed after u_kept's seat reached MongoDB, before the gate heard it was settled
    kept = teams._grant(gate, campaign, team.id, "u_kept", SeatKind.JOINED)
    with as_user(user("u_kept")):
        teams._seat(campaign, kept, SeatKind.JOINED, 1, "").save(force_insert=True)
    assert gate.claimed(campaign.id) == 3 and refusal(join_as, gate, "u_late", team.id) == "team_full"

    with frozen_at(now() + gate_sync.PENDING_GRACE - timedelta(seconds=1)):
        assert gate_sync.sweep_pending(gate, campaign.id) == 0  # a claim may still be on its way
    with frozen_at(now() + gate_sync.PENDING_GRACE + timedelta(seconds=1)):
        assert gate_sync.sweep_pending(gate, campaign.id) == 1
        assert gate_sync.sweep_pending(gate, campaign.id) == 0  # settled: the next sweep finds nothing
    assert gate.claimed(campaign.id) == Seat.objects(campaign_id=campaign.id, status__in=["held", "paid"]).count() == 2
    join_as(gate, "u_late", team.id)  # the lost place is free again, and only that one
    assert refusal(join_as, gate, "u_lost", team.id) == "team_full"
    assert sorted(s.user_id for s in Seat.objects(team_id=team.id)) == ["u_kept", "u_late", "u_lead"]


def test_a_team_stored_without_its_openers_seat_is_cancelled_when_the_claim_is_given_back(
    mongo_db, gate, fake_retail, monkeypatch
):
    campaign = live_campaign(fake_retail, team_size=3)

    def crash(*args, **kwargs):  # the process dies after the team is stored, before its seat 1
        raise SystemExit

    monkeypatch.setattr(teams, "_undo", lambda *args: None)  # a dying process undoes nothing
    monkeypatch.setattr(Seat, "save", crash)
    with pytest.raises(SystemExit):
        open_as(gate, "u_lead", campaign)
    monkeypatch.undo()
    [team] = Team.objects(campaign_id=campaign.id)
    assert (team.status, Seat.objects(team_id=team.id).count()) == ("forming", 0)
    with frozen_at(now() + gate_sync.PENDING_GRACE + timedelta(seconds=1)):
        assert gate_sync.repair(gate, campaign.id) == 1
    assert (team.reload().status, team.failure_reason) == ("failed", "leader_left")
    assert teams.list_joinable(gate, campaign.id, 10) == [] and gate.claimed(campaign.id) == 0
