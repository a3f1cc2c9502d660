"""Referrals: creation, the consent check at submission, the lifecycle and the closed loop."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.models.audit import AccessEvent
from app.models.notice import Notice
from app.models.organisation import OrgKind, Role
from app.models.participant import CareTeamMember
from app.models.referral import REFERRAL_TRANSITIONS, Referral, ReferralStatus, ReferralTransition
from app.sharing.audit import verify_chain
from tests.api.referral_world import URL, ReferralWorld, add_consent, make_referral_world
from tests.fixtures import World


@pytest.fixture
def rw(world: World, db: Session, client: TestClient) -> ReferralWorld:
    return make_referral_world(world, db, client)


def _count(db: Session, model: type, **where: object) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return int(db.exec(stmt).one())


class TestCreateReferral:
    def test_anonymous_401(self, rw: ReferralWorld) -> None:
        assert rw.client.post(URL, json=rw.body()).status_code == 401

    def test_missing_scope_403(self, rw: ReferralWorld) -> None:
        h = rw.world.headers(rw.coord, scope="participants:read referrals:read")
        assert rw.client.post(URL, json=rw.body(), headers=h).status_code == 403

    def test_participant_not_visible_404(self, rw: ReferralWorld) -> None:
        stranger = rw.world.org("Stranger", OrgKind.probation)
        res = rw.client.post(URL, json=rw.body(), headers=rw.world.headers(stranger))
        assert res.status_code == 404
        assert _count(rw.db, Referral, participant_id=rw.participant.id) == 0

    def test_draft_created(self, rw: ReferralWorld) -> None:
        body = rw.create()
        assert body["status"] == "draft"
        assert body["from_org_id"] == str(rw.coord.id)
        assert [t["to_status"] for t in body["transitions"]] == ["draft"]

    def test_unknown_field_rejected(self, rw: ReferralWorld) -> None:
        res = rw.client.post(URL, json=rw.body(status="accepted"), headers=rw.referrer())
        assert res.status_code == 422

    def test_to_own_org_422(self, rw: ReferralWorld) -> None:
        res = rw.client.post(URL, json=rw.body(to_org_id=str(rw.coord.id)), headers=rw.referrer())
        assert res.status_code == 422


class TestRefusedSubmission:
    def test_refused_lists_each_category_and_creates_nothing(self, rw: ReferralWorld) -> None:
        res = rw.client.post(
            URL,
            json=rw.body(categories=["identity", "contact", "mental_health"], submit=True),
            headers=rw.referrer(),
        )
        assert res.status_code == 422
        assert res.headers["content-type"] == "application/problem+json"
        assert sorted(res.json()["errors"], key=lambda e: e["category"]) == [
            {"category": "contact", "reason": "no_consent"},
            {"category": "mental_health", "reason": "no_protocol"},
        ]
        assert _count(rw.db, Referral, participant_id=rw.participant.id) == 0
        assert _count(rw.db, ReferralTransition) == 0

    def test_consent_makes_it_allowed(self, rw: ReferralWorld) -> None:
        add_consent(rw.db, rw.participant, ["contact"], rw.housing)
        body = rw.create(categories=["identity", "contact"], submit=True)
        assert body["status"] == "submitted"
        assert [t["to_status"] for t in body["transitions"]] == ["draft", "submitted"]

    def test_refused_at_submit_action_leaves_draft(self, rw: ReferralWorld) -> None:
        draft = rw.create(categories=["identity", "contact"])
        res = rw.act(draft["id"], "submit", rw.referrer())
        assert res.status_code == 422
        assert res.json()["errors"] == [{"category": "contact", "reason": "no_consent"}]
        again = rw.client.get(f"{URL}/{draft['id']}", headers=rw.referrer()).json()
        assert again["status"] == "draft"
        assert len(again["transitions"]) == 1


def _denials(rw: ReferralWorld) -> list[AccessEvent]:
    return list(
        rw.db.exec(
            select(AccessEvent)
            .where(
                AccessEvent.participant_id == rw.participant.id,
                AccessEvent.resource == "referral",
                AccessEvent.outcome == "denied",
            )
            .order_by(col(AccessEvent.seq))
        ).all()
    )


class TestRefusedDisclosuresAudited:
    """A refused submission, like a refused amendment, is a refused disclosure: a denied
    access event in the chain, nothing created or changed, and (as every denial) no entry
    of the person's disclosure log, which lists what was disclosed."""

    def test_submission_refusals_are_on_the_record_like_amendments(self, rw: ReferralWorld) -> None:
        refused = rw.client.post(
            URL,
            json=rw.body(categories=["identity", "mental_health"], submit=True),
            headers=rw.referrer(),
        )
        assert refused.status_code == 422, refused.text
        assert _count(rw.db, Referral, participant_id=rw.participant.id) == 0
        draft = rw.create(categories=["identity", "contact"])["id"]
        assert rw.act(draft, "submit", rw.referrer()).status_code == 422
        rid = rw.create(submit=True)["id"]
        amended = rw.client.patch(
            f"{URL}/{rid}",
            json={"categories": ["identity", "mental_health"], "change_reason": "Asked"},
            headers=rw.referrer() | {"If-Match": '"r-1"'},
        )
        assert amended.status_code == 422, amended.text
        rw.db.expire_all()
        shapes = [
            (e.actor_org_id, e.action, e.resource_id, e.categories, e.withheld, e.basis)
            for e in _denials(rw)
        ]
        refusal = [{"category": "*", "reason": "category_not_receivable"}]
        assert shapes == [
            (rw.coord.id, "create", None, [], refusal, []),  # nothing created: no id
            (rw.coord.id, "submit", draft, [], refusal, []),
            (rw.coord.id, "amend", rid, [], refusal, []),
        ]
        assert verify_chain(rw.db).ok
        me = rw.world.headers(rw.coord, Role.participant, participant_id=rw.participant.id)
        rw.db.commit()
        log = rw.client.get(f"/api/v1/participants/{rw.participant.id}/disclosures", headers=me)
        assert log.status_code == 200, log.text
        denied = {e.seq for e in _denials(rw)}
        assert denied and not denied & {e["seq"] for e in log.json()["items"]}
        made = [e["action"] for e in log.json()["items"] if e["resource"] == "referral"]
        assert made == ["create", "create"]  # the draft and the submitted referral only


class TestLifecycle:
    def test_whole_lifecycle_closes_the_loop(self, rw: ReferralWorld) -> None:
        draft = rw.create(categories=["identity", "custody"])
        rid = draft["id"]
        # The recipient cannot see a draft at all.
        assert rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).status_code == 404
        assert rw.act(rid, "submit", rw.referrer()).json()["status"] == "submitted"
        assert rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).status_code == 200
        # The referrer cannot accept its own referral.
        assert rw.act(rid, "accept", rw.referrer()).status_code == 403
        accepted = rw.act(rid, "accept", rw.recipient(), note="Allocated to a worker")
        assert accepted.json()["status"] == "accepted"
        member = rw.db.exec(
            select(CareTeamMember).where(
                CareTeamMember.participant_id == rw.participant.id,
                CareTeamMember.organisation_id == rw.housing.id,
            )
        ).one()
        assert member.role == "contributor"
        # The referrer's record: it made the membership by referring (issue 8, section 3).
        assert member.source_org_id == rw.coord.id
        assert rw.act(rid, "start", rw.recipient()).json()["status"] == "in_progress"
        assert rw.act(rid, "complete", rw.recipient()).status_code == 422  # outcome needed
        done = rw.act(rid, "complete", rw.recipient(), outcome="Tenancy signed at Elm House")
        assert done.status_code == 200
        seen = rw.client.get(f"{URL}/{rid}", headers=rw.referrer()).json()
        assert seen["outcome"] == "Tenancy signed at Elm House"
        assert [t["to_status"] for t in seen["transitions"]] == [
            "draft",
            "submitted",
            "accepted",
            "in_progress",
            "completed",
        ]
        assert all(t["actor"] and t["at"] for t in seen["transitions"])
        kinds = rw.db.exec(
            select(Notice.kind).where(
                Notice.organisation_id == rw.coord.id, Notice.subject_id == rid
            )
        ).all()
        assert sorted(kinds) == ["referral_accepted", "referral_completed"]

    def test_decline_needs_reason_and_notifies(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        assert rw.act(rid, "decline", rw.recipient()).status_code == 422
        res = rw.act(rid, "decline", rw.recipient(), reason="Outside our catchment area")
        assert res.json()["status"] == "declined"
        assert res.json()["decline_reason"] == "Outside our catchment area"
        notices = rw.db.exec(select(Notice).where(Notice.organisation_id == rw.coord.id)).all()
        assert [n.kind for n in notices] == ["referral_declined"]
        assert "Outside" not in notices[0].message  # details stay in the referral

    @pytest.mark.parametrize(
        "steps", [[], ["submit"], ["submit", "accept"], ["submit", "accept", "start"]]
    )
    def test_withdraw_from_each_open_state(self, rw: ReferralWorld, steps: list[str]) -> None:
        rid = rw.create()["id"]
        for step in steps:
            h = rw.referrer() if step == "submit" else rw.recipient()
            assert rw.act(rid, step, h).status_code == 200
        # The recipient may not withdraw (and cannot see a draft at all).
        assert rw.act(rid, "withdraw", rw.recipient()).status_code == (403 if steps else 404)
        assert rw.act(rid, "withdraw", rw.referrer()).json()["status"] == "withdrawn"

    def test_action_on_unknown_referral_404(self, rw: ReferralWorld) -> None:
        assert rw.act(str(uuid.uuid4()), "submit", rw.referrer()).status_code == 404

    def test_unknown_action_422(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        assert rw.act(rid, "approve", rw.referrer()).status_code == 422

    def test_anonymous_action_401(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        assert rw.client.post(f"{URL}/{rid}/submit").status_code == 401


# Actions and who takes them; the path to reach each status.
_ACTOR = {"submit": "referrer", "withdraw": "referrer"}
_PATH = {
    ReferralStatus.draft: [],
    ReferralStatus.submitted: ["submit"],
    ReferralStatus.accepted: ["submit", "accept"],
    ReferralStatus.declined: ["submit", "decline"],
    ReferralStatus.in_progress: ["submit", "accept", "start"],
    ReferralStatus.completed: ["submit", "accept", "start", "complete"],
    ReferralStatus.withdrawn: ["withdraw"],
}
_TARGET = {
    "submit": ReferralStatus.submitted,
    "accept": ReferralStatus.accepted,
    "decline": ReferralStatus.declined,
    "start": ReferralStatus.in_progress,
    "complete": ReferralStatus.completed,
    "withdraw": ReferralStatus.withdrawn,
}
_ILLEGAL = [
    (status, action)
    for status in ReferralStatus
    for action, target in _TARGET.items()
    if target not in REFERRAL_TRANSITIONS[status]
]
_BODY = {"decline": {"reason": "No capacity"}, "complete": {"outcome": "Housed"}}


@pytest.mark.parametrize(("status", "action"), _ILLEGAL)
def test_illegal_transition_409(rw: ReferralWorld, status: ReferralStatus, action: str) -> None:
    rid = rw.create()["id"]
    for step in _PATH[status]:
        h = rw.referrer() if _ACTOR.get(step) else rw.recipient()
        assert rw.act(rid, step, h, **_BODY.get(step, {})).status_code == 200, step
    # Drafts do not exist for the recipient, so the referrer asks there: the party is
    # checked before the state, so a recipient's action asked by the referrer is a 403.
    wrong_party = status == ReferralStatus.draft and not _ACTOR.get(action)
    party = rw.referrer() if _ACTOR.get(action) or wrong_party else rw.recipient()
    res = rw.act(rid, action, party, **_BODY.get(action, {}))
    assert res.status_code == (403 if wrong_party else 409), (status, action, res.text)
    assert res.headers["content-type"] == "application/problem+json"
    assert rw.db.get(Referral, uuid.UUID(rid)).status == status  # type: ignore[union-attr]


def test_every_status_reachable_and_illegal_pairs_counted() -> None:
    assert set(_PATH) == set(ReferralStatus)
    assert len(_ILLEGAL) == 7 * 6 - sum(len(v) for v in REFERRAL_TRANSITIONS.values())


class TestReadReferral:
    def test_anonymous_401(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        assert rw.client.get(f"{URL}/{rid}").status_code == 401

    def test_missing_scope_403(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        h = rw.world.headers(rw.coord, scope="participants:read")
        assert rw.client.get(f"{URL}/{rid}", headers=h).status_code == 403

    def test_third_party_404(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        other = rw.world.headers(rw.world.org("Peer", OrgKind.peer_support))
        assert rw.client.get(f"{URL}/{rid}", headers=other).status_code == 404

    def test_etag_and_participant_self_view(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        res = rw.client.get(f"{URL}/{rid}", headers=rw.referrer())
        assert res.headers["ETag"] == '"r-1"'
        me = rw.world.headers(rw.coord, "participant", participant_id=rw.participant.id)
        assert rw.client.get(f"{URL}/{rid}", headers=me).status_code == 200


class TestUpdateDraft:
    def test_if_match_rules(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        path = f"{URL}/{rid}"
        change = {"urgency": "urgent"}
        assert rw.client.patch(path, json=change, headers=rw.referrer()).status_code == 428
        stale = rw.referrer() | {"If-Match": '"r-9"'}
        assert rw.client.patch(path, json=change, headers=stale).status_code == 412
        ok = rw.client.patch(path, json=change, headers=rw.referrer() | {"If-Match": '"r-1"'})
        assert ok.status_code == 200
        assert ok.json()["urgency"] == "urgent"
        assert ok.headers["ETag"] == '"r-2"'

    def test_closed_cannot_change_409(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        rw.act(rid, "withdraw", rw.referrer())
        h = rw.referrer() | {"If-Match": '"r-2"'}
        change = {"reason": "New reason", "change_reason": "Typo"}
        assert rw.client.patch(f"{URL}/{rid}", json=change, headers=h).status_code == 409

    def test_submitted_needs_a_change_reason_422(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        h = rw.referrer() | {"If-Match": '"r-1"'}
        assert rw.client.patch(f"{URL}/{rid}", json={"reason": "New"}, headers=h).status_code == 422

    def test_recipient_cannot_patch(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        h = rw.recipient() | {"If-Match": '"r-1"'}
        res = rw.client.patch(f"{URL}/{rid}", json={"reason": "Mine now"}, headers=h)
        assert res.status_code == 403


def test_transition_count_matches_rows(rw: ReferralWorld) -> None:
    rid = rw.create(submit=True)["id"]
    rw.act(rid, "accept", rw.recipient())
    rows = rw.db.exec(
        select(ReferralTransition).where(col(ReferralTransition.referral_id) == uuid.UUID(rid))
    ).all()
    assert [r.to_status for r in sorted(rows, key=lambda r: r.at)] == [
        "draft",
        "submitted",
        "accepted",
    ]


class TestBadInput:
    @pytest.mark.parametrize(
        "extra",
        [
            {"to_org_id": str(uuid.uuid4())},
            {"to_org_id": None, "service_id": str(uuid.uuid4())},
            {"to_org_id": None},
            {"categories": []},
            {"categories": ["gossip"]},
            {"urgency": "whenever"},
            {"requested_by_date": "soon"},
        ],
    )
    def test_problem_422_never_500(self, rw: ReferralWorld, extra: dict[str, object]) -> None:
        res = rw.client.post(URL, json=rw.body(**extra), headers=rw.referrer())
        assert res.status_code == 422, res.text
        assert res.headers["content-type"] == "application/problem+json"

    def test_service_not_accepting_referrals_422(self, rw: ReferralWorld) -> None:
        from app.models.directory import Service, Setting

        service = Service(
            provider_org_id=rw.housing.id, name="Drop-in only", setting=Setting.community,
            categories=["housing"], exclusions=[], criminal_record_exclusions=[],
            accepts_throughcare_referrals=False, created_by="test",
        )  # fmt: skip
        rw.db.add(service)
        rw.db.commit()
        res = rw.client.post(
            URL, json=rw.body(to_org_id=None, service_id=str(service.id)), headers=rw.referrer()
        )
        assert res.status_code == 422
        service.accepts_throughcare_referrals = True
        rw.db.add(service)
        rw.db.commit()
        ok = rw.client.post(
            URL, json=rw.body(to_org_id=None, service_id=str(service.id)), headers=rw.referrer()
        )
        assert ok.status_code == 201
        assert ok.json()["to_org_id"] == str(rw.housing.id)


class TestSubmitNeedsACurrentRelationship:
    def test_draft_of_a_former_care_team_member_cannot_be_submitted(
        self, rw: ReferralWorld
    ) -> None:
        """Submitting opens the record to another organisation: a referrer whose
        membership has ended since writing the draft gets 404, and nothing moves."""
        from datetime import UTC, datetime, timedelta

        from app.models.participant import CareRole, CareTeamMember

        former = rw.world.org("Former member", OrgKind.substance_misuse)
        membership = CareTeamMember(
            participant_id=rw.participant.id,
            organisation_id=former.id,
            role=CareRole.contributor,
            source_org_id=rw.coord.id,
            added_by="test",
            since=datetime.now(UTC) - timedelta(days=30),
        )
        rw.db.add(membership)
        rw.db.commit()
        headers = rw.world.headers(former)
        draft = rw.client.post(URL, json=rw.body(categories=["identity"]), headers=headers)
        assert draft.status_code == 201, draft.text
        membership.until = datetime.now(UTC) - timedelta(minutes=1)
        rw.db.add(membership)
        rw.db.commit()
        res = rw.act(draft.json()["id"], "submit", headers)
        assert res.status_code == 404
        row = rw.db.get(Referral, uuid.UUID(draft.json()["id"]))
        assert row is not None and row.status == "draft"


class TestMembershipFromAcceptedReferral:
    """Issue 8 section 3: the care-team membership an accepted referral creates is the
    referring lead organisation's to see and end, whatever protocols run back to it."""

    def test_referring_lead_sees_and_ends_it(self, rw: ReferralWorld) -> None:
        # No protocol shares anything from housing back to the coordinator.
        rid = rw.create(submit=True)["id"]
        assert rw.act(rid, "accept", rw.recipient()).status_code == 200
        url = f"/api/v1/participants/{rw.participant.id}/care-team"
        team = rw.client.get(url, headers=rw.referrer())
        assert team.status_code == 200, team.text
        housing = [m for m in team.json() if m["organisation_id"] == str(rw.housing.id)]
        assert len(housing) == 1 and housing[0]["active"], team.json()
        ended = rw.client.delete(f"{url}/{housing[0]['id']}", headers=rw.referrer())
        assert ended.status_code == 200, ended.text
        assert ended.json()["active"] is False


class TestPermissionBeforePrecondition:
    """A party that may not act gets 403 whatever If-Match it sends: 412-or-403 would
    tell it whether the referral changed."""

    def test_recipient_patch_is_403_with_stale_or_fresh_etag(self, rw: ReferralWorld) -> None:
        made = rw.create(submit=True)
        url = f"{URL}/{made['id']}"
        for tag in ('"r-999"', f'"r-{made["version"]}"'):
            res = rw.client.patch(
                url, json={"reason": "changed"}, headers={**rw.recipient(), "If-Match": tag}
            )
            assert res.status_code == 403, (tag, res.text)

    def test_wrong_party_action_is_403_with_a_stale_etag(self, rw: ReferralWorld) -> None:
        made = rw.create(submit=True)
        res = rw.client.post(
            f"{URL}/{made['id']}/withdraw",
            json=None,
            headers={**rw.recipient(), "If-Match": '"r-999"'},
        )
        assert res.status_code == 403, res.text
