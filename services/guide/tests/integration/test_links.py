"""Link use cases against a real Mongo wire server and a real Redis."""

from datetime import UTC, datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from guide import service
from guide.documents import Click, Link
from guide.domain import links
from mallkit import context
from mallkit.errors import InvalidArgument, NotFound, PermissionDenied
from mallkit.testing import free_port

pytestmark = pytest.mark.integration

KNOWN_SKU = "sku_known"


def as_user(user_id: str, *roles: str):
    return context.bound(context.new_request_id(), context.Caller(user_id, frozenset(roles)))


def test_create_link_validates_the_sku_with_retail(create_link, retail):
    link = create_link("u_kol")
    assert retail.asked == [KNOWN_SKU]
    assert (link.kol_id, link.sku_id, link.clicks) == ("u_kol", KNOWN_SKU, 0)
    assert link.target_url == f"https://mall.example/api/v1/skus/{KNOWN_SKU}?kol_link={link.id}"
    assert links.check_code(link.code) == link.code
    assert Link.objects.get(code=link.code).id == link.id


def test_create_link_refusals(mongo_db, settings, retail):
    with pytest.raises(PermissionDenied) as err:
        service.create_link(KNOWN_SKU, settings, retail)
    assert err.value.code == "unauthenticated"
    with as_user("u_kol", "kol"), pytest.raises(NotFound) as err:
        service.create_link("sku_gone", settings, retail)
    assert err.value.code == "sku_not_found"  # retail said "not_found"; guide names its own error
    with as_user("u_kol", "kol"), pytest.raises(NotFound) as err:
        service.create_link("not an id", settings, retail)
    assert err.value.code == "sku_not_found"
    assert retail.asked == ["sku_gone"] and Link.objects.count() == 0


def test_a_short_code_collision_draws_another_code(create_link, monkeypatch):
    codes = iter(["aaaaaaa", "aaaaaaa", "bbbbbbb"])
    monkeypatch.setattr(links, "new_code", lambda: next(codes))
    assert create_link().code == "aaaaaaa"
    assert create_link().code == "bbbbbbb"


def test_resolve_counts_clicks_and_unique_visitors(create_link, cache):
    link = create_link()
    for visitor in ["v1", "v2", "v1", ""]:
        resolved = service.resolve_link(link.code, visitor, cache)
        assert (resolved.id, resolved.target_url) == (link.id, link.target_url)
    key = links.uv_key(link.id, datetime.now(UTC).date())
    assert cache.pfcount(key) == 2
    assert 0 < cache.ttl(key) <= links.UV_TTL_SECONDS
    assert Link.objects.get(id=link.id).clicks == 4
    assert sorted(Click.objects(link_id=link.id).scalar("visitor_id")) == ["", "v1", "v1", "v2"]


def test_a_click_is_recorded_even_when_redis_is_down(create_link):
    link = create_link()
    down = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # nothing listens; fail fast
    assert service.resolve_link(link.code, "v1", down).id == link.id
    assert Link.objects.get(id=link.id).clicks == 1


def test_resolve_refusals(mongo_db, cache):
    with pytest.raises(InvalidArgument) as err:
        service.resolve_link("bad/code", "v1", cache)
    assert err.value.code == "invalid_code"
    with pytest.raises(NotFound) as err:
        service.resolve_link("zzzzzzz", "v1", cache)
    assert err.value.code == "link_not_found"
    assert Click.objects.count() == 0


def test_links_are_private_to_their_owner_and_admins(create_link, cache):
    link = create_link("u_kol")
    service.resolve_link(link.code, "", cache)
    with as_user("u_kol", "kol"):
        assert service.get_link(link.id).clicks == 1
    with as_user("u_admin", "admin"):
        assert service.get_link(link.id).id == link.id
    with as_user("u_other", "kol"), pytest.raises(NotFound) as err:
        service.get_link(link.id)
    assert err.value.code == "link_not_found"
    with pytest.raises(PermissionDenied):
        service.get_link(link.id)
