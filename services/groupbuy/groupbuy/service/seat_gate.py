"""The Redis seat gate: decides in one Lua call who may take a seat, before MongoDB is asked.

Under a flash crowd most join attempts must be refused (team full, already in it, limit reached,
allotment sold out); the gate refuses them without touching MongoDB. A claim it grants is then
inserted into MongoDB, whose unique indexes are exact on their own (documents/teams.py); the gate
is a fast, rebuildable copy of what MongoDB holds.

Keys, all under one hash tag per campaign (`gb:{<campaign>}:…`, one Redis Cluster slot):
- `ready`        exists while the gate mirrors MongoDB; missing after a flush or restart
- `t:<team>`     hash: size, open (1, or why not: formed / 0), n (seats claimed), exp (expiry, epoch
                 ms; 0 = not yet),
                 s<seat_no> → user, u:<user> → seat_no
- `next`, `free` the allotment: next unused slot number, and a set of slots given back
- `u:<user>`     hash: o<k> / j<k> → team, the per-user quota slots taken
- `joinable`     sorted set of open teams by seats claimed (closest to forming first)
- `pending`      sorted set of claims granted but not yet settled in MongoDB, by time: a crash
                 between the two leaves one here, and `sweep_pending` gives its places back
- `gen`          counts give-backs, so that `gate_sync.reconcile` can tell a release in flight
                 from a place the gate lost track of
- `drift`        set while reconcile has seen the gate hold more places than MongoDB once

Losing any of it is safe: a claim that meets a missing `ready` rebuilds the gate from MongoDB
first, and a claim that MongoDB refuses (the gate was stale) invalidates the gate and retries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import redis

from groupbuy.domain.teams import SeatKind, TeamStatus

log = logging.getLogger(__name__)

REBUILD_LOCK_SECONDS = 30
REBUILD_WAIT_SECONDS = 5.0

_CLAIM = """
local ready, team, nextk, free, user, joinable, pending = unpack(KEYS)
local team_id, user_id, kind = ARGV[1], ARGV[2], ARGV[3]
local size, allotment, limit = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now_ms, opening = ARGV[7], ARGV[8] == '1'
if redis.call('EXISTS', ready) == 0 then return {'rebuild'} end
local n = 0
if opening then
  if redis.call('EXISTS', team) == 1 then return {'refused', 'team_exists'} end
else
  local open = redis.call('HGET', team, 'open')
  if not open then return {'unknown_team'} end
  if open == 'formed' then return {'refused', 'team_formed'} end
  if open ~= '1' then return {'refused', 'team_closed'} end
  local exp = tonumber(redis.call('HGET', team, 'exp') or '0')
  if exp > 0 and tonumber(now_ms) >= exp then return {'refused', 'team_expired'} end
  if redis.call('HEXISTS', team, 'u:' .. user_id) == 1 then return {'refused', 'already_joined'} end
  n = tonumber(redis.call('HGET', team, 'n'))
  if n >= size then return {'refused', 'team_full'} end
end
local k = nil
for i = 1, limit do
  if redis.call('HEXISTS', user, kind .. i) == 0 then k = i break end
end
if not k then
  if kind == 'o' then return {'refused', 'open_limit_reached'} end
  return {'refused', 'join_limit_reached'}
end
local slot = redis.call('SPOP', free)
if not slot then
  local nxt = tonumber(redis.call('GET', nextk) or '1')
  if nxt > allotment then return {'refused', 'allotment_sold_out'} end
  slot = tostring(nxt)
  redis.call('SET', nextk, nxt + 1)
end
local seat = 1
if opening then
  redis.call('HSET', team, 'size', size, 'open', '1', 'n', 0, 'exp', 0)
else
  for i = 1, size do
    if redis.call('HEXISTS', team, 's' .. i) == 0 then seat = i break end
  end
end
redis.call('HSET', team, 's' .. seat, user_id, 'u:' .. user_id, seat)
n = redis.call('HINCRBY', team, 'n', 1)
redis.call('HSET', user, kind .. k, team_id)
if n >= size then redis.call('ZREM', joinable, team_id) else redis.call('ZADD', joinable, n, team_id) end
local quota = kind .. k
redis.call('ZADD', pending, now_ms, table.concat({team_id, user_id, seat, slot, quota}, '|'))
return {'ok', seat, slot, quota}
"""

# Give places back. Every step checks the place still belongs to this claim, so giving back twice,
# or after a rebuild handed the place to someone else, changes nothing.
_GIVE_BACK = """
local team, nextk, free, user, joinable, pending, gen = unpack(KEYS)
redis.call('INCR', gen)
local team_id, user_id, seat, slot, quota, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if seat ~= '' and redis.call('HGET', team, 'u:' .. user_id) == seat then
  redis.call('HDEL', team, 'u:' .. user_id, 's' .. seat)
  local n = redis.call('HINCRBY', team, 'n', -1)
  if redis.call('HGET', team, 'open') == '1' then redis.call('ZADD', joinable, n, team_id) end
end
if quota ~= '' and redis.call('HGET', user, quota) == team_id then redis.call('HDEL', user, quota) end
if slot ~= '' and tonumber(slot) < tonumber(redis.call('GET', nextk) or '1') then redis.call('SADD', free, slot) end
redis.call('ZREM', pending, member)
return 1
"""

# Give back the per-user quota slots of one kind (o/j) that hold this team, whichever they are: a
# caller that no longer knows the slot's number (MongoDB gave it back first) can still ask.
_FREE_QUOTA = """
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i + 1] == ARGV[1] and string.sub(fields[i], 1, 1) == ARGV[2] then redis.call('HDEL', KEYS[1], fields[i]) end
end
return 1
"""

_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'open', ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Claim:
    """A seat the gate granted: where it is, and the places it took."""

    campaign_id: str
    team_id: str
    user_id: str
    seat_no: int
    slot: int
    quota: str  # o<k> or j<k>

    @property
    def member(self) -> str:
        return "|".join([self.team_id, self.user_id, str(self.seat_no), str(self.slot), self.quota])

    @classmethod
    def from_member(cls, campaign_id: str, member: str) -> Claim:
        team_id, user_id, seat_no, slot, quota = member.split("|")
        return cls(campaign_id, team_id, user_id, int(seat_no), int(slot), quota)


@dataclass(frozen=True)
class Refused:
    code: str


class RebuildNeeded(Exception):
    """The gate does not mirror MongoDB (flushed, restarted, or found stale)."""


class UnknownTeam(Exception):
    """The gate has no such team: it is closed, unknown, or the gate lost it."""


@dataclass(frozen=True)
class GateSeat:
    """A seat MongoDB counts, for a rebuild: its allotment slot, its quota slot if it still holds
    one, and its place in its team if the team still forms."""

    team_id: str
    user_id: str
    seat_no: int
    slot: int
    quota: str  # "" when the seat no longer holds a per-user quota slot
    team_forming: bool


@dataclass(frozen=True)
class GateTeam:
    """A team still forming."""

    team_id: str
    size: int
    expires_at: datetime | None  # None until the leader's seat is paid


def _prefix(campaign_id: str) -> str:
    return f"gb:{{{campaign_id}}}"


def _epoch_ms(moment: datetime | None) -> int:
    """The gate keeps times as epoch milliseconds; 0 for none."""
    return int(moment.timestamp() * 1000) if moment else 0


class SeatGate:
    """Over a client that decodes replies to str (mallkit.redis_conn.connect)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._claim = client.register_script(_CLAIM)
        self._give_back = client.register_script(_GIVE_BACK)
        self._close = client.register_script(_CLOSE)
        self._free_quota = client.register_script(_FREE_QUOTA)

    # ── keys ────────────────────────────────────────────────────────────────────────────────

    @staticmethod
    def _keys(campaign_id: str, team_id: str, user_id: str) -> list[str]:
        p = _prefix(campaign_id)
        return [f"{p}:ready", f"{p}:t:{team_id}", f"{p}:next", f"{p}:free", f"{p}:u:{user_id}", f"{p}:joinable",
                f"{p}:pending"]  # fmt: skip

    # ── claims ──────────────────────────────────────────────────────────────────────────────

    def claim(
        self,
        campaign_id: str,
        team_id: str,
        user_id: str,
        *,
        kind: SeatKind,
        size: int,
        allotment: int,
        limit: int,
        opening: bool,
        at: datetime,
    ) -> Claim | Refused:
        """Take a seat (seat 1 of a new team when opening); raises RebuildNeeded / UnknownTeam."""
        args = [team_id, user_id, str(kind), size, allotment, limit, _epoch_ms(at), "1" if opening else "0"]
        reply = self._claim(keys=self._keys(campaign_id, team_id, user_id), args=args)
        if reply[0] == "rebuild":
            raise RebuildNeeded(campaign_id)
        if reply[0] == "unknown_team":
            raise UnknownTeam(team_id)
        if reply[0] == "refused":
            return Refused(reply[1])
        return Claim(campaign_id, team_id, user_id, int(reply[1]), int(reply[2]), reply[3])

    def give_back(self, claim: Claim) -> None:
        """Free what a claim took, and forget it as pending."""
        keys = self._keys(claim.campaign_id, claim.team_id, claim.user_id)
        keys = [keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], f"{_prefix(claim.campaign_id)}:gen"]
        args = [claim.team_id, claim.user_id, str(claim.seat_no), str(claim.slot), claim.quota, claim.member]
        self._give_back(keys=keys, args=args)

    def free_quota(self, campaign_id: str, user_id: str, team_id: str, kind: SeatKind) -> None:
        """Give back the user's `kind` quota slot held by the team, if the gate still holds one."""
        self._free_quota(keys=[f"{_prefix(campaign_id)}:u:{user_id}"], args=[team_id, str(kind)])

    def settled(self, claim: Claim) -> None:
        """MongoDB holds the claim: it is no longer pending."""
        self.redis.zrem(f"{_prefix(claim.campaign_id)}:pending", claim.member)

    def pending_count(self, campaign_id: str) -> int:
        return int(self.redis.zcard(f"{_prefix(campaign_id)}:pending"))

    def pending_before(self, campaign_id: str, before: datetime) -> list[Claim]:
        members = self.redis.zrangebyscore(f"{_prefix(campaign_id)}:pending", 0, _epoch_ms(before))
        return [Claim.from_member(campaign_id, m) for m in members]

    # ── teams ───────────────────────────────────────────────────────────────────────────────

    def set_expiry(self, campaign_id: str, team_id: str, expires_at: datetime) -> None:
        key = f"{_prefix(campaign_id)}:t:{team_id}"
        if self.redis.exists(key):
            self.redis.hset(key, "exp", _epoch_ms(expires_at))

    def team_state(self, campaign_id: str, team_id: str) -> TeamStatus | None:
        """The team as the gate knows it: forming (it takes seats), formed or failed (closed otherwise);
        None if it does not know the team."""
        flag = self.redis.hget(f"{_prefix(campaign_id)}:t:{team_id}", "open")
        if flag is None:
            return None
        return {"1": TeamStatus.FORMING, "formed": TeamStatus.FORMED}.get(flag, TeamStatus.FAILED)

    def close_team(self, campaign_id: str, team_id: str, *, formed: bool) -> None:
        """Take no more seats for the team; a join then hears whether it formed or failed."""
        p = _prefix(campaign_id)
        self._close(keys=[f"{p}:t:{team_id}", f"{p}:joinable"], args=[team_id, "formed" if formed else "0"])

    def drop_team(self, campaign_id: str, team_id: str) -> None:
        """Forget a team that never made it into MongoDB."""
        p = _prefix(campaign_id)
        self.redis.delete(f"{p}:t:{team_id}")
        self.redis.zrem(f"{p}:joinable", team_id)

    def joinable(self, campaign_id: str, limit: int) -> list[str]:
        """Open teams, most seats claimed first."""
        if not self.redis.exists(f"{_prefix(campaign_id)}:ready"):
            raise RebuildNeeded(campaign_id)
        return self.redis.zrevrange(f"{_prefix(campaign_id)}:joinable", 0, limit - 1)

    def claimed(self, campaign_id: str) -> int:
        """Seats the allotment has handed out and not had back."""
        p = _prefix(campaign_id)
        return int(self.redis.get(f"{p}:next") or 1) - 1 - self.redis.scard(f"{p}:free")

    # ── rebuild ─────────────────────────────────────────────────────────────────────────────

    def invalidate(self, campaign_id: str) -> None:
        self.redis.delete(f"{_prefix(campaign_id)}:ready")

    def is_ready(self, campaign_id: str) -> bool:
        return bool(self.redis.exists(f"{_prefix(campaign_id)}:ready"))

    def generation(self, campaign_id: str) -> int:
        return int(self.redis.get(f"{_prefix(campaign_id)}:gen") or 0)

    def drift_seen_before(self, campaign_id: str, within_seconds: int) -> bool:
        """Whether a surplus was seen before (within the time given); remembers this one if not."""
        return not self.redis.set(f"{_prefix(campaign_id)}:drift", 1, nx=True, ex=within_seconds)

    def forget_drift(self, campaign_id: str) -> None:
        self.redis.delete(f"{_prefix(campaign_id)}:drift")

    def rebuild(self, campaign_id: str, teams: list[GateTeam], seats: list[GateSeat]) -> None:
        """Replace the campaign's gate with what MongoDB holds, in one MULTI. A release whose
        give-back lands between the snapshot and the write leaves its place taken here;
        `gate_sync.reconcile` finds it."""
        p = _prefix(campaign_id)
        kept = (":rebuilding", ":gen")
        stale = [k for k in self.redis.scan_iter(match=f"{p}:*", count=1000) if not k.endswith(kept)]
        members: dict[str, dict[str, str | int]] = {t.team_id: {} for t in teams}
        quotas: dict[str, dict[str, str]] = {}
        used_slots = {seat.slot for seat in seats}
        for seat in seats:
            if seat.quota:
                quotas.setdefault(seat.user_id, {})[seat.quota] = seat.team_id
            if seat.team_forming and seat.team_id in members:
                members[seat.team_id].update({f"s{seat.seat_no}": seat.user_id, f"u:{seat.user_id}": seat.seat_no})
        pipe = self.redis.pipeline(transaction=True)
        if stale:
            pipe.delete(*stale)
        for team in teams:
            n = len(members[team.team_id]) // 2
            state = {"size": team.size, "open": 1, "n": n, "exp": _epoch_ms(team.expires_at)}
            pipe.hset(f"{p}:t:{team.team_id}", mapping={**state, **members[team.team_id]})
            if n < team.size:
                pipe.zadd(f"{p}:joinable", {team.team_id: n})
        for user_id, slots in quotas.items():
            pipe.hset(f"{p}:u:{user_id}", mapping=slots)
        top = max(used_slots, default=0)
        pipe.set(f"{p}:next", top + 1)
        if gaps := set(range(1, top + 1)) - used_slots:
            pipe.sadd(f"{p}:free", *gaps)
        pipe.set(f"{p}:ready", 1)
        pipe.execute()
        log.info("seat gate of %s rebuilt: %d seats, %d teams forming", campaign_id, len(used_slots), len(teams))

    def lock_rebuild(self, campaign_id: str) -> bool:
        return bool(self.redis.set(f"{_prefix(campaign_id)}:rebuilding", 1, nx=True, ex=REBUILD_LOCK_SECONDS))

    def unlock_rebuild(self, campaign_id: str) -> None:
        self.redis.delete(f"{_prefix(campaign_id)}:rebuilding")

    def wait_ready(self, campaign_id: str, timeout: float = REBUILD_WAIT_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready(campaign_id):
                return True
            time.sleep(0.02)
        return False
