"""Identity at the edge: token verification, role checks, the dev token route, who may call what."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gateway import auth
from gateway.app import API_PREFIX, API_ROUTERS, DEV_ROUTERS, ROOT_ROUTERS
from gateway.auth import VerifiedTokens, issue_token, verify_token
from gateway.settings import DEV_JWT_SECRET, GatewaySettings
from gateway.tests.conftest import JWT_SECRET, long_ago
from gateway.tests.gateway_fakes import Plan
from mallkit.errors import Unauthenticated

ORDER_URL = "/api/v1/orders/ord_1"


def claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": "u_1",
        "roles": ["consumer"],
        "iss": "socialmall",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def assert_error(response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "request_id"}
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_valid_token_reaches_the_service_with_the_caller_as_metadata(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan
) -> None:
    response = client.get(ORDER_URL, headers={**auth("u_7", "consumer", "kol"), "X-Request-ID": "req-abc"})
    assert response.status_code == 200, response.text
    assert response.json()["buyer_id"] == "u_7"
    (call,) = plan.calls_to("GetOrder")
    assert call.metadata["x-user-id"] == "u_7"
    assert call.metadata["x-user-roles"] == "consumer,kol"
    assert call.metadata["x-request-id"] == "req-abc"


def test_missing_token_is_401_and_the_service_is_not_called(client: TestClient, plan: Plan) -> None:
    response = client.get(ORDER_URL)
    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert plan.calls == []


@pytest.mark.parametrize("header", ["Basic dTpw", "Bearer", "bearer  ", "Token abc"])
def test_non_bearer_authorization_is_401(client: TestClient, header: str) -> None:
    assert_error(client.get(ORDER_URL, headers={"Authorization": header}), 401, "missing_token")


def test_expired_token_is_401(client: TestClient, settings: GatewaySettings) -> None:
    token = issue_token(settings, "u_1", ["consumer"], now=long_ago())
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {token}"}), 401, "token_expired")


def test_tampered_token_is_401(client: TestClient, settings: GatewaySettings) -> None:
    header, _payload, signature = issue_token(settings, "u_1", ["consumer"]).split(".")
    forged = f"{header}.{b64(claims(sub='u_1', roles=['admin']))}.{signature}"
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_token_is_401(client: TestClient, alg: str) -> None:
    unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims(roles=['admin']))}."
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {unsigned}"}), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "HS384"])
def test_a_token_naming_another_algorithm_is_401_even_when_hmac_signed_with_our_key(
    client: TestClient, alg: str
) -> None:
    """HS/RS confusion: the gateway never lets a token choose how it is verified."""
    signing_input = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims(roles=['admin']))}"
    mac = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token")


def test_a_token_hmac_signed_with_a_public_key_is_401(client: TestClient) -> None:
    """The RS→HS downgrade: an HS256 token keyed with some public key PEM is just a wrong key here."""
    pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims(roles=['admin']))}"
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token")


@pytest.mark.parametrize(
    ("key", "algorithm", "overrides"),
    [
        ("another-secret-0123456789abcdef0123456789", "HS256", {}),  # wrong key
        (JWT_SECRET * 2, "HS512", {}),  # an algorithm not allowed
        (JWT_SECRET, "HS256", {"exp": None}),  # no expiry
        (JWT_SECRET, "HS256", {"sub": None}),  # no subject
        (JWT_SECRET, "HS256", {"iss": "someone-else"}),
        (JWT_SECRET, "HS256", {"roles": "admin"}),  # roles must be a list
        (JWT_SECRET, "HS256", {"roles": ["superuser"]}),
        (JWT_SECRET, "HS256", {"sub": "u 1; drop"}),
    ],
    ids=["wrong-key", "hs512", "no-exp", "no-sub", "wrong-issuer", "roles-not-list", "unknown-role", "bad-sub"],
)
def test_tokens_we_did_not_issue_are_401(
    client: TestClient, key: str, algorithm: str, overrides: dict[str, object]
) -> None:
    # claims made here, not at collection: a suite running longer than their 5 minutes would see them expire
    token = jwt.encode(claims(**overrides), key, algorithm=algorithm)
    assert_error(client.get(ORDER_URL, headers={"Authorization": f"Bearer {token}"}), 401, "invalid_token")


def test_verify_token_round_trip(settings: GatewaySettings) -> None:
    caller, _ = verify_token(settings, issue_token(settings, "u_9", ["brand", "admin", "brand"]))
    assert (caller.user_id, caller.roles) == ("u_9", frozenset({"brand", "admin"}))
    with pytest.raises(Unauthenticated):
        verify_token(settings, "not.a.token")


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens the gateway decodes (verifies), in order."""
    seen: list[str] = []
    decode = jwt.decode
    monkeypatch.setattr(auth.jwt, "decode", lambda token, *a, **k: seen.append(token) or decode(token, *a, **k))
    return seen


def test_a_token_is_verified_once_and_still_expires_on_time(settings: GatewaySettings, decoded: list[str]) -> None:
    issued = datetime.now(UTC)
    token = issue_token(settings, "u_9", ["kol"], now=issued)
    clock = [issued.timestamp()]
    tokens = VerifiedTokens(settings, clock=lambda: clock[0])
    assert [tokens.caller(token).user_id for _ in range(3)] == ["u_9"] * 3
    assert decoded == [token]
    clock[0] = (issued + timedelta(seconds=settings.access_token_ttl)).timestamp()
    with pytest.raises(Unauthenticated) as expired:
        tokens.caller(token)
    assert expired.value.code == "token_expired"


def test_a_failing_token_is_checked_every_time_and_the_oldest_goes_when_full(
    settings: GatewaySettings, decoded: list[str]
) -> None:
    tokens = VerifiedTokens(settings, size=2)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            tokens.caller("not.a.token")
    first, second, third = (issue_token(settings, f"u_{i}", []) for i in range(3))
    for token in (first, second, third, third, second, first):
        tokens.caller(token)
    assert decoded == ["not.a.token", "not.a.token", first, second, third, first]


@pytest.mark.parametrize(
    ("roles", "status"), [((), 403), (("consumer", "kol"), 403), (("brand",), 201), (("admin",), 201)]
)
def test_creating_a_brand_needs_role_brand_or_admin(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan, roles: tuple[str, ...], status: int
) -> None:
    response = client.post("/api/v1/brands", json={"name": "Rose & Co"}, headers=auth("u_3", *roles))
    assert response.status_code == status, response.text
    if status == 403:
        assert_error(response, 403, "role_required")
        assert plan.calls == []
    else:
        assert response.json()["owner_id"] == "u_3"


def test_public_routes_forward_no_identity(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    assert client.get("/api/v1/brands/brd_1", headers=auth("u_1", "admin")).status_code == 200
    (call,) = plan.calls_to("GetBrand")
    assert "x-user-id" not in call.metadata
    assert call.metadata["x-request-id"]


@pytest.mark.parametrize("path", ["/api/v1/products/prd_1", "/api/v1/skus/sku_1"])
def test_catalog_reads_forward_an_optional_caller(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan, path: str
) -> None:
    """So that a brand sees its own product (and SKU) while it awaits review; anyone sees approved ones."""
    assert client.get(path, headers=auth("u_brand", "brand")).status_code == 200
    assert client.get(path).status_code == 200
    signed_in, anonymous = (call.metadata for call in plan.calls)
    assert (signed_in["x-user-id"], "x-user-id" in anonymous) == ("u_brand", False)
    assert_error(client.get(path, headers={"Authorization": "Bearer not-a-jwt"}), 401, "invalid_token")


def test_dev_token_route_issues_a_working_token(client: TestClient, plan: Plan) -> None:
    response = client.post("/api/v1/dev/tokens", json={"user_id": "u_dev", "roles": ["brand"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    created = client.post(
        "/api/v1/brands", json={"name": "B"}, headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert created.status_code == 201, created.text
    assert plan.calls_to("CreateBrand")[0].metadata["x-user-roles"] == "brand"


@pytest.mark.parametrize(
    "body", [{"user_id": "u_1", "roles": ["root"]}, {"user_id": "bad id", "roles": []}, {"roles": ["brand"]}]
)
def test_dev_token_route_validates_its_body(client: TestClient, body: dict[str, object]) -> None:
    assert_error(client.post("/api/v1/dev/tokens", json=body), 422, "validation_failed")


def test_dev_routes_do_not_exist_in_prod(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"SOCIALMALL_ENV": "prod"})
    assert_error(client.post("/api/v1/dev/tokens", json={"user_id": "u_1", "roles": []}), 404, "not_found")
    assert_error(client.post("/api/v1/dev/payments/ord_1/simulate"), 404, "not_found")
    assert not [path for path in client.get("/openapi.json").json()["paths"] if "/dev/" in path]


def test_prod_refuses_a_short_jwt_secret(make_client: Callable[..., TestClient]) -> None:
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        make_client({"SOCIALMALL_ENV": "prod", "JWT_SECRET": "short"})


def test_prod_refuses_the_public_dev_jwt_secret(make_client: Callable[..., TestClient]) -> None:
    with pytest.raises(RuntimeError, match="JWT_SECRET is the public development default"):
        make_client({"SOCIALMALL_ENV": "prod", "JWT_SECRET": DEV_JWT_SECRET})


# Who may call each route; a new route must be added here, with its rule.
ACCESS = {
    ("POST", "/api/v1/auth/codes"): "public",
    ("POST", "/api/v1/auth/register"): "public",
    ("POST", "/api/v1/auth/login/code"): "public",
    ("POST", "/api/v1/auth/login/password"): "public",
    ("POST", "/api/v1/auth/refresh"): "public",
    ("POST", "/api/v1/auth/logout"): "public",
    ("POST", "/api/v1/auth/password/reset"): "public",
    ("GET", "/api/v1/me"): "authenticated",
    ("POST", "/api/v1/me/password"): "authenticated",
    ("POST", "/api/v1/me/roles"): "authenticated",
    ("GET", "/api/v1/me/role-applications"): "authenticated",
    ("POST", "/api/v1/role-applications"): "authenticated",
    ("GET", "/api/v1/role-applications/{application_id}"): "authenticated",
    ("GET", "/api/v1/admin/role-applications"): "role_admin",
    ("POST", "/api/v1/admin/role-applications/{application_id}/approve"): "role_admin",
    ("POST", "/api/v1/admin/role-applications/{application_id}/reject"): "role_admin",
    ("POST", "/api/v1/brands"): "role_brand_or_admin",
    ("GET", "/api/v1/brands/{brand_id}"): "public",
    ("POST", "/api/v1/products"): "role_brand_or_admin",
    ("POST", "/api/v1/admin/products/{product_id}/review"): "role_admin",
    ("GET", "/api/v1/products"): "public",
    ("GET", "/api/v1/products/{product_id}"): "optionally_authenticated",
    ("GET", "/api/v1/skus/{sku_id}"): "optionally_authenticated",
    ("POST", "/api/v1/skus/{sku_id}/stock-adjustments"): "role_brand_or_admin",
    ("POST", "/api/v1/orders"): "authenticated",
    ("GET", "/api/v1/orders"): "authenticated",
    ("GET", "/api/v1/orders/{order_id}"): "authenticated",
    ("POST", "/api/v1/orders/{order_id}/shipment"): "authenticated",
    ("POST", "/api/v1/orders/{order_id}/receipt"): "authenticated",
    ("POST", "/api/v1/orders/{order_id}/refunds"): "authenticated",
    ("GET", "/api/v1/orders/{order_id}/refunds"): "authenticated",
    ("POST", "/api/v1/refunds/{refund_id}/review"): "authenticated",
    ("POST", "/api/v1/orders/{order_id}/payments"): "authenticated",
    ("POST", "/api/v1/stores"): "authenticated",
    ("GET", "/api/v1/stores/me"): "authenticated",
    ("GET", "/api/v1/stores/{store_id}"): "public",
    ("PUT", "/api/v1/stores/{store_id}"): "authenticated",
    ("PUT", "/api/v1/stores/{store_id}/products/{sku_id}"): "authenticated",
    ("DELETE", "/api/v1/stores/{store_id}/products/{sku_id}"): "authenticated",
    ("GET", "/api/v1/stores/{store_id}/products"): "public",
    ("GET", "/api/v1/stores/{store_id}/share"): "public",
    ("POST", "/api/v1/bindings"): "authenticated",
    ("GET", "/api/v1/bindings/me"): "authenticated",
    ("GET", "/api/v1/wallet/balance"): "authenticated",
    ("GET", "/api/v1/wallet/entries"): "authenticated",
    ("GET", "/api/v1/wallet/orders/{order_id}/payouts"): "authenticated",
    ("POST", "/api/v1/wallet/withdrawals"): "authenticated",
    ("GET", "/api/v1/wallet/withdrawals"): "authenticated",
    ("POST", "/api/v1/admin/withdrawals/{withdrawal_id}/review"): "role_admin",
    ("GET", "/api/v1/admin/payout-policy"): "role_admin",
    ("PUT", "/api/v1/admin/payout-policy"): "role_admin",
    ("POST", "/api/v1/payments/notify"): "public_provider_callback",
    ("POST", "/api/v1/groupbuy/campaigns"): "role_brand_or_admin",
    ("POST", "/api/v1/groupbuy/campaigns/{campaign_id}/publish"): "role_brand_or_admin",
    ("POST", "/api/v1/groupbuy/campaigns/{campaign_id}/end"): "role_brand_or_admin",
    ("GET", "/api/v1/groupbuy/campaigns"): "optionally_authenticated",
    ("GET", "/api/v1/groupbuy/campaigns/{campaign_id}"): "optionally_authenticated",
    ("GET", "/api/v1/groupbuy/campaigns/{campaign_id}/funnel"): "role_brand_or_admin",
    ("GET", "/api/v1/groupbuy/campaigns/{campaign_id}/teams"): "public",
    ("POST", "/api/v1/groupbuy/campaigns/{campaign_id}/teams"): "authenticated",
    ("POST", "/api/v1/groupbuy/campaigns/{campaign_id}/solo-order"): "authenticated",
    ("POST", "/api/v1/groupbuy/teams/{team_id}/join"): "authenticated",
    ("POST", "/api/v1/groupbuy/join"): "authenticated",
    ("POST", "/api/v1/groupbuy/teams/{team_id}/order"): "authenticated",
    ("POST", "/api/v1/groupbuy/teams/{team_id}/leave"): "authenticated",
    ("GET", "/api/v1/groupbuy/teams/{team_id}"): "optionally_authenticated",
    ("GET", "/api/v1/groupbuy/shares/{share_code}"): "optionally_authenticated",
    ("POST", "/api/v1/groupbuy/teams/{team_id}/share"): "authenticated",
    ("GET", "/api/v1/groupbuy/me/seats"): "authenticated",
    ("GET", "/api/v1/groupbuy/paid-orders/{order_id}"): "authenticated",
    ("POST", "/api/v1/bargain/campaigns"): "role_brand_or_admin",
    ("GET", "/api/v1/bargain/campaigns"): "public",
    ("GET", "/api/v1/bargain/me/bargains"): "authenticated",
    ("GET", "/api/v1/bargain/campaigns/{campaign_id}"): "public",
    ("POST", "/api/v1/bargain/campaigns/{campaign_id}/bargains"): "authenticated",
    ("GET", "/api/v1/bargain/bargains/{bargain_id}"): "public",
    ("POST", "/api/v1/bargain/bargains/{bargain_id}/help"): "authenticated",
    ("GET", "/api/v1/bargain/bargains/{bargain_id}/helps"): "public",
    ("POST", "/api/v1/bargain/bargains/{bargain_id}/order"): "authenticated",
    ("POST", "/api/v1/posts"): "authenticated",
    ("GET", "/api/v1/posts/{post_id}"): "public",
    ("POST", "/api/v1/agents"): "role_agent",
    ("GET", "/api/v1/agents/{agent_id}"): "authenticated",
    ("POST", "/api/v1/guide/links"): "role_kol",
    ("GET", "/api/v1/guide/links/{link_id}"): "authenticated",
    ("GET", "/s/{code}"): "public",
    ("POST", "/api/v1/dev/tokens"): "public",
    ("GET", "/api/v1/dev/codes/{phone}"): "public",
    ("POST", "/api/v1/dev/payments/{order_id}/simulate"): "authenticated",
}
UNGUARDED = {("GET", "/healthz"), ("GET", "/readyz")}


def access_rules(route: APIRoute) -> list[str]:
    names = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        call = dependency.call
        if getattr(call, "__module__", "") == "gateway.auth" and call.__name__.startswith(
            ("public", "authenticated", "optionally_authenticated", "role_")
        ):
            names.append(call.__name__)
        else:
            pending.extend(dependency.dependencies)
    return names


def test_every_route_declares_exactly_one_access_rule(client: TestClient) -> None:
    seen = {}
    mounted = [("", r) for r in ROOT_ROUTERS] + [(API_PREFIX, r) for r in (*API_ROUTERS, *DEV_ROUTERS)]
    for prefix, router in mounted:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                seen[(method, prefix + route.path)] = access_rules(route)
    assert {key: rules for key, rules in seen.items() if key not in UNGUARDED} == {
        key: [rule] for key, rule in ACCESS.items()
    }
    # and these routers are all the app serves
    served = {(m.upper(), p) for p, ops in client.get("/openapi.json").json()["paths"].items() for m in ops}
    assert served == set(seen)
