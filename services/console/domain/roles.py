"""Console roles and what each may do.

viewer: read; operator: read, withdraw consents on the subject's behalf (DS-14.2, PI-15), propose,
approve and disable feature-library entries (DS-10.2), decide human-review items (DS-10.1) and
open and close rumour cases (DS-11);
admin: everything, including user management and the audit log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, get_args

Role = Literal["viewer", "operator", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)


class Permission(StrEnum):
    """What a route needs."""

    READ = "read"  # dashboards, consent search and detail, proof export, own account
    WITHDRAW = "withdraw"  # send a withdrawal command on the subject's behalf
    CURATE = "curate"  # propose, approve and disable feature-library entries (DS-10.2)
    REVIEW = "review"  # take and decide items of the human review queue (DS-10.1)
    RUMOUR = "rumour"  # open and close rumour cases (DS-11)
    RESOLVE = "resolve"  # resolve complaints, reports, appeals and rights requests (DS-12, GA-15)
    ADMINISTER = "administer"  # users and the audit log


_RANK: Final[dict[Role, int]] = {"viewer": 1, "operator": 2, "admin": 3}
MINIMUM_ROLE: Final[dict[Permission, Role]] = {
    Permission.READ: "viewer",
    Permission.WITHDRAW: "operator",
    Permission.CURATE: "operator",
    Permission.REVIEW: "operator",
    Permission.RUMOUR: "operator",
    Permission.RESOLVE: "operator",
    Permission.ADMINISTER: "admin",
}


def is_role(value: str) -> bool:
    """True when `value` names a console role."""
    return value in _RANK


def allows(role: str, permission: Permission) -> bool:
    """True when `role` may do what `permission` stands for; unknown roles may do nothing."""
    rank = _RANK.get(role)  # type: ignore[call-overload]
    return rank is not None and rank >= _RANK[MINIMUM_ROLE[permission]]


def rank(role: str) -> int:
    """How much a role may do (viewer 1 < operator 2 < admin 3); 0 for an unknown role."""
    return next((value for name, value in _RANK.items() if name == role), 0)
