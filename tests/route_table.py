"""Every route of the API, as data: its scopes, who may call it, and what it discloses.

tests/test_route_table.py builds (method, path) from the app and fails on any route
without an entry here (deny by default), on any entry for a route that no longer exists,
and on any entry whose scopes or access level differ from what the route declares.

- `scopes`: the scopes the route's Security dependencies require.
- `access`: `public` (no token), `authenticated` (any valid token, perhaps with scopes),
  `admin` (the `admin` scope).
- `discloses`: whether a successful answer carries personal data about participants
  (`yes`), only refuses access to a participant's records without disclosing any
  (`refuses only`), or neither (`no`). Every `yes` and `refuses only` route has audit cases
  in tests/route_audit_cases.py: one access event per participant touched.
"""

from dataclasses import dataclass
from typing import Literal

Access = Literal["public", "authenticated", "admin"]
Discloses = Literal["yes", "no", "refuses only"]

P = "/api/v1/participants/{participant_id}"


@dataclass(frozen=True)
class Entry:
    scopes: frozenset[str]
    access: Access
    discloses: Discloses
    note: str = ""


def _e(access: Access, discloses: Discloses, *scopes: str, note: str = "") -> Entry:
    return Entry(frozenset(scopes), access, discloses, note)


PUBLIC = _e("public", "no")
ADMIN = _e("admin", "no", "admin", note="accounts and organisations, not care records")
# A participant's self-service account shows its participant_id and display name to the
# organisation's administrators: account administration, not a disclosure of the record.
ADMIN_USERS = _e("admin", "no", "admin", note="participant accounts carry participant_id")
DIRECTORY = _e("authenticated", "no", note="the service directory holds no personal data")
# Readable without a token only when THROUGHCARE_PUBLIC_DIRECTORY is set (off by default).
DIRECTORY_READ = _e(
    "authenticated", "no", note="public with THROUGHCARE_PUBLIC_DIRECTORY; no personal data"
)
HOOKS = _e("authenticated", "no", "webhooks:manage", note="URLs and event types only")
PROTOCOLS = _e("authenticated", "no", note="sharing agreements, not personal data")

ROUTES: dict[tuple[str, str], Entry] = {
    # operations, discovery and tokens
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("GET", "/api/v1/me"): _e("authenticated", "no", note="the caller's own token claims"),
    # administration
    ("GET", "/api/v1/admin/organisations"): ADMIN,
    ("POST", "/api/v1/admin/organisations"): ADMIN,
    ("GET", "/api/v1/admin/organisations/{organisation_id}"): ADMIN,
    ("PATCH", "/api/v1/admin/organisations/{organisation_id}"): ADMIN,
    ("GET", "/api/v1/admin/users"): ADMIN_USERS,
    ("POST", "/api/v1/admin/users"): ADMIN_USERS,
    ("GET", "/api/v1/admin/users/{user_id}"): ADMIN_USERS,
    ("PATCH", "/api/v1/admin/users/{user_id}"): ADMIN_USERS,
    ("GET", "/api/v1/admin/clients"): ADMIN,
    ("POST", "/api/v1/admin/clients"): ADMIN,
    ("GET", "/api/v1/admin/clients/{id}"): ADMIN,
    ("PATCH", "/api/v1/admin/clients/{id}"): ADMIN,
    # organisations directory
    ("GET", "/api/v1/organisations"): _e(
        "authenticated", "no", note="organisation names and kinds, not personal data"
    ),
    # sharing protocols
    ("GET", "/api/v1/sharing/protocols"): PROTOCOLS,
    ("POST", "/api/v1/sharing/protocols"): _e("admin", "no", "admin"),
    ("GET", "/api/v1/sharing/protocols/{protocol_id}"): PROTOCOLS,
    ("PUT", "/api/v1/sharing/protocols/{protocol_id}"): _e("admin", "no", "admin"),
    # participants
    ("GET", "/api/v1/participants"): _e("authenticated", "yes", "participants:read"),
    ("POST", "/api/v1/participants"): _e("authenticated", "yes", "participants:write"),
    ("GET", P): _e("authenticated", "yes", "participants:read"),
    ("PATCH", P): _e("authenticated", "yes", "participants:write"),
    # care team, consent, decisions, disclosure log
    ("GET", f"{P}/care-team"): _e("authenticated", "yes", "participants:read"),
    ("POST", f"{P}/care-team"): _e("authenticated", "yes", "participants:write"),
    ("DELETE", f"{P}/care-team/{{member_id}}"): _e("authenticated", "yes", "participants:write"),
    ("GET", f"{P}/consents"): _e("authenticated", "yes", "consents:read"),
    ("POST", f"{P}/consents"): _e("authenticated", "yes", "consents:write"),
    # Issue 8 §3: withdrawal needs consents:write.
    ("POST", f"{P}/consents/{{consent_id}}/withdraw"): _e("authenticated", "yes", "consents:write"),
    ("GET", f"{P}/access"): _e(
        "authenticated",
        "yes",
        "participants:read",
        note="consent, protocol and grant ids and reasons such as consent_withdrawn",
    ),
    ("GET", f"{P}/disclosures"): _e("authenticated", "yes", "audit:read"),
    # governance (issue 14): restrictions, objections, restricted records, subject access
    ("GET", f"{P}/restrictions"): _e("authenticated", "yes", "consents:read"),
    ("POST", f"{P}/restrictions"): _e("authenticated", "yes", "consents:write"),
    ("POST", f"{P}/restrictions/{{restriction_id}}/lift"): _e(
        "authenticated", "yes", "consents:write"
    ),
    ("POST", "/api/v1/objections/{objection_id}/decide"): _e(
        "authenticated", "yes", "governance:decide"
    ),
    ("PUT", f"{P}/restricted-record"): _e("admin", "yes", "admin"),
    ("GET", f"{P}/subject-access"): _e("authenticated", "yes", "audit:read"),
    ("GET", "/api/v1/statistics"): _e(
        "authenticated", "no", "statistics:read", note="suppressed counts only"
    ),
    # break-glass
    ("POST", f"{P}/break-glass"): _e("authenticated", "yes", "break_glass"),
    ("GET", "/api/v1/break-glass"): _e(
        "authenticated", "yes", "audit:read", note="participant ids and justifications"
    ),
    ("POST", "/api/v1/break-glass/{grant_id}/review"): _e("authenticated", "yes", "audit:read"),
    # notices
    ("GET", "/api/v1/notices"): _e(
        "authenticated", "yes", note="participant ids and break-glass text"
    ),
    ("POST", "/api/v1/notices/{notice_id}/acknowledge"): _e(
        "authenticated", "yes", note="the acknowledged notice: participant id and text"
    ),
    # the shared action plan
    ("GET", f"{P}/plan"): _e("authenticated", "yes", "plans:read"),
    ("GET", f"{P}/plan/workbook"): _e("authenticated", "yes", "plans:read"),
    ("POST", f"{P}/plan/goals"): _e("authenticated", "yes", "plans:write"),
    ("PATCH", f"{P}/plan/goals/{{goal_id}}"): _e("authenticated", "yes", "plans:write"),
    ("POST", f"{P}/plan/actions"): _e("authenticated", "yes", "plans:write"),
    ("PATCH", f"{P}/plan/actions/{{action_id}}"): _e("authenticated", "yes", "plans:write"),
    ("GET", f"{P}/plan/reviews"): _e("authenticated", "yes", "plans:read"),
    ("POST", f"{P}/plan/reviews"): _e("authenticated", "yes", "plans:write"),
    ("GET", f"{P}/plan/versions/{{version}}"): _e("authenticated", "yes", "plans:read"),
    # appointments
    ("GET", f"{P}/appointments"): _e("authenticated", "yes", "records:read"),
    ("POST", f"{P}/appointments"): _e("authenticated", "yes", "records:write"),
    ("PATCH", f"{P}/appointments/{{appointment_id}}"): _e("authenticated", "yes", "records:write"),
    ("GET", "/api/v1/appointments/reminders"): _e("authenticated", "yes", "records:read"),
    ("GET", "/api/v1/appointments/missed"): _e("authenticated", "yes", "records:read"),
    # risk and screenings
    ("GET", f"{P}/alerts"): _e("authenticated", "yes", "records:read"),
    ("POST", f"{P}/alerts"): _e("authenticated", "yes", "records:write"),
    ("POST", f"{P}/alerts/{{alert_id}}/close"): _e("authenticated", "yes", "records:write"),
    ("GET", f"{P}/screenings"): _e("authenticated", "yes", "records:read"),
    ("POST", f"{P}/screenings"): _e("authenticated", "yes", "records:write"),
    ("GET", f"{P}/screenings/trend"): _e("authenticated", "yes", "records:read"),
    ("GET", f"{P}/timeline"): _e("authenticated", "yes", "records:read"),
    # the service directory
    ("GET", "/api/v1/services"): DIRECTORY_READ,
    ("POST", "/api/v1/services"): _e("authenticated", "no", "directory:write"),
    ("GET", "/api/v1/services/stale"): DIRECTORY,
    ("GET", "/api/v1/services/export/hsds"): DIRECTORY_READ,
    ("GET", "/api/v1/services/{service_id}"): DIRECTORY_READ,
    # the directory as an Open Referral (HSDS 3.0) feed
    ("GET", "/api/v1/hsds"): DIRECTORY_READ,
    ("GET", "/api/v1/hsds/services"): DIRECTORY_READ,
    ("GET", "/api/v1/hsds/services/{service_id}"): DIRECTORY_READ,
    ("PATCH", "/api/v1/services/{service_id}"): _e("authenticated", "no", "directory:write"),
    # referrals
    ("GET", "/api/v1/referrals"): _e("authenticated", "yes", "referrals:read"),
    ("POST", "/api/v1/referrals"): _e("authenticated", "yes", "referrals:write"),
    ("GET", "/api/v1/referrals/{referral_id}"): _e("authenticated", "yes", "referrals:read"),
    ("PATCH", "/api/v1/referrals/{referral_id}"): _e("authenticated", "yes", "referrals:write"),
    ("POST", "/api/v1/referrals/{referral_id}/{action}"): _e(
        "authenticated", "yes", "referrals:write"
    ),
    # release
    ("GET", f"{P}/release-readiness"): _e("authenticated", "yes", "participants:read"),
    ("GET", "/api/v1/caseload/releases"): _e("authenticated", "yes", "participants:read"),
    # integration: webhook subscriptions hold no personal data; the event feed names people
    ("GET", "/api/v1/webhooks"): HOOKS,
    ("POST", "/api/v1/webhooks"): HOOKS,
    ("GET", "/api/v1/webhooks/{subscription_id}"): HOOKS,
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): HOOKS,
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): HOOKS,
    ("POST", "/api/v1/webhooks/{subscription_id}/rotate-secret"): HOOKS,
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries"): _e(
        "authenticated", "no", "webhooks:manage", note="event ids and types, no participant ids"
    ),
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/redeliver"): HOOKS,
    ("GET", f"{P}/consents/{{consent_id}}/notices"): _e(
        "authenticated", "yes", "consents:read", note="organisation names told and acknowledged"
    ),
    ("GET", f"{P}/fhir"): _e("authenticated", "yes", "participants:read", "records:read"),
    ("POST", "/api/v1/movements"): _e(
        "authenticated", "yes", "movements:write", note="the person's id for a known number"
    ),
    ("GET", "/api/v1/events"): _e(
        "authenticated", "yes", "events:read", note="participant ids and record ids"
    ),
    # continuity (issue 13): case notes
    ("GET", f"{P}/notes"): _e("authenticated", "yes", "records:read"),
    ("POST", f"{P}/notes"): _e("authenticated", "yes", "records:write"),
    ("GET", f"{P}/notes/{{note_id}}"): _e("authenticated", "yes", "records:read"),
    ("PATCH", f"{P}/notes/{{note_id}}"): _e("authenticated", "yes", "records:write"),
    ("GET", f"{P}/notes/{{note_id}}/versions"): _e("authenticated", "yes", "records:read"),
    # continuity (issue 13): documents on case notes
    ("GET", f"{P}/documents"): _e("authenticated", "yes", "records:read"),
    ("POST", f"{P}/documents"): _e("authenticated", "yes", "records:write"),
    ("GET", f"{P}/documents/{{document_id}}/content"): _e("authenticated", "yes", "records:read"),
    # continuity (issue 13): referral milestones and update requests
    ("POST", "/api/v1/referrals/{referral_id}/milestones"): _e(
        "authenticated", "yes", "referrals:write"
    ),
    ("GET", "/api/v1/referrals/{referral_id}/milestones"): _e(
        "authenticated", "yes", "referrals:read"
    ),
    ("POST", "/api/v1/referrals/{referral_id}/update-requests"): _e(
        "authenticated", "yes", "referrals:write"
    ),
    # continuity (issue 13): endings
    ("GET", f"{P}/ending"): _e("authenticated", "yes", "participants:read"),
    ("PUT", f"{P}/ending"): _e("authenticated", "yes", "plans:write"),
    ("GET", "/api/v1/caseload/endings"): _e("authenticated", "yes", "participants:read"),
    # continuity (issue 13): engagement after release
    ("GET", f"{P}/engagement"): _e("authenticated", "yes", "participants:read"),
    ("GET", "/api/v1/caseload/engagement"): _e("authenticated", "yes", "participants:read"),
}

# Routes that are not API operations (FastAPI's own documentation pages), exposed only
# when docs are enabled. Anything else that is not an APIRoute fails the test.
NON_API_ROUTES: frozenset[str] = frozenset(
    {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/docs-assets"}
)
