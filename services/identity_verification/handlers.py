"""Handling `dsgov.identity.submitted`: check locally, ask the authority if needed, decide, record."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.identity_verification.domain.decision import (
    Decision,
    LocalCheck,
    Policy,
    Submission,
    check_locally,
    decide,
)
from services.identity_verification.domain.reasons import article_for, detail_for
from services.identity_verification.ports import IdentityAuthority
from shared.contracts.base import Reason
from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.identity import IdentityRejected, IdentitySubmitted, IdentityVerified
from shared.messaging.codec import Inbound
from shared.messaging.engine import Outcome
from shared.messaging.ids import derived_id
from shared.observability import get_logger

log = get_logger(__name__)

SOURCE = "dsgov/identity-verification"
HISTORY_LIMIT = 20


class IdentityHandlers:
    """The service's use case, with its ports injected."""

    def __init__(
        self, authority: IdentityAuthority, hmac_key: bytes, policy: Policy, clock: Callable[[], datetime]
    ) -> None:
        """`hmac_key` keys the identifier digests kept for matching."""
        self.authority = authority
        self.hmac_key = hmac_key
        self.policy = policy
        self.clock = clock

    async def on_submitted(self, state: dict[str, Any] | None, event: Inbound[IdentitySubmitted]) -> Outcome:
        """Decide a submission afresh (also after an earlier rejection) and record the decision."""
        sub = event.data
        now = self.clock()
        check = check_locally(_submission(sub), now, self.policy)
        decision = decide(check, await self._authority_verdict(check, sub))
        out = _decision_event(event, decision, now)
        return Outcome(state=self._record(state, event, check, decision, out, now), events=[out])

    async def _authority_verdict(self, check: LocalCheck, sub: IdentitySubmitted) -> bool | None:
        if not check.ok or check.authority_check is None:
            return None
        if check.authority_check == "name_id":
            return await self.authority.name_matches_id(sub.full_name or "", check.identifier or "")
        return await self.authority.network_token_valid(check.identifier or "")

    def _digest(self, method: str, identifier: str | None) -> str | None:
        # Keyed HMAC: lets us recognise the same identifier again without ever storing it (rule 6).
        if identifier is None:
            return None
        return hmac.new(self.hmac_key, f"{method}:{identifier}".encode(), hashlib.sha256).hexdigest()

    def _record(
        self,
        state: dict[str, Any] | None,
        event: Inbound[IdentitySubmitted],
        check: LocalCheck,
        decision: Decision,
        out: CloudEvent,
        now: datetime,
    ) -> dict[str, Any]:
        summary = {
            "decision_id": out.data["decision_id"],
            "event_id": out.id,
            "submission_id": event.id,
            "status": "verified" if decision.verified else "rejected",
            "method": event.data.method,
            "reasons": list(decision.reasons),
            "age_group": decision.age_group,
            "decided_at": now,
        }
        history = [*(state or {}).get("history", []), summary][-HISTORY_LIMIT:]
        return {
            **summary,
            "user_id": event.data.user_id,
            "provider_id": event.event.providerid,
            "identifier_hmac": self._digest(event.data.method, check.identifier),
            "masked_identifier": decision.masked,
            "history": history,
        }


def _submission(sub: IdentitySubmitted) -> Submission:
    return Submission(
        method=sub.method,
        mobile=sub.mobile,
        mobile_otp_verified_at=sub.mobile_otp_verified_at,
        full_name=sub.full_name,
        id_card_number=sub.id_card_number,
        organization_name=sub.organization_name,
        uscc=sub.uscc,
        network_id_token=sub.network_id_token,
    )


def _decision_event(event: Inbound[IdentitySubmitted], decision: Decision, now: datetime) -> CloudEvent:
    sub = event.data
    fields: dict[str, Any] = {
        "user_id": sub.user_id,
        "method": sub.method,
        "reasons": list(decision.reasons),
        "age_group": decision.age_group,
        "decision_id": derived_id(SOURCE, "decision", event.id),
        "decided_at": now,
        "reason_details": [
            Reason(code=c, article=article_for(c), detail=detail_for(c)) for c in decision.reasons
        ],
        "masked_identifier": decision.masked,
    }
    data = IdentityVerified(**fields) if decision.verified else IdentityRejected(**fields)
    kind = "verified" if decision.verified else "rejected"
    return new_event(
        type=f"dsgov.identity.{kind}",
        source=SOURCE,
        subject=sub.user_id,
        providerid=event.event.providerid,
        data=data,
        id=derived_id(SOURCE, "event", event.id),
        time=now,
        correlationid=event.event.correlation,
        causationid=event.id,
    )
