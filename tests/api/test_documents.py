"""Documents on case notes: type by content, size limit, SHA-256, gate-filtered, audited."""

import hashlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.settings import get_settings
from app.models.documents import Document, DocumentContent
from app.models.organisation import Organisation
from app.services.document_types import safe_filename, sniff
from app.services.documents import rescan_pending
from tests.api.care_world import Care, assert_problem, build_care
from tests.fixtures import World

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(30)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(30)


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def note(client: TestClient, care: Care, org: Organisation, category: str = "mental_health") -> Any:
    body = {"kind": "letter", "category": category, "occurred_on": "2026-11-20", "text": "Letter"}
    response = client.post(care.url("/notes"), json=body, headers=care.headers(org))
    assert response.status_code == 201, response.text
    return response.json()


def upload(
    client: TestClient,
    care: Care,
    org: Organisation,
    note_id: str,
    content: Any,
    filename: str | None = "letter.pdf",
    **params: str,
) -> Any:
    headers = care.headers(org, **{"Content-Type": "application/pdf"})
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return client.post(
        care.url("/documents"),
        params={"note_id": note_id, **params},
        content=content,
        headers=headers,
    )


def stored(db: Session) -> int:
    return len(db.exec(select(Document)).all()) + len(db.exec(select(DocumentContent)).all())


class TestUpload:
    def test_pdf_round_trip_with_sha256(self, client: TestClient, care: Care) -> None:
        n = note(client, care, care.coord)
        created = upload(client, care, care.coord, n["id"], PDF)
        assert created.status_code == 201, created.text
        doc = created.json()
        assert doc["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert (doc["media_type"], doc["size_bytes"], doc["filename"]) == (
            "application/pdf",
            len(PDF),
            "letter.pdf",
        )
        assert doc["category"] == "mental_health" and doc["scan_status"] == "clean"
        url = care.url(f"/documents/{doc['id']}/content")
        got = client.get(url, headers=care.headers(care.coord))
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"] == 'attachment; filename="letter.pdf"'
        event = care.events("document", care.coord)[-1]
        assert (event.action, event.outcome, event.resource_id) == (
            "download",
            "allowed",
            doc["id"],
        )
        listed = client.get(care.url("/documents"), headers=care.headers(care.coord)).json()
        assert [d["id"] for d in listed["items"]] == [doc["id"]]

    @pytest.mark.parametrize(
        ("content", "filename", "media_type", "stored_as"),
        [
            (PNG, "scan.png", "image/png", "scan.png"),
            (JPEG, "photo.JPG", "image/jpeg", "photo.jpg"),
            (b"Licence conditions:\n1. Reside at the approved address.\n", "licence.txt",
             "text/plain", "licence.txt"),
            ("Gwasanaeth \u2013 caf\u00e9\n".encode(), None, "text/plain", "document.txt"),
            (PDF, "discharge summary 2026", "application/pdf", "discharge summary 2026.pdf"),
            (PDF, "../../etc/passwd.pdf", "application/pdf", "passwd.pdf"),
        ],
    )  # fmt: skip
    def test_allowed_types_by_content(
        self,
        client: TestClient,
        care: Care,
        content: bytes,
        filename: str | None,
        media_type: str,
        stored_as: str,
    ) -> None:
        n = note(client, care, care.coord)
        created = upload(client, care, care.coord, n["id"], content, filename)
        assert created.status_code == 201, created.text
        assert (created.json()["media_type"], created.json()["filename"]) == (
            media_type,
            stored_as,
        )

    @pytest.mark.parametrize(
        ("content", "filename"),
        [
            (ZIP, "referral.pdf"),  # a renamed archive
            (EXE, "letter.pdf"),  # a renamed executable
            (PNG, "letter.pdf"),  # a real image whose name claims a PDF
            (b"plain words", "letter.pdf"),
            (b"\x00\x01\x02binary", "data.txt"),
            (b"<svg onload=alert(1)>\x07</svg>", "x.txt"),
            (PDF, "letter.exe"),
        ],
    )
    def test_refused_types_change_nothing(
        self, client: TestClient, care: Care, db: Session, content: bytes, filename: str
    ) -> None:
        n = note(client, care, care.coord)
        assert_problem(upload(client, care, care.coord, n["id"], content, filename), 415)
        assert stored(db) == 0

    def test_size_limit_streamed(
        self, client: TestClient, care: Care, db: Session, settings_env: pytest.MonkeyPatch
    ) -> None:
        settings_env.setenv("THROUGHCARE_DOCUMENT_MAX_BYTES", "2048")
        get_settings.cache_clear()
        n = note(client, care, care.coord)
        chunks = iter([PDF] + [b"0" * 1000] * 3)  # no Content-Length: chunked
        assert_problem(upload(client, care, care.coord, n["id"], chunks), 413)
        assert_problem(upload(client, care, care.coord, n["id"], PDF + b"0" * 3000), 413)
        assert stored(db) == 0
        assert upload(client, care, care.coord, n["id"], PDF + b"0" * 1000).status_code == 201

    def test_documents_may_exceed_the_json_body_limit(self, client: TestClient, care: Care) -> None:
        """The 1 MiB body limit of the JSON API does not cap documents (their own limit does)."""
        n = note(client, care, care.coord)
        big = PDF + b"0" * (get_settings().max_body_bytes + 10)
        created = upload(client, care, care.coord, n["id"], big)
        assert created.status_code == 201, created.text
        assert created.json()["size_bytes"] == len(big)

    def test_bad_input(self, client: TestClient, care: Care, db: Session) -> None:
        n = note(client, care, care.coord)
        assert_problem(upload(client, care, care.coord, n["id"], b""), 422)
        assert_problem(upload(client, care, care.coord, "not-a-uuid", PDF), 422)
        assert_problem(upload(client, care, care.coord, n["id"], PDF, category="gossip"), 422)
        missing = "00000000-0000-4000-8000-000000000000"
        assert_problem(upload(client, care, care.coord, missing, PDF), 404)
        assert stored(db) == 0

    def test_who_may_attach(self, client: TestClient, care: Care, db: Session) -> None:
        shared = note(client, care, care.coord, category="plan")
        refused = upload(client, care, care.cmht, shared["id"], PDF)
        assert_problem(refused, 403)
        event = care.events("document", care.cmht)[-1]
        assert event.outcome == "denied" and event.withheld[0]["reason"] == "not_author_org"
        secret = note(client, care, care.coord)
        assert_problem(upload(client, care, care.cmht, secret["id"], PDF), 404)
        assert_problem(upload(client, care, care.housing, shared["id"], PDF), 404)
        me = care.me()
        me["Content-Disposition"] = 'attachment; filename="a.pdf"'
        url = care.url("/documents")
        response = client.post(url, params={"note_id": shared["id"]}, content=PDF, headers=me)
        assert_problem(response, 403)
        assert stored(db) == 0


class TestDisclosure:
    def test_withheld_without_the_category(self, client: TestClient, care: Care) -> None:
        """The CMHT sees coordination's plan notes but not its mental-health information: a
        mental-health letter on a plan note, and any file on a mental-health note, are
        withheld from it, counted, and 404 to download, each refusal audited."""
        plan = note(client, care, care.coord, category="plan")
        clinical = note(client, care, care.coord)
        letter = upload(client, care, care.coord, plan["id"], PDF, category="mental_health").json()
        plain = upload(client, care, care.coord, plan["id"], PDF, "plan.pdf").json()
        on_clinical = upload(client, care, care.coord, clinical["id"], PDF, category="plan").json()
        assert letter["category"] == "mental_health" and plain["category"] == "plan"
        body = client.get(care.url("/documents"), headers=care.headers(care.cmht)).json()
        assert [d["id"] for d in body["items"]] == [plain["id"]]
        assert body["withheld"] == [
            {"category": "mental_health", "reason": "no_consent", "count": 2}
        ]
        for hidden in (letter, on_clinical):
            url = care.url(f"/documents/{hidden['id']}/content")
            assert_problem(client.get(url, headers=care.headers(care.cmht)), 404)
            event = care.events("document", care.cmht)[-1]
            assert (event.outcome, event.resource_id) == ("denied", hidden["id"])
        url = care.url(f"/documents/{plain['id']}/content")
        assert client.get(url, headers=care.headers(care.cmht)).content == PDF
        assert_problem(client.get(url, headers=care.headers(care.housing)), 404)

    def test_participant_and_peer(self, client: TestClient, care: Care) -> None:
        plan = note(client, care, care.coord, category="plan")
        doc = upload(client, care, care.coord, plan["id"], PDF).json()
        url = care.url(f"/documents/{doc['id']}/content")
        assert client.get(url, headers=care.me()).content == PDF  # plan: self-service
        assert client.get(url, headers=care.headers(care.peer)).status_code == 200
        clinical = note(client, care, care.coord)
        hidden = upload(client, care, care.coord, clinical["id"], PDF).json()
        hidden_url = care.url(f"/documents/{hidden['id']}/content")
        assert_problem(client.get(hidden_url, headers=care.me()), 404)
        body = client.get(care.url("/documents"), headers=care.headers(care.peer)).json()
        assert [d["id"] for d in body["items"]] == [doc["id"]]
        filtered = client.get(
            care.url("/documents"), params={"note_id": clinical["id"]}, headers=care.me()
        ).json()
        assert filtered["items"] == []


class FakeClamd:
    """A clamd stand-in on a free port: answers INSTREAM with OK, or FOUND for EICAR."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\0\0\0\0"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                verdict = (
                    b"stream: Eicar-Signature FOUND\0" if b"EICAR" in data else b"stream: OK\0"
                )
                conn.sendall(verdict)

    def close(self) -> None:
        self.sock.close()


class TestVirusScan:
    def test_scanner_verdicts(
        self, client: TestClient, care: Care, settings_env: pytest.MonkeyPatch
    ) -> None:
        clamd = FakeClamd()
        try:
            settings_env.setenv("THROUGHCARE_CLAMAV_ADDRESS", clamd.address)
            get_settings.cache_clear()
            n = note(client, care, care.coord)
            clean = upload(client, care, care.coord, n["id"], PDF).json()
            assert clean["scan_status"] == "clean"
            bad = upload(client, care, care.coord, n["id"], PDF + b"EICAR-STANDARD").json()
            assert bad["scan_status"] == "infected"
            url = care.url(f"/documents/{bad['id']}/content")
            assert_problem(client.get(url, headers=care.headers(care.coord)), 409)
        finally:
            clamd.close()

    def test_unreachable_scanner_holds_files_pending(
        self, client: TestClient, care: Care, db: Session, settings_env: pytest.MonkeyPatch
    ) -> None:
        """Until a scanner says clean, a file is held; `throughcare documents rescan` (here
        its service function) releases it once the daemon answers."""
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()  # nothing listens there now
        settings_env.setenv("THROUGHCARE_CLAMAV_ADDRESS", f"127.0.0.1:{port}")
        settings_env.setenv("THROUGHCARE_CLAMAV_TIMEOUT_SECONDS", "1")
        get_settings.cache_clear()
        n = note(client, care, care.coord)
        held = upload(client, care, care.coord, n["id"], PDF).json()
        assert held["scan_status"] == "pending"
        url = care.url(f"/documents/{held['id']}/content")
        assert_problem(client.get(url, headers=care.headers(care.coord)), 409)
        assert rescan_pending(db) == {"clean": 0, "infected": 0, "pending": 1}
        clamd = FakeClamd()
        try:
            settings_env.setenv("THROUGHCARE_CLAMAV_ADDRESS", clamd.address)
            get_settings.cache_clear()
            assert rescan_pending(db) == {"clean": 1, "infected": 0, "pending": 0}
            db.commit()
        finally:
            clamd.close()
        assert client.get(url, headers=care.headers(care.coord)).content == PDF


def test_sniff_and_names_are_pure() -> None:
    assert sniff(PDF) == "application/pdf" and sniff(ZIP) is None and sniff(b"") is None
    assert safe_filename("a.PDF", sniff(PDF)) == "a.pdf"  # type: ignore[arg-type]
    assert safe_filename("a.png", sniff(PDF)) is None  # type: ignore[arg-type]
