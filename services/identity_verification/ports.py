"""What the identity service needs from the outside world."""

from __future__ import annotations

from typing import Protocol


class AuthorityUnavailable(Exception):
    """The authoritative source did not answer; the submission is retried, then dead-lettered."""


class IdentityAuthority(Protocol):
    """The authoritative checks (DS-9 name↔number match; NI-4 national network identity)."""

    async def name_matches_id(self, full_name: str, id_card_number: str) -> bool:
        """True when the authority confirms that name and identity card number belong together."""
        ...

    async def network_token_valid(self, token: str) -> bool:
        """True when the national network identity service accepts the token."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
