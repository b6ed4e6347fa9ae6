"""Separation of duties: which second person may approve or confirm what another person asked for.

Four-eyes (DS-10.2 for the feature library, and the console's own user administration) is worth
nothing if one person holds both pairs of eyes. An admin who created an account, gave it its
role, re-enabled it or set its password knows or controls it; so two accounts are *tied* when
either one did any of that to the other, and a tied account never counts as the second person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from services.console.domain.roles import rank

CONSOLE_PREFIX: Final = "console:"  # how the review service names a console user (`proposed_by`)
ELEVATED_ROLES: Final = frozenset({"operator", "admin"})  # granting these needs a second admin


class Account(Protocol):
    """What separation of duties needs to know about an account (`ports.User` has it)."""

    @property
    def username(self) -> str: ...

    @property
    def created_by(self) -> str: ...

    @property
    def role_by(self) -> str: ...

    @property
    def enabled_by(self) -> str: ...

    @property
    def password_set_by(self) -> str: ...


def sponsors(account: Account) -> frozenset[str]:
    """Who created the account, gave it its role, last re-enabled it or set its current password."""
    found = {account.created_by, account.role_by, account.enabled_by, account.password_set_by}
    return frozenset(found - {"", account.username})


def tie(a: Account | None, a_name: str, b: Account | None, b_name: str) -> str | None:
    """Why `a` and `b` are not two independent people, or None when they are.

    An account that no longer exists (None) still counts under its name.
    """
    if a_name == b_name:
        return "it is the same account"
    if a is not None and b_name in sponsors(a):
        return f"{b_name} created, enabled, gave the role to or set the password of {a_name}"
    if b is not None and a_name in sponsors(b):
        return f"{a_name} created, enabled, gave the role to or set the password of {b_name}"
    return None


def console_username(actor: str | None) -> str | None:
    """The username in a `console:<username>` actor of the review service, else None."""
    if actor and actor.startswith(CONSOLE_PREFIX):
        return actor[len(CONSOLE_PREFIX) :]
    return None


def needs_confirmation(new_role: str, current_role: str | None) -> bool:
    """Creating an operator or admin, or raising an account to one, needs a second admin.

    Lowering a role takes privileges away and applies at once.
    """
    if new_role not in ELEVATED_ROLES:
        return False
    if current_role is None:
        return True
    return rank(new_role) > rank(current_role)


def disabling_needs_second_person(entry: Mapping[str, Any] | None) -> bool:
    """Disabling an active `block` entry lets through what it stopped: a second person confirms."""
    return entry is not None and entry.get("status") == "active" and entry.get("action") == "block"
