"""Handling `dsgov.identity.submitted`: check locally, ask the authority if needed, decide, record."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from services.identity_verification.domain.decision import (
    CHINA_TZ,
    LocalCheck,
    Policy,
    Submission,
    check_locally,
    decide,
)
from services.identity_verification.domain.record import (
    HISTORY_MIN_RETENTION,
    DecisionSummary,
    VerificationRecord,
    established_age,
    recorded,
    settled_age,
)
from services.identity_verification.outbound import decision_event, decision_id
from services.identity_verification.ports import IdentityAuthority
from shared.contracts.identity import IdentitySubmitted
from shared.messaging.codec import Inbound
from shared.messaging.routing import Outcome


class IdentityHandlers:
    """The service's use case, with its ports injected."""

    def __init__(
        self,
        authority: IdentityAuthority,
        hmac_key: bytes,
        policy: Policy,
        clock: Callable[[], datetime],
        history_retention: timedelta = HISTORY_MIN_RETENTION,
    ) -> None:
        """`hmac_key` keys the identifier digests kept for matching."""
        self.authority = authority
        self.hmac_key = hmac_key
        self.policy = policy
        self.clock = clock
        self.history_retention = history_retention

    async def on_submitted(
        self, state: VerificationRecord | None, event: Inbound[IdentitySubmitted]
    ) -> Outcome[VerificationRecord]:
        """Decide a submission afresh (also after an earlier rejection) and record the decision."""
        sub, now = event.data, self.clock()
        check = check_locally(_submission(sub), now, self.policy)
        decision = decide(check, await self._authority_verdict(check, sub))
        today = now.astimezone(CHINA_TZ).date()
        proven = (
            established_age(check.birth_date, today, now)
            if decision.verified and check.birth_date is not None
            else None
        )
        age, kept = settled_age(state, decision.age_group, proven, today)
        decision = dataclasses.replace(decision, age_group=age)
        out = decision_event(event, decision, now)
        summary = DecisionSummary(
            decision_id=decision_id(event.id),
            event_id=out.id,
            submission_id=event.id,
            status="verified" if decision.verified else "rejected",
            method=sub.method,
            reasons=decision.reasons,
            age_group=decision.age_group,
            decided_at=now,
        )
        record = recorded(
            state,
            summary,
            user_id=sub.user_id,
            provider_id=event.event.providerid,
            identifier_hmac=self._digest(sub.method, check.identifier),
            masked_identifier=decision.masked,
            established=kept,
            keep_since=now - self.history_retention,
        )
        return Outcome(record, [out])

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
