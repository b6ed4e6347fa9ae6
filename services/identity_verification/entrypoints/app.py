"""Composition root of `identity_verification`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.identity_verification.adapters.authority_http import HttpIdentityAuthority
from services.identity_verification.adapters.authority_simulator import SimulatedIdentityAuthority
from services.identity_verification.config import IdentitySettings
from services.identity_verification.domain.decision import Policy
from services.identity_verification.domain.record import VerificationRecord, history_retention
from services.identity_verification.handlers import IdentityHandlers
from services.identity_verification.outbound import SOURCE
from services.identity_verification.ports import IdentityAuthority
from shared.contracts import types as T
from shared.messaging.routing import on
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

DEFINITION = ServiceDefinition[IdentityHandlers](
    name="identity_verification",
    source=SOURCE,
    description="Real-identity verification before any publishing function (DS-9, CS-2, NI-1..4).",
    routes=(on(T.IDENTITY_SUBMITTED, IdentityHandlers.on_submitted, VerificationRecord),),
    publishes=(T.IDENTITY_VERIFIED, T.IDENTITY_REJECTED),
    collection="verifications",
)


def build_authority(settings: IdentitySettings) -> IdentityAuthority:
    """The HTTP adapter in production, the offline simulator on the embedded default."""
    if settings.authority_mode == "simulator":
        return SimulatedIdentityAuthority()
    assert settings.authority_url
    assert settings.authority_token
    return HttpIdentityAuthority(
        settings.authority_url,
        settings.authority_token.get_secret_value(),
        timeout_s=settings.authority_timeout_s,
    )


def build_handlers(
    settings: IdentitySettings,
    authority: IdentityAuthority | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IdentityHandlers:
    """The use case with its ports; tests pass their own authority and clock."""
    return IdentityHandlers(
        authority=authority or build_authority(settings),
        hmac_key=settings.hmac_key.get_secret_value().encode("utf-8"),
        policy=Policy(otp_max_age=timedelta(seconds=settings.otp_max_age_s)),
        clock=clock,
        history_retention=history_retention(settings.history_retention_days),
    )


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = IdentitySettings()  # read from the environment
    common = CommonSettings()

    async def compose(runtime: Runtime) -> Composition[IdentityHandlers]:
        handlers = build_handlers(settings)
        return Composition(handlers, closers=[handlers.authority.aclose])

    await run_service(DEFINITION, common, compose)
