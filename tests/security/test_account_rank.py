"""The account-rank rules as a table: nobody administers or grants above their own role."""

import pytest

from app.auth.tokens import PARTNER_ROLE
from app.models.organisation import Role
from app.sharing.policy import CLIENT_RANK, ROLE_RANK, may_administer_account, may_grant_role

ORDER = [Role.participant, Role.practitioner, Role.supervisor, Role.org_admin, Role.system_admin]


@pytest.mark.parametrize("actor", [*ORDER, PARTNER_ROLE, "unknown"])
@pytest.mark.parametrize("target", ORDER)
def test_administer_and_grant_only_up_to_own_rank(actor: str, target: Role) -> None:
    allowed = actor in ORDER and ORDER.index(Role(actor)) >= ORDER.index(target)
    assert may_administer_account(actor, ROLE_RANK[target]).allowed is allowed
    assert may_grant_role(actor, target).allowed is allowed


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (Role.system_admin, True),
        (Role.org_admin, True),
        (Role.supervisor, False),
        (Role.practitioner, False),
        (Role.participant, False),
        (PARTNER_ROLE, False),  # a client never administers another client
    ],
)
def test_clients_rank_with_org_admins(actor: str, allowed: bool) -> None:
    assert may_administer_account(actor, CLIENT_RANK).allowed is allowed
