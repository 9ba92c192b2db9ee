"""Accounts: codes, register, log in, refresh rotation and reuse, log out, passwords, roles, approval."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import redis
from fastapi.testclient import TestClient

from gateway import security
from gateway.codes import PREFIX as CODE_PREFIX
from gateway.documents import Account, RefreshFamily, RefreshToken
from gateway.tests.conftest import JWT_SECRET, new_phone

API = "/api/v1"
PASSWORD = "correct horse battery"


def error_code(response: Any) -> str:
    code: str = response.json()["code"]
    return code


def send_code(client: TestClient, phone: str) -> str:
    sent = client.post(f"{API}/auth/codes", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    read = client.get(f"{API}/dev/codes/{sent.json()['phone']}")
    assert read.status_code == 200, read.text
    code: str = read.json()["code"]
    return code


def register(client: TestClient, phone: str | None = None, password: str | None = PASSWORD) -> dict[str, Any]:
    phone = phone or new_phone()
    body: dict[str, Any] = {"phone": phone, "code": send_code(client, phone)}
    if password:
        body["password"] = password
    reply = client.post(f"{API}/auth/register", json=body)
    assert reply.status_code == 201, reply.text
    tokens: dict[str, Any] = reply.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def claims(tokens: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(tokens["access_token"], JWT_SECRET, algorithms=["HS256"], issuer="socialmall")
    return decoded


def refresh(client: TestClient, token: str) -> Any:
    return client.post(f"{API}/auth/refresh", json={"refresh_token": token})


# ── codes and registration ───────────────────────────────────────────────────────────────────


def test_register_with_a_code_and_password_then_use_the_access_token(client: TestClient) -> None:
    local = f"139{new_phone()[-8:]}"  # 11 digits without country code: read as +86
    tokens = register(client, local)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    assert tokens["refresh_expires_in"] == 30 * 24 * 3600 and tokens["refresh_token"].startswith("rt_")
    assert tokens["new_account"] is True
    account = tokens["account"]
    assert (account["phone"], account["roles"], account["has_password"]) == (f"+86{local}", ["consumer"], True)
    assert claims(tokens)["sub"] == account["id"] and claims(tokens)["roles"] == ["consumer"]
    me = client.get(f"{API}/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json() == account


def test_secrets_are_stored_only_hashed(client: TestClient, redis_url: str) -> None:
    phone = new_phone()
    code = send_code(client, phone)
    stored = redis.Redis.from_url(redis_url, decode_responses=True).hgetall(CODE_PREFIX + phone)
    assert set(stored) == {"digest", "attempts"} and code not in stored["digest"]
    tokens = client.post(f"{API}/auth/register", json={"phone": phone, "code": code, "password": PASSWORD}).json()
    account = Account.objects.get(phone=phone)
    assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
    assert RefreshToken.objects(id=security.token_digest(tokens["refresh_token"])).count() == 1
    assert RefreshToken.objects(id=tokens["refresh_token"]).count() == 0


def test_a_code_works_once(client: TestClient) -> None:
    phone = new_phone()
    code = send_code(client, phone)
    assert client.post(f"{API}/auth/login/code", json={"phone": phone, "code": code}).status_code == 200
    again = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": code})
    assert (again.status_code, error_code(again)) == (401, "code_expired")
    assert client.get(f"{API}/dev/codes/{phone}").status_code == 404


def test_five_wrong_guesses_burn_the_code(client: TestClient) -> None:
    phone = new_phone()
    code = send_code(client, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        reply = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": wrong})
        assert (reply.status_code, error_code(reply)) == (401, "invalid_code")
    reply = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": code})
    assert (reply.status_code, error_code(reply)) == (401, "code_expired")


def test_a_code_expires(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"CODE_TTL_SECONDS": "1"})
    phone = new_phone()
    code = send_code(client, phone)
    time.sleep(1.2)
    reply = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": code})
    assert (reply.status_code, error_code(reply)) == (401, "code_expired")


def test_a_phone_registers_once(client: TestClient) -> None:
    phone = new_phone()
    register(client, phone)
    again = client.post(f"{API}/auth/register", json={"phone": phone, "code": send_code(client, phone)})
    assert (again.status_code, error_code(again)) == (409, "phone_taken")


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12345", "code": "123456"},
        {"phone": "+8613912345678", "code": "12345"},
        {"phone": "+8613912345678", "code": "123456", "password": "short"},
        {"phone": "+8613912345678", "code": 123456},
        {"phone": "+8613912345678", "code": "123456", "role": "admin"},
    ],
)
def test_registration_is_validated_at_the_edge(client: TestClient, body: dict[str, Any]) -> None:
    reply = client.post(f"{API}/auth/register", json=body)
    assert (reply.status_code, error_code(reply)) == (422, "validation_failed")


# ── logging in ───────────────────────────────────────────────────────────────────────────────


def test_login_with_password(client: TestClient) -> None:
    phone = new_phone()
    registered = register(client, phone)
    reply = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    assert reply.json()["account"]["id"] == registered["account"]["id"] and reply.json()["new_account"] is False
    assert reply.json()["refresh_token"] != registered["refresh_token"]


@pytest.mark.parametrize("case", ["wrong-password", "unknown-phone", "no-password"])
def test_failed_password_logins_look_the_same(client: TestClient, case: str) -> None:
    phone = new_phone()
    if case != "unknown-phone":
        register(client, phone, password=PASSWORD if case == "wrong-password" else None)
    reply = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": "not the password"})
    assert (reply.status_code, error_code(reply)) == (401, "invalid_credentials")
    assert reply.json()["message"] == "wrong phone or password"


def test_login_with_a_code_creates_the_account_once(client: TestClient) -> None:
    phone = new_phone()
    first = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": send_code(client, phone)})
    assert first.status_code == 200 and first.json()["new_account"] is True
    assert first.json()["account"]["has_password"] is False
    second = client.post(f"{API}/auth/login/code", json={"phone": phone, "code": send_code(client, phone)})
    assert second.json()["new_account"] is False
    assert second.json()["account"]["id"] == first.json()["account"]["id"]


def test_bootstrap_admin_phones_get_admin(make_client: Callable[..., TestClient]) -> None:
    phone, later = new_phone(), new_phone()
    plain = make_client()
    tokens_later = register(plain, later)
    assert tokens_later["account"]["roles"] == ["consumer"]

    client = make_client({"BOOTSTRAP_ADMIN_PHONES": f"{phone}, {later}"})
    tokens = register(client, phone)
    assert tokens["account"]["roles"] == ["admin", "consumer"] and claims(tokens)["roles"] == ["admin", "consumer"]
    # an existing account named in the configuration becomes admin at its next sign-in
    again = client.post(f"{API}/auth/login/password", json={"phone": later, "password": PASSWORD})
    assert again.json()["account"]["roles"] == ["admin", "consumer"]


# ── refresh tokens ───────────────────────────────────────────────────────────────────────────


def test_refresh_rotates_and_a_reused_token_ends_the_session(client: TestClient) -> None:
    tokens = register(client)
    first = tokens["refresh_token"]
    rotated = refresh(client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first and rotated.json()["account"]["id"] == tokens["account"]["id"]

    reused = refresh(client, first)  # a copy of a spent token: someone else has it
    assert (reused.status_code, error_code(reused)) == (401, "refresh_token_reused")
    ended = refresh(client, second)  # so the whole family is over, the owner's latest token included
    assert (ended.status_code, error_code(ended)) == (401, "refresh_token_revoked")
    # another sign-in of the same account is another family, untouched
    other = client.post(f"{API}/auth/login/password", json={"phone": tokens["account"]["phone"], "password": PASSWORD})
    assert refresh(client, other.json()["refresh_token"]).status_code == 200


def test_concurrent_refreshes_with_one_token_give_one_new_token(client: TestClient) -> None:
    token = register(client)["refresh_token"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: refresh(client, token), range(8)))
    winners = [r for r in replies if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in replies]
    assert {error_code(r) for r in replies if r.status_code != 200} <= {"refresh_token_reused", "refresh_token_revoked"}
    # the losers presented a spent token: the family, the winner's new token included, is revoked
    assert refresh(client, winners[0].json()["refresh_token"]).status_code == 401


@pytest.mark.parametrize("token", ["rt_not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.x", "rt_" + "a" * 300])
def test_unknown_refresh_tokens_are_401(client: TestClient, token: str) -> None:
    reply = refresh(client, token[:256])
    assert (reply.status_code, error_code(reply)) == (401, "invalid_refresh_token")


def test_refresh_tokens_expire(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"REFRESH_TOKEN_TTL_SECONDS": "1"})
    token = register(client)["refresh_token"]
    time.sleep(1.1)
    reply = refresh(client, token)
    assert reply.status_code == 401
    assert error_code(reply) in ("refresh_token_expired", "invalid_refresh_token")  # or removed by the TTL index


def test_access_token_lifetime_is_configurable(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"ACCESS_TOKEN_TTL_SECONDS": "60"})
    tokens = register(client)
    assert tokens["expires_in"] == 60
    assert claims(tokens)["exp"] - claims(tokens)["iat"] == 60  # expiry itself: test_expired_token_is_401


def test_logout_ends_the_session(client: TestClient) -> None:
    tokens = register(client)
    assert client.post(f"{API}/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    reply = refresh(client, tokens["refresh_token"])
    assert (reply.status_code, error_code(reply)) == (401, "refresh_token_revoked")
    assert client.post(f"{API}/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.post(f"{API}/auth/logout", json={"refresh_token": "rt_unknown"}).status_code == 204


# ── passwords ────────────────────────────────────────────────────────────────────────────────


def test_changing_the_password_ends_every_other_session(client: TestClient) -> None:
    tokens = register(client)
    phone = tokens["account"]["phone"]
    other_device = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": PASSWORD}).json()
    wrong = client.post(
        f"{API}/me/password",
        json={"current_password": "not it at all", "new_password": "a new password"},
        headers=bearer(tokens),
    )
    assert (wrong.status_code, error_code(wrong)) == (403, "invalid_credentials")
    changed = client.post(
        f"{API}/me/password",
        json={"current_password": PASSWORD, "new_password": "a new password"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200, changed.text
    for old in (tokens["refresh_token"], other_device["refresh_token"]):
        assert error_code(refresh(client, old)) == "refresh_token_revoked"
    assert refresh(client, changed.json()["refresh_token"]).status_code == 200
    old_login = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": PASSWORD})
    assert old_login.status_code == 401
    assert client.post(f"{API}/auth/login/password", json={"phone": phone, "password": "a new password"}).is_success


def test_a_sign_in_racing_a_password_change_gets_no_lasting_session(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = register(client)
    phone = owner["account"]["phone"]
    verify = security.verify_password

    def owner_changes_it_meanwhile(hashed: str | None, password: str) -> bool:
        monkeypatch.setattr(security, "verify_password", verify)
        right = verify(hashed, password)  # the old password, checked against the hash read before the change
        change = {"current_password": PASSWORD, "new_password": "a new password"}
        assert client.post(f"{API}/me/password", json=change, headers=bearer(owner)).status_code == 200
        return right

    monkeypatch.setattr(security, "verify_password", owner_changes_it_meanwhile)
    raced = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": PASSWORD})
    assert raced.status_code == 200, raced.text  # its access token lives out its 15 minutes
    assert error_code(refresh(client, raced.json()["refresh_token"])) == "refresh_token_revoked"


def test_a_session_from_before_sessions_recorded_the_password_version_keeps_working(client: TestClient) -> None:
    tokens = register(client)
    family_id = RefreshToken.objects.get(id=security.token_digest(tokens["refresh_token"])).family_id
    RefreshFamily._get_collection().update_one({"_id": family_id}, {"$unset": {"password_changed_at": ""}})
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_reset_password_with_a_code(client: TestClient) -> None:
    tokens = register(client, password=None)
    phone = tokens["account"]["phone"]
    body = {"phone": phone, "code": send_code(client, phone), "new_password": "reset password 1"}
    assert client.post(f"{API}/auth/password/reset", json=body).status_code == 204
    assert error_code(refresh(client, tokens["refresh_token"])) == "refresh_token_revoked"
    login = client.post(f"{API}/auth/login/password", json={"phone": phone, "password": "reset password 1"})
    assert login.status_code == 200 and login.json()["account"]["has_password"] is True
    unknown = new_phone()
    body = {"phone": unknown, "code": send_code(client, unknown), "new_password": "reset password 1"}
    reply = client.post(f"{API}/auth/password/reset", json=body)
    assert (reply.status_code, error_code(reply)) == (404, "account_not_found")


# ── roles ────────────────────────────────────────────────────────────────────────────────────


def test_store_owner_and_creator_are_self_assigned_and_reach_the_next_token(client: TestClient) -> None:
    tokens = register(client)
    added = client.post(f"{API}/me/roles", json={"role": "store_owner"}, headers=bearer(tokens))
    assert added.status_code == 200 and added.json()["roles"] == ["consumer", "store_owner"]
    renewed = refresh(client, tokens["refresh_token"]).json()
    assert claims(renewed)["roles"] == ["consumer", "store_owner"]
    for role in ("brand", "kol", "agent", "admin", "superuser"):
        refused = client.post(f"{API}/me/roles", json={"role": role}, headers=bearer(tokens))
        assert refused.status_code == 422, refused.text


def test_applying_for_a_role_and_an_admin_deciding(make_client: Callable[..., TestClient]) -> None:
    admin_phone = new_phone()
    client = make_client({"BOOTSTRAP_ADMIN_PHONES": admin_phone})
    admin = register(client, admin_phone)
    applicant, stranger = register(client), register(client)

    applied = client.post(
        f"{API}/role-applications", json={"role": "brand", "note": "Longjing"}, headers=bearer(applicant)
    )
    assert applied.status_code == 201, applied.text
    application = applied.json()
    assert (application["status"], application["role"], application["reason"]) == ("pending", "brand", None)
    again = client.post(f"{API}/role-applications", json={"role": "brand"}, headers=bearer(applicant))
    assert (again.status_code, error_code(again)) == (409, "application_pending")
    for role in ("consumer", "store_owner", "creator"):
        assert (
            client.post(f"{API}/role-applications", json={"role": role}, headers=bearer(applicant)).status_code == 422
        )

    path = f"{API}/role-applications/{application['id']}"
    assert client.get(path, headers=bearer(applicant)).json()["id"] == application["id"]
    hidden = client.get(path, headers=bearer(stranger))
    assert (hidden.status_code, error_code(hidden)) == (404, "application_not_found")
    decide = f"{API}/admin/role-applications/{application['id']}"
    for who in (applicant, stranger):
        assert error_code(client.post(f"{decide}/approve", headers=bearer(who))) == "role_required"
        assert client.get(f"{API}/admin/role-applications", headers=bearer(who)).status_code == 403

    queue = client.get(f"{API}/admin/role-applications", params={"status": "pending"}, headers=bearer(admin))
    assert application["id"] in [a["id"] for a in queue.json()["items"]]
    approved = client.post(f"{decide}/approve", json={"reason": "licence checked"}, headers=bearer(admin))
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", admin["account"]["id"])
    assert client.post(f"{decide}/approve", headers=bearer(admin)).json()["status"] == "approved"  # idempotent
    late = client.post(f"{decide}/reject", json={"reason": "changed my mind"}, headers=bearer(admin))
    assert (late.status_code, error_code(late)) == (409, "application_decided")

    renewed = refresh(client, applicant["refresh_token"]).json()
    assert claims(renewed)["roles"] == ["brand", "consumer"]
    held = client.post(f"{API}/role-applications", json={"role": "brand"}, headers=bearer(renewed))
    assert (held.status_code, error_code(held)) == (409, "role_already_held")


def test_a_rejection_needs_a_reason_and_the_applicant_may_apply_again(make_client: Callable[..., TestClient]) -> None:
    admin_phone = new_phone()
    client = make_client({"BOOTSTRAP_ADMIN_PHONES": admin_phone})
    admin, applicant = register(client, admin_phone), register(client)
    application = client.post(f"{API}/role-applications", json={"role": "kol"}, headers=bearer(applicant)).json()
    decide = f"{API}/admin/role-applications/{application['id']}"
    assert client.post(f"{decide}/reject", headers=bearer(admin)).status_code == 422
    assert client.post(f"{decide}/reject", json={"reason": ""}, headers=bearer(admin)).status_code == 422
    rejected = client.post(f"{decide}/reject", json={"reason": "no audience yet"}, headers=bearer(admin))
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "no audience yet")
    assert error_code(client.post(f"{decide}/approve", headers=bearer(admin))) == "application_decided"

    mine = client.get(f"{API}/me/role-applications", headers=bearer(applicant)).json()
    assert [(a["status"], a["reason"]) for a in mine["items"]] == [("rejected", "no audience yet")]
    assert claims(refresh(client, applicant["refresh_token"]).json())["roles"] == ["consumer"]
    retry = client.post(f"{API}/role-applications", json={"role": "kol"}, headers=bearer(applicant))
    assert retry.status_code == 201


def test_application_lists_page_with_a_cursor(client: TestClient) -> None:
    applicant = register(client)
    for role in ("brand", "kol", "agent"):
        client.post(f"{API}/role-applications", json={"role": role}, headers=bearer(applicant))
    first = client.get(f"{API}/me/role-applications", params={"limit": 2}, headers=bearer(applicant)).json()
    assert [a["role"] for a in first["items"]] == ["brand", "kol"] and first["next_cursor"]
    rest = client.get(
        f"{API}/me/role-applications", params={"limit": 2, "cursor": first["next_cursor"]}, headers=bearer(applicant)
    ).json()
    assert ([a["role"] for a in rest["items"]], rest["next_cursor"]) == (["agent"], None)
    pending = client.get(f"{API}/me/role-applications", params={"status": "approved"}, headers=bearer(applicant))
    assert pending.json()["items"] == []


# ── production ───────────────────────────────────────────────────────────────────────────────


def test_prod_has_no_code_reader_and_no_log_sender(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"SOCIALMALL_ENV": "prod"})
    phone = new_phone()
    reply = client.post(f"{API}/auth/codes", json={"phone": phone})
    assert (reply.status_code, error_code(reply)) == (503, "code_sender_not_configured")
    assert client.get(f"{API}/dev/codes/{phone}").status_code == 404
    with pytest.raises(RuntimeError, match="CODE_SENDER=log"):
        make_client({"SOCIALMALL_ENV": "prod", "CODE_SENDER": "log"})
