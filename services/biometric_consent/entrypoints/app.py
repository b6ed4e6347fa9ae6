"""Composition root of `biometric_consent`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.biometric_consent.adapters.coalescing import CoalescingIdentityDirectory
from services.biometric_consent.adapters.mongo import MongoConsentReader, MongoIdentityDirectory
from services.biometric_consent.config import ConsentSettings
from services.biometric_consent.domain.state import CONSENT_PREFIX, USER_PREFIX, ConsentState, UserIdentity
from services.biometric_consent.expiry import ExpirySweep
from services.biometric_consent.handlers import ConsentHandlers
from services.biometric_consent.outbound import SOURCE
from services.biometric_consent.ports import IdentityDirectory
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.routing import every, on, prefixed
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

# Consent and user documents share one collection under different id prefixes.
_CONSENT = prefixed(CONSENT_PREFIX)
_USER = prefixed(USER_PREFIX)

DEFINITION = ServiceDefinition[ConsentHandlers](
    name="biometric_consent",
    source=SOURCE,
    description=(
        "Separate consent of the person whose face or voice is edited: grant, withdrawal, expiry "
        "and a tamper-evident history (DS-14.2, PI-14, PI-15, PI-28..31)."
    ),
    routes=(
        on(T.CONSENT_GRANT_SUBMITTED, ConsentHandlers.on_grant, ConsentState, key=_CONSENT),
        # The withdrawal travels on two topics; the handler tells the channels apart by topic.
        on(
            T.CONSENT_WITHDRAWAL_SUBMITTED,
            ConsentHandlers.on_withdrawal,
            ConsentState,
            key=_CONSENT,
            topic=topics.PLATFORM_CONSENT,
        ),
        on(
            T.CONSENT_WITHDRAWAL_SUBMITTED,
            ConsentHandlers.on_withdrawal,
            ConsentState,
            key=_CONSENT,
            topic=topics.CONSOLE_COMMANDS,
        ),
        on(T.IDENTITY_VERIFIED, ConsentHandlers.on_identity, UserIdentity, key=_USER),
        on(T.IDENTITY_REJECTED, ConsentHandlers.on_identity, UserIdentity, key=_USER),
    ),
    publishes=(T.CONSENT_GRANTED, T.CONSENT_REJECTED, T.CONSENT_WITHDRAWN, T.CONSENT_EXPIRED),
    collection="consents",
    # The expiry sweep's query: granted consents by expiry time.
    indexes=(("state.status", "state.expires_at_ms"),),
)


def build_handlers(
    settings: ConsentSettings,
    directory: IdentityDirectory,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ConsentHandlers:
    """The use cases with their ports; tests pass their own directory and clock."""
    return ConsentHandlers(directory=directory, policy=settings.policy(), clock=clock)


def compose_with(
    settings: ConsentSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Composition[ConsentHandlers]]]:
    """The composition step `run_service` calls once the store answers."""

    async def compose(runtime: Runtime) -> Composition[ConsentHandlers]:
        collection = runtime.store.collection
        directory = CoalescingIdentityDirectory(MongoIdentityDirectory(collection))
        handlers = build_handlers(settings, directory, clock)
        sweep = ExpirySweep(
            MongoConsentReader(collection), handlers, runtime.operations, clock, batch=settings.expiry_batch
        )
        return Composition(handlers, workers=[every("consent-expiry", settings.expiry_interval_s, sweep)])

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = ConsentSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
