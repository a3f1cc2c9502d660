"""Documents on referrals (a referral letter, licence conditions): attached by a party,
shown only with the referral's full view and the document's category, downloads audited."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.audit import AccessEvent
from app.models.documents import Document
from app.models.organisation import Organisation, OrgKind
from app.models.referral import Referral, ReferralStatus, Urgency
from tests.api.care_world import Care, assert_problem, build_care, protocol
from tests.fixtures import World

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(30)


@pytest.fixture
def care(world: World, db: Session) -> Care:
    """The care world, plus: coordination shares custody with housing by protocol."""
    care = build_care(world, db)
    protocol(db, OrgKind.care_coordination, OrgKind.housing, ["custody"])
    db.commit()
    return care


def referral(
    care: Care,
    status: ReferralStatus = ReferralStatus.submitted,
    categories: tuple[str, ...] = ("identity", "custody"),
) -> Referral:
    row = Referral(
        participant_id=care.pid,
        from_org_id=care.coord.id,
        to_org_id=care.housing.id,
        reason="Needs supported accommodation on release.",
        urgency=Urgency.routine,
        categories=list(categories),
        status=status,
        created_by="test",
    )
    care.db.add(row)
    care.db.commit()
    return row


def attach(
    client: TestClient,
    care: Care,
    org: Organisation,
    ref: Referral,
    content: bytes = PDF,
    filename: str = "referral-letter.pdf",
    **params: str,
) -> Any:
    headers = care.headers(org, **{"Content-Type": "application/pdf"})
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return client.post(
        care.url("/documents"),
        params={"referral_id": str(ref.id), **params},
        content=content,
        headers=headers,
    )


def download(client: TestClient, care: Care, doc: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.get(care.url(f"/documents/{doc['id']}/content"), headers=headers)


def listed(client: TestClient, care: Care, headers: dict[str, str], **params: str) -> Any:
    return client.get(care.url("/documents"), params=params, headers=headers).json()


def last_event(care: Care, org: Organisation) -> AccessEvent:
    return care.events("document", org)[-1]


class TestReferralDocuments:
    def test_letter_reaches_the_recipient_and_each_download_is_audited(
        self, client: TestClient, care: Care
    ) -> None:
        ref = referral(care)
        created = attach(client, care, care.coord, ref)
        assert created.status_code == 201, created.text
        doc = created.json()
        assert doc["referral_id"] == str(ref.id) and doc["note_id"] is None
        assert doc["category"] == "referrals"
        body = listed(client, care, care.headers(care.housing))
        assert [d["id"] for d in body["items"]] == [doc["id"]]
        for _ in range(2):
            got = download(client, care, doc, care.headers(care.housing))
            assert got.status_code == 200 and got.content == PDF
            event = last_event(care, care.housing)
            assert (event.action, event.outcome, event.resource_id) == (
                "download",
                "allowed",
                doc["id"],
            )
            assert event.categories == ["referrals"]
        downloads = [e for e in care.events("document", care.housing) if e.action == "download"]
        assert len(downloads) == 2
        filtered = listed(client, care, care.headers(care.coord), referral_id=str(ref.id))
        assert [d["id"] for d in filtered["items"]] == [doc["id"]]
        me = download(client, care, doc, care.me())  # referrals are self-service
        assert me.status_code == 200

    def test_withheld_from_organisations_that_cannot_see_the_referral(
        self, client: TestClient, care: Care
    ) -> None:
        """The CMHT is on the care team but no protocol gives it coordination's referrals:
        the referral letter is counted as withheld, and 404 to download, audited."""
        ref = referral(care)
        doc = attach(client, care, care.coord, ref).json()
        body = listed(client, care, care.headers(care.cmht))
        assert body["items"] == []
        assert body["withheld"] == [{"category": "referrals", "reason": "not_visible", "count": 1}]
        assert_problem(download(client, care, doc, care.headers(care.cmht)), 404)
        event = last_event(care, care.cmht)
        assert (event.action, event.outcome, event.resource_id) == ("download", "denied", doc["id"])
        stranger = care.world.org("Probation", OrgKind.probation)
        assert_problem(download(client, care, doc, care.headers(stranger)), 404)

    def test_a_list_withholding_only_unseen_referrals_is_audited(
        self, client: TestClient, care: Care
    ) -> None:
        """A list that shows nothing because the documents' referral does not exist for the
        caller is a denied access on the record, as one refused by the sharing decision is
        (it was once not recorded at all)."""
        ref = referral(care)
        attach(client, care, care.coord, ref)
        assert listed(client, care, care.headers(care.cmht))["items"] == []
        (event,) = care.events("document", care.cmht)
        assert (event.action, event.outcome, event.categories) == ("list", "denied", [])
        assert event.withheld == [{"category": "referrals", "reason": "not_visible"}]

    def test_licence_conditions_need_their_category(self, client: TestClient, care: Care) -> None:
        """Custody attached and covered by a protocol: housing reads the licence conditions.
        A referral attaching `contact` with no protocol for it: its document stays withheld
        from housing even though housing sees the referral."""
        ref = referral(care)
        licence = attach(client, care, care.coord, ref, filename="licence.pdf", category="custody")
        assert licence.status_code == 201, licence.text
        got = download(client, care, licence.json(), care.headers(care.housing))
        assert got.status_code == 200
        assert "custody" in last_event(care, care.housing).categories
        other = referral(care, categories=("identity", "contact"))
        phone = attach(client, care, care.coord, other, filename="phone.pdf", category="contact")
        assert phone.status_code == 201, phone.text
        assert_problem(download(client, care, phone.json(), care.headers(care.housing)), 404)
        event = last_event(care, care.housing)
        assert event.outcome == "denied" and event.resource_id == phone.json()["id"]
        body = listed(client, care, care.headers(care.housing), referral_id=str(other.id))
        assert body["items"] == []
        assert {"category": "contact", "reason": "no_protocol", "count": 1} in body["withheld"]

    def test_a_closed_referral_takes_its_documents_from_the_recipient(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        ref = referral(care)
        doc = attach(client, care, care.coord, ref).json()
        ref.status = ReferralStatus.declined
        db.add(ref)
        db.commit()
        assert_problem(download(client, care, doc, care.headers(care.housing)), 404)
        assert download(client, care, doc, care.headers(care.coord)).status_code == 200
        assert_problem(attach(client, care, care.coord, ref), 409)

    def test_who_may_attach_and_what(self, client: TestClient, care: Care, db: Session) -> None:
        ref = referral(care)
        before = len(db.exec(select(Document)).all())
        assert_problem(attach(client, care, care.coord, ref, ZIP), 415)  # a ZIP named .pdf
        assert_problem(attach(client, care, care.coord, ref, category="mental_health"), 422)
        assert_problem(attach(client, care, care.cmht, ref), 404)  # cannot see the referral
        assert_problem(attach(client, care, care.peer, ref), 404)
        headers = care.me() | {"Content-Disposition": 'attachment; filename="x.pdf"'}
        mine = client.post(
            care.url("/documents"),
            params={"referral_id": str(ref.id)},
            content=PDF,
            headers=headers,
        )
        assert mine.status_code in (403, 404), mine.text
        both = client.post(
            care.url("/documents"),
            params={"referral_id": str(ref.id), "note_id": str(ref.id)},
            content=PDF,
            headers=care.headers(care.coord),
        )
        assert_problem(both, 422)
        neither = client.post(care.url("/documents"), content=PDF, headers=care.headers(care.coord))
        assert_problem(neither, 422)
        assert len(db.exec(select(Document)).all()) == before
        # The recipient attaches its own (an assessment letter), visible to the referrer.
        own = attach(client, care, care.housing, ref, filename="assessment.pdf")
        assert own.status_code == 201, own.text
        assert download(client, care, own.json(), care.headers(care.coord)).status_code == 200
