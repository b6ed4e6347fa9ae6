"""Handling consent submissions, withdrawals and identity decisions: translate, decide, record.

Thin by design (ARCHITECTURE rule 7): each handler turns the inbound event into domain values,
asks the pure domain to decide (with the time from the injected clock) and turns the decision
into the new state and the outbound CloudEvents. The engine writes both in one document write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.biometric_consent.domain.consent import (
    Cause,
    Decision,
    Emission,
    EvidenceRef,
    GrantRequest,
    Policy,
    WithdrawalRequest,
    decide_grant,
    decide_withdrawal,
    settle_expiry,
)
from services.biometric_consent.domain.identity import IdentityDecision, apply_identity
from services.biometric_consent.domain.reasons import article_for, detail_for
from services.biometric_consent.keys import consent_key
from services.biometric_consent.ports import IdentityDirectory
from shared.contracts import topics
from shared.contracts.base import Reason
from shared.contracts.consent import (
    ConsentExpired,
    ConsentGranted,
    ConsentGrantSubmitted,
    ConsentRejected,
    ConsentWithdrawalSubmitted,
    ConsentWithdrawn,
    ConsoleConsentWithdrawal,
)
from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.identity import IdentityDecision as IdentityDecisionPayload
from shared.messaging.codec import Inbound
from shared.messaging.engine import Outcome
from shared.messaging.ids import derived_id
from shared.observability import get_logger

log = get_logger(__name__)

SOURCE = "dsgov/biometric-consent"
_MODELS = {
    "granted": ConsentGranted,
    "rejected": ConsentRejected,
    "withdrawn": ConsentWithdrawn,
    "expired": ConsentExpired,
}


class ConsentHandlers:
    """The service's use cases, with the identity read port injected."""

    def __init__(self, directory: IdentityDirectory, policy: Policy, clock: Callable[[], datetime]) -> None:
        """`directory` reads the service's own identity projection."""
        self.directory = directory
        self.policy = policy
        self.clock = clock

    async def on_identity(
        self, state: dict[str, Any] | None, event: Inbound[IdentityDecisionPayload]
    ) -> Outcome:
        """Keep the projection of who is verified, and their age group; publishes nothing."""
        data = event.data
        decision = IdentityDecision(
            user_id=data.user_id,
            provider_id=event.event.providerid,
            outcome="verified" if event.type == "dsgov.identity.verified" else "rejected",
            age_group=data.age_group,
            method=data.method,
            decided_at=data.decided_at or event.event.time,
            event_id=event.id,
        )
        new = apply_identity(state, decision)
        if new is None:
            log.info("identity.stale_decision_ignored", user_id=data.user_id)
        return Outcome(state=new)

    async def on_grant(self, state: dict[str, Any] | None, event: Inbound[ConsentGrantSubmitted]) -> Outcome:
        """Accept or reject a grant against the identity projection (DS-9, DS-14.2, PI-31)."""
        req = _grant_request(event.data)
        identities = await self.directory.identities(event.event.providerid, req.users())
        decision = decide_grant(state, req, identities, self._cause(event), self.policy)
        return self._outcome(state, decision, event)

    async def on_withdrawal(
        self, state: dict[str, Any] | None, event: Inbound[ConsentWithdrawalSubmitted]
    ) -> Outcome:
        """Withdraw from the platform (the subject) or the console (an operator, with a reason)."""
        decision = decide_withdrawal(state, _withdrawal_request(event), self._cause(event))
        return self._outcome(state, decision, event)

    def expire(self, state: dict[str, Any] | None) -> Outcome:
        """Timer-driven: expire the consent if its `expires_at` has passed (run via Engine.execute)."""
        decision = settle_expiry(state, self.clock())
        return self._outcome(state, decision, None)

    def _cause(self, event: Inbound[Any]) -> Cause:
        return Cause(
            now=self.clock(),
            provider_id=event.event.providerid,
            consent_id=event.subject,
            event_id=event.id,
            correlation_id=event.event.correlation,
        )

    def _outcome(
        self, before: Mapping[str, Any] | None, decision: Decision, cause: Inbound[Any] | None
    ) -> Outcome:
        _log_entries(before, decision)
        if not decision.emissions:
            return Outcome(state=decision.state)
        state = decision.state
        assert state is not None  # an emission always comes with a state change
        now = self.clock()
        events = [_consent_event(e, state, cause, now) for e in decision.emissions]
        return Outcome(state=state, events=events)


def _log_entries(before: Mapping[str, Any] | None, decision: Decision) -> None:
    if decision.state is None:
        return
    known = len((before or {}).get("history", []))
    for entry in decision.state["history"][known:]:
        level = log.warning if entry["event"] == "withdrawal_refused" else log.info
        level(
            "consent.history_entry",
            consent_id=entry["consent_id"],
            entry=entry["event"],
            seq=entry["seq"],
            reasons=entry["reasons"],
        )


def _grant_request(sub: ConsentGrantSubmitted) -> GrantRequest:
    ev = sub.evidence
    return GrantRequest(
        consent_id=sub.consent_id,
        subject_id=sub.subject_id,
        grantee_user_id=sub.grantee_user_id,
        biometric_types=tuple(sub.biometric_types),
        expires_at=sub.expires_at,
        evidence=EvidenceRef(ev.method, ev.notice_version, ev.artifact_sha256, ev.captured_at),
        purpose=sub.purpose,
        service_types=tuple(sub.service_types) if sub.service_types is not None else None,
        guardian_user_id=sub.guardian_user_id or None,
    )


def _withdrawal_request(event: Inbound[ConsentWithdrawalSubmitted]) -> WithdrawalRequest:
    data = event.data
    # The channel is the topic, never the payload: only the console may publish console commands.
    if event.record.topic == topics.CONSOLE_COMMANDS and isinstance(data, ConsoleConsentWithdrawal):
        return WithdrawalRequest(
            consent_id=data.consent_id,
            subject_id=data.subject_id,
            channel="console",
            reason=data.reason,
            console_user=data.actor.username,
            console_role=data.actor.role,
        )
    return WithdrawalRequest(
        consent_id=data.consent_id, subject_id=data.subject_id, channel="platform", reason=data.reason
    )


def _consent_event(
    emission: Emission, state: Mapping[str, Any], cause: Inbound[Any] | None, now: datetime
) -> CloudEvent:
    fields = emission.fields
    data = _MODELS[emission.kind].model_validate(
        {
            "consent_id": state["consent_id"],
            "subject_id": fields.subject_id,
            "grantee_user_id": fields.grantee_user_id,
            "biometric_types": list(fields.biometric_types),
            "expires_at": fields.expires_at,
            "reasons": list(emission.reasons),
            "actor": emission.actor,
            "service_types": list(fields.service_types) if fields.service_types is not None else None,
            "reason_details": [
                Reason(code=c, article=article_for(c), detail=detail_for(c)) for c in emission.reasons
            ],
            "occurred_at": emission.occurred_at,
            "purpose": fields.purpose,
            "evidence": {k: v for k, v in fields.evidence.items() if v is not None}
            if fields.evidence
            else None,
            "guardian_user_id": fields.guardian_user_id,
        }
    )
    provider = state["provider_id"]
    if emission.kind == "expired" or cause is None:
        # Expiry has one id per consent, whichever path applies it (timer, or a later event).
        event_id = derived_id(SOURCE, "expired", consent_key(provider, state["consent_id"]))
        correlation = state.get("correlation_id") or event_id
        causation = state.get("grant_event_id") or event_id
    else:
        event_id = derived_id(SOURCE, emission.kind, cause.id)
        correlation, causation = cause.event.correlation, cause.id
    return new_event(
        type=f"dsgov.consent.{emission.kind}",
        source=SOURCE,
        subject=state["consent_id"],
        providerid=provider,
        data=data,
        id=event_id,
        time=now,
        correlationid=correlation,
        causationid=causation,
    )
