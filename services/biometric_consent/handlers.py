"""Handling consent submissions, withdrawals and identity decisions: translate, decide, record.

Thin by design (ARCHITECTURE rule 7): each handler turns the inbound event into domain values,
asks the pure domain to decide (with the time from the injected clock) and hands the decision to
the outbound translator. The engine writes state and events in one document write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.biometric_consent.domain.consent import (
    AdultDeclaration,
    Cause,
    Decision,
    EvidenceRef,
    GrantRequest,
    Policy,
    WithdrawalRequest,
    decide_grant,
    decide_withdrawal,
    settle_expiry,
)
from services.biometric_consent.domain.identity import IdentityDecision, apply_identity
from services.biometric_consent.domain.state import ConsentState, UserIdentity
from services.biometric_consent.outbound import consent_event
from services.biometric_consent.ports import IdentityDirectory
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.consent import AdultDeclaration as AdultDeclarationPayload
from shared.contracts.consent import (
    ConsentGrantSubmitted,
    ConsentWithdrawalSubmitted,
    ConsoleConsentWithdrawal,
)
from shared.contracts.identity import IdentityDecision as IdentityDecisionPayload
from shared.messaging.codec import Inbound
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)


class ConsentHandlers:
    """The service's use cases, with the identity read port injected."""

    def __init__(self, directory: IdentityDirectory, policy: Policy, clock: Callable[[], datetime]) -> None:
        """`directory` reads the service's own identity projection."""
        self.directory = directory
        self.policy = policy
        self.clock = clock

    async def on_identity(
        self, state: UserIdentity | None, event: Inbound[IdentityDecisionPayload]
    ) -> Outcome[UserIdentity]:
        """Keep the projection of who is verified, and their age group; publishes nothing."""
        data = event.data
        decision = IdentityDecision(
            user_id=data.user_id,
            provider_id=event.event.providerid,
            outcome="verified" if event.type == T.IDENTITY_VERIFIED else "rejected",
            age_group=data.age_group,
            method=data.method,
            decided_at=data.decided_at or event.event.time,
            event_id=event.id,
        )
        new = apply_identity(state, decision)
        if new is None:
            log.info("identity.stale_decision_ignored", user_id=data.user_id)
        return Outcome(new)

    async def on_grant(
        self, state: ConsentState | None, event: Inbound[ConsentGrantSubmitted]
    ) -> Outcome[ConsentState]:
        """Accept or reject a grant against the identity projection (DS-9, DS-14.2, PI-31)."""
        req = _grant_request(event.data)
        identities = await self.directory.identities(event.event.providerid, req.users())
        decision = decide_grant(state, req, identities, self._cause(event), self.policy)
        return self._outcome(state, decision, event)

    async def on_withdrawal(
        self, state: ConsentState | None, event: Inbound[ConsentWithdrawalSubmitted]
    ) -> Outcome[ConsentState]:
        """Withdraw from the platform (the subject) or the console (an operator, with a reason)."""
        decision = decide_withdrawal(state, _withdrawal_request(event), self._cause(event))
        return self._outcome(state, decision, event)

    def expire(self, state: ConsentState | None) -> Outcome[ConsentState]:
        """Timer-driven: expire the consent if its `expires_at` has passed (run as an operation)."""
        return self._outcome(state, settle_expiry(state, self.clock()), None)

    def _cause(self, event: Inbound[Any]) -> Cause:
        return Cause(
            now=self.clock(),
            provider_id=event.event.providerid,
            consent_id=event.subject,
            event_id=event.id,
            correlation_id=event.event.correlation,
        )

    def _outcome(
        self, before: ConsentState | None, decision: Decision, cause: Inbound[Any] | None
    ) -> Outcome[ConsentState]:
        state = decision.state
        if state is None:
            return Outcome(None)
        _log_entries(before, state)
        now = self.clock()
        return Outcome(state, tuple(consent_event(e, state, cause, now) for e in decision.emissions))


def _log_entries(before: ConsentState | None, after: ConsentState) -> None:
    known = len(before.history) if before else 0
    for entry in after.history[known:]:
        level = log.warning if entry.event == "withdrawal_refused" else log.info
        level(
            "consent.history_entry",
            consent_id=entry.consent_id,
            entry=entry.event,
            seq=entry.seq,
            reasons=list(entry.reasons),
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
        adult_declaration=_declaration(sub.subject_adult_declaration),
    )


def _declaration(d: AdultDeclarationPayload | None) -> AdultDeclaration | None:
    return AdultDeclaration(d.method, d.artifact_sha256, d.declared_at) if d is not None else None


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
