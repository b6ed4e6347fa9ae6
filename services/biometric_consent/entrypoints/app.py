"""Composition root of `biometric_consent`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from services.biometric_consent.adapters.coalescing import CoalescingIdentityDirectory
from services.biometric_consent.adapters.mongo import MongoConsentReader, MongoIdentityDirectory
from services.biometric_consent.config import ConsentSettings
from services.biometric_consent.expiry import ExpiryWorker
from services.biometric_consent.handlers import SOURCE, ConsentHandlers
from services.biometric_consent.keys import aggregate_id
from services.biometric_consent.ports import IdentityDirectory
from shared.contracts import topics
from shared.messaging.engine import Handler
from shared.runtime.host import Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

GRANT_SUBMITTED = "dsgov.consent.grant-submitted"
WITHDRAWAL_SUBMITTED = "dsgov.consent.withdrawal-submitted"
IDENTITY_VERIFIED = "dsgov.identity.verified"
IDENTITY_REJECTED = "dsgov.identity.rejected"

DEFINITION = ServiceDefinition(
    name="biometric_consent",
    source=SOURCE,
    description=(
        "Separate consent of the person whose face or voice is edited: grant, withdrawal, expiry "
        "and a tamper-evident history (DS-14.2, PI-14, PI-15, PI-28..31)."
    ),
    consumes={
        topics.PLATFORM_CONSENT: (GRANT_SUBMITTED, WITHDRAWAL_SUBMITTED),
        topics.CONSOLE_COMMANDS: (WITHDRAWAL_SUBMITTED,),
        topics.IDENTITY: (IDENTITY_VERIFIED, IDENTITY_REJECTED),
    },
    publishes=(
        "dsgov.consent.granted",
        "dsgov.consent.rejected",
        "dsgov.consent.withdrawn",
        "dsgov.consent.expired",
    ),
    collection="consents",
    # The expiry worker's query: granted consents by expiry time.
    indexes=(("state.status", "state.expires_at_ms"),),
)


def build_handlers(
    settings: ConsentSettings,
    directory: IdentityDirectory,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ConsentHandlers:
    """The use cases with their ports; tests pass their own directory and clock."""
    return ConsentHandlers(directory=directory, policy=settings.policy(), clock=clock)


def routes(handlers: ConsentHandlers) -> Mapping[str, Handler]:
    """Event type -> handler. The withdrawal type arrives on two topics; the handler tells them apart."""
    return {
        GRANT_SUBMITTED: handlers.on_grant,
        WITHDRAWAL_SUBMITTED: handlers.on_withdrawal,
        IDENTITY_VERIFIED: handlers.on_identity,
        IDENTITY_REJECTED: handlers.on_identity,
    }


def compose_with(
    settings: ConsentSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Mapping[str, Handler]]]:
    """The composition step `run_service` calls once the runtime's clients exist."""

    async def compose(runtime: Runtime) -> Mapping[str, Handler]:
        # Consent and user documents share one collection under different id prefixes.
        runtime.aggregate_id = aggregate_id
        collection = runtime.store.collection
        directory = CoalescingIdentityDirectory(MongoIdentityDirectory(collection))
        handlers = build_handlers(settings, directory, clock)
        worker = ExpiryWorker(
            MongoConsentReader(collection),
            handlers,
            engine=lambda: runtime.engine,  # set by attach_engine after compose returns
            clock=clock,
            interval_s=settings.expiry_interval_s,
            batch=settings.expiry_batch,
        )
        runtime.workers.append(worker.run)
        return routes(handlers)

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = ConsentSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
