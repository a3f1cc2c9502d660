"""Webhook subscriptions: who may manage them, the secret shown once, URL safety."""

import re
import uuid

import pytest
from sqlmodel import select

from app.models.audit import AccessEvent
from app.models.events import WebhookSubscription
from tests.integration.world import HookWorld

HOOKS = "/api/v1/webhooks"
BODY = {"url": "https://hooks.example.org/tc", "event_types": ["referral.submitted"]}


class TestCreate:
    def test_anonymous_401(self, hw: HookWorld) -> None:
        assert hw.client.post(HOOKS, json=BODY).status_code == 401

    def test_practitioner_lacks_the_scope_403(self, hw: HookWorld) -> None:
        assert hw.client.post(HOOKS, json=BODY, headers=hw.coord_headers).status_code == 403

    def test_partner_client_with_scope(self, hw: HookWorld) -> None:
        headers = hw.world.client_headers(hw.housing, ["webhooks:manage"])
        # partner systems retry: like every create POST, they must send an Idempotency-Key
        assert hw.client.post(HOOKS, json=BODY, headers=headers).status_code == 428
        res = hw.client.post(HOOKS, json=BODY, headers={**headers, "Idempotency-Key": "k1"})
        assert res.status_code == 201, res.text
        assert res.json()["organisation_id"] == str(hw.housing.id)

    def test_idempotent_retry_answers_the_same_subscription_and_secret(self, hw: HookWorld) -> None:
        headers = {**hw.housing_admin, "Idempotency-Key": "create-hook-1"}
        first = hw.client.post(HOOKS, json=BODY, headers=headers)
        again = hw.client.post(HOOKS, json=BODY, headers=headers)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["Location"] == f"{HOOKS}/{first.json()['id']}"
        stored = hw.db.exec(select(WebhookSubscription)).all()
        assert len(stored) == 1
        # the stored replay keeps the secret encrypted, like the subscription row
        from app.models.idempotency import IdempotencyRecord

        [record] = hw.db.exec(select(IdempotencyRecord)).all()
        assert first.json()["secret"] not in str(record.response)
        # a different body under the same key is a 422 and creates nothing
        other = {**BODY, "event_types": ["plan.changed"]}
        assert hw.client.post(HOOKS, json=other, headers=headers).status_code == 422
        assert len(hw.db.exec(select(WebhookSubscription)).all()) == 1

    def test_replay_after_rotation_or_deletion_shows_no_secret(self, hw: HookWorld) -> None:
        headers = {**hw.housing_admin, "Idempotency-Key": "create-hook-2"}
        first = hw.client.post(HOOKS, json=BODY, headers=headers).json()
        rotated = hw.client.post(
            f"{HOOKS}/{first['id']}/rotate-secret", json={}, headers=hw.housing_admin
        )
        assert rotated.status_code == 200
        again = hw.client.post(HOOKS, json=BODY, headers=headers)
        assert again.status_code == 409, again.text
        assert first["secret"] not in again.text and rotated.json()["secret"] not in again.text
        hw.client.delete(f"{HOOKS}/{first['id']}", headers=hw.housing_admin)
        assert hw.client.post(HOOKS, json=BODY, headers=headers).status_code == 404

    def test_partner_client_without_scope_403(self, hw: HookWorld) -> None:
        headers = hw.world.client_headers(hw.housing, ["referrals:read"])
        assert hw.client.post(HOOKS, json=BODY, headers=headers).status_code == 403

    def test_secret_shown_once(self, hw: HookWorld) -> None:
        created = hw.client.post(HOOKS, json=BODY, headers=hw.housing_admin).json()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
        read = hw.client.get(f"{HOOKS}/{created['id']}", headers=hw.housing_admin).json()
        listed = hw.client.get(HOOKS, headers=hw.housing_admin).json()["items"]
        assert "secret" not in read and all("secret" not in s for s in listed)
        assert created["secret"] not in str(read) + str(listed)

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://hooks.example.org/x",
            "not a url",
            "https://user:pw@hooks.example.org/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/hook",
            "https://[::1]/hook",
        ],
    )
    def test_unsafe_url_422(self, hw: HookWorld, url: str) -> None:
        res = hw.client.post(HOOKS, json={**BODY, "url": url}, headers=hw.housing_admin)
        assert res.status_code == 422
        assert res.headers["content-type"].startswith("application/problem+json")
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.organisation_id == hw.housing.id
        )
        assert hw.db.exec(stmt).all() == []

    def test_unknown_event_type_422(self, hw: HookWorld) -> None:
        res = hw.client.post(
            HOOKS, json={**BODY, "event_types": ["referral.eaten"]}, headers=hw.housing_admin
        )
        assert res.status_code == 422

    def test_unknown_field_422(self, hw: HookWorld) -> None:
        res = hw.client.post(HOOKS, json={**BODY, "secret": "whsec_x"}, headers=hw.housing_admin)
        assert res.status_code == 422


class TestOtherOrganisations:
    def test_other_org_sees_404_and_the_refusal_is_logged(self, hw: HookWorld) -> None:
        created = hw.client.post(HOOKS, json=BODY, headers=hw.housing_admin).json()
        other = hw.world.headers(hw.coord, "org_admin")
        for method in ("get", "patch", "delete"):
            kwargs = {"json": {"active": False}} if method == "patch" else {}
            res = getattr(hw.client, method)(f"{HOOKS}/{created['id']}", headers=other, **kwargs)
            assert res.status_code == 404, method
        assert hw.client.get(HOOKS, headers=other).json()["items"] == []
        denials = hw.db.exec(
            select(AccessEvent).where(
                AccessEvent.resource == "webhook_subscription",
                AccessEvent.outcome == "denied",
                AccessEvent.actor_org_id == hw.coord.id,
            )
        ).all()
        assert {d.withheld[0]["reason"] for d in denials} == {"other_organisation"}
        stored = hw.db.get(WebhookSubscription, uuid.UUID(created["id"]))
        assert stored is not None and stored.active

    def test_unknown_id_404(self, hw: HookWorld) -> None:
        res = hw.client.get(f"{HOOKS}/{uuid.uuid4()}", headers=hw.housing_admin)
        assert res.status_code == 404


class TestChange:
    def test_pause_and_resume(self, hw: HookWorld) -> None:
        created = hw.client.post(HOOKS, json=BODY, headers=hw.housing_admin).json()
        url = f"{HOOKS}/{created['id']}"
        paused = hw.client.patch(url, json={"active": False}, headers=hw.housing_admin).json()
        assert paused["active"] is False and paused["disabled_reason"] == "paused"
        resumed = hw.client.patch(url, json={"active": True}, headers=hw.housing_admin).json()
        assert resumed["active"] is True and resumed["disabled_reason"] is None

    def test_empty_or_null_patch_422(self, hw: HookWorld) -> None:
        created = hw.client.post(HOOKS, json=BODY, headers=hw.housing_admin).json()
        url = f"{HOOKS}/{created['id']}"
        assert hw.client.patch(url, json={}, headers=hw.housing_admin).status_code == 422
        assert hw.client.patch(url, json={"url": None}, headers=hw.housing_admin).status_code == 422

    def test_delete(self, hw: HookWorld) -> None:
        created = hw.client.post(HOOKS, json=BODY, headers=hw.housing_admin).json()
        url = f"{HOOKS}/{created['id']}"
        assert hw.client.delete(url, headers=hw.housing_admin).status_code == 204
        assert hw.client.get(url, headers=hw.housing_admin).status_code == 404
