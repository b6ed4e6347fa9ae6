"""An offline stand-in for the authoritative source, used by the embedded default and tests.

Deterministic, documented rules so that every outcome can be produced on purpose:
- a name containing `MISMATCH` or `不符` does not match its identity card number;
- a network identity token starting with `invalid` is rejected.
Everything else is confirmed. It never stores or logs what it is asked.
"""

from __future__ import annotations


class SimulatedIdentityAuthority:
    """Answers from the rules above, with no I/O."""

    async def name_matches_id(self, full_name: str, id_card_number: str) -> bool:
        """Mismatch when the name carries a mismatch marker."""
        return "MISMATCH" not in full_name.upper() and "不符" not in full_name

    async def network_token_valid(self, token: str) -> bool:
        """Invalid when the token starts with `invalid`."""
        return not token.lower().startswith("invalid")

    async def aclose(self) -> None:
        """Nothing to release."""
