"""Teams, their seats and share codes.

MongoDB is the source of truth for seats, exact on its own: a seat carries four keys under
unique indexes, and each key names a bounded place a seat can take —

- member_key  `<team>:<user>`                one seat per user per team;
- place_key   `<team>:<seat_no>`, seat_no 1..size      a team never exceeds its size;
- allot_key   `<campaign>:<slot>`, slot 1..allotment   the campaign's allotment is never oversold;
- quota_key   `<campaign>:<user>:o<k>` or `:j<k>`, k 1..limit   per-user limits hold.

A seat that stops counting (released, or its team closed) sets the keys it gives back to
`x:<seat id>`, which frees the place for someone else in the same single-document write. The
Redis seat gate (service/seat_gate.py) only decides fast who may try; whatever it decides, these
indexes make a wrong insert fail.
"""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now
from mallkit.outbox import OutboxDocument


class Team(OutboxDocument):
    id = me.StringField(primary_key=True)
    campaign_id = me.StringField(required=True)
    team_size = me.IntField(required=True)
    leader_id = me.StringField(required=True)
    opener_id = me.StringField(required=True)  # the leader who opened it (leadership may pass on)
    status = me.StringField(required=True)  # domain.teams.TeamStatus
    # the paid seats' ids: a seat is added or removed at most once, and the team forms in the same
    # conditional write that adds its last paid seat
    paid_seats = me.ListField(me.StringField(), default=list)
    # paid seats that left while the team was forming: never counted again, even by a count that
    # read the seat as paid before it left (the count's write is conditional on this list)
    left_seats = me.ListField(me.StringField(), default=list)
    expires_at = me.DateTimeField(null=True)  # set when the leader's seat is paid
    created_at = me.DateTimeField(default=now)
    closed_at = me.DateTimeField(null=True)
    virtually_filled = me.BooleanField(default=False)
    failure_reason = me.StringField(default="")
    # false from closing until its seats are settled (quota and allotment given back); a crash in
    # between is finished by the worker's sweep
    seats_settled = me.BooleanField(default=True)
    meta = {
        "collection": "teams",
        "indexes": [("campaign_id", "status"), ("status", "expires_at"), ("status", "created_at")],
    }


class Seat(OutboxDocument):
    id = me.StringField(primary_key=True)
    team_id = me.StringField(required=True)
    campaign_id = me.StringField(required=True)
    user_id = me.StringField(required=True)
    seat_no = me.IntField(required=True)
    kind = me.StringField(required=True)  # "o" opened the team, "j" joined it
    quantity = me.IntField(required=True)
    price_fen = me.IntField(required=True)  # the seat order's total
    inviter_id = me.StringField(default="")  # who shared the code the member joined through
    status = me.StringField(required=True)  # domain.teams.SeatStatus
    order_id = me.StringField(default="")
    claimed_at = me.DateTimeField(default=now)
    hold_expires_at = me.DateTimeField(required=True)
    paid_at = me.DateTimeField(null=True)
    released_at = me.DateTimeField(null=True)
    release_reason = me.StringField(default="")
    member_key = me.StringField(required=True, unique=True)
    place_key = me.StringField(required=True, unique=True)
    allot_key = me.StringField(required=True, unique=True)
    quota_key = me.StringField(required=True, unique=True)
    meta = {
        "collection": "seats",
        "indexes": [
            ("team_id", "seat_no"),
            ("campaign_id", "status"),
            ("user_id", "-claimed_at"),
            ("status", "hold_expires_at"),
            "order_id",
            ("campaign_id", "inviter_id"),
        ],
    }


class Share(me.Document):
    """A share code: who shared which team. Joins through it credit the sharer."""

    id = me.StringField(primary_key=True)  # the code
    team_id = me.StringField(required=True)
    campaign_id = me.StringField(required=True)
    sharer_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=now)
    meta = {
        "collection": "shares",
        "indexes": [{"fields": ["team_id", "sharer_id"], "unique": True}, ("campaign_id", "sharer_id")],
    }
