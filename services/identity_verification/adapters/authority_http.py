"""The authoritative-check port over HTTP (the provider's verification channel).

Protocol (JSON over HTTPS, bearer token):
    POST {base}/v1/name-id-checks      {"full_name": "...", "id_card_number": "..."} -> {"match": bool}
    POST {base}/v1/network-id-checks   {"token": "..."}                              -> {"valid": bool}
"""

from __future__ import annotations

from typing import Any

import httpx

from services.identity_verification.ports import AuthorityUnavailable


class HttpIdentityAuthority:
    """Calls the verification channel; network errors and 5xx become `AuthorityUnavailable`."""

    def __init__(
        self, base_url: str, token: str, *, timeout_s: float = 5.0, client: httpx.AsyncClient | None = None
    ) -> None:
        """Build an HTTP client for `base_url`; the token is sent as a bearer credential."""
        self._client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def _post(self, path: str, body: dict[str, str], field: str) -> bool:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise AuthorityUnavailable(f"{path}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise AuthorityUnavailable(f"{path}: HTTP {response.status_code}")
        if response.status_code != 200:
            # The request itself was refused (bad credentials, bad request): retrying will not help.
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        payload: Any = response.json()
        value = payload.get(field) if isinstance(payload, dict) else None
        if not isinstance(value, bool):
            raise RuntimeError(f"{path}: answer lacks boolean {field!r}")
        return value

    async def name_matches_id(self, full_name: str, id_card_number: str) -> bool:
        """Ask whether name and number belong together."""
        return await self._post(
            "/v1/name-id-checks", {"full_name": full_name, "id_card_number": id_card_number}, "match"
        )

    async def network_token_valid(self, token: str) -> bool:
        """Ask whether the network identity token is valid."""
        return await self._post("/v1/network-id-checks", {"token": token}, "valid")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
