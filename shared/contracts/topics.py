"""The topic registry: every public topic name, in one place."""

from __future__ import annotations

from typing import Final

PLATFORM_IDENTITY: Final = "dsgov.platform.identity"
PLATFORM_CONSENT: Final = "dsgov.platform.consent"
PLATFORM_GENERATION: Final = "dsgov.platform.generation"
PLATFORM_DISTRIBUTION: Final = "dsgov.platform.distribution"
PLATFORM_INCIDENTS: Final = "dsgov.platform.incidents"
REGULATOR_NOTICES: Final = "dsgov.regulator.notices"
REGULATOR_ACKS: Final = "dsgov.regulator.acks"
CONSOLE_COMMANDS: Final = "dsgov.console.commands"
PLATFORM_COMPLAINTS: Final = "dsgov.platform.complaints"
PLATFORM_ACTIVITY: Final = "dsgov.platform.activity"

IDENTITY: Final = "dsgov.identity"
CONSENT: Final = "dsgov.consent"
REVIEW: Final = "dsgov.review"
LABELING: Final = "dsgov.labeling"
RUMOUR: Final = "dsgov.rumour"
COMPLAINT: Final = "dsgov.complaint"
REGULATOR_REPORTS: Final = "dsgov.regulator.reports"
DEADLETTER: Final = "dsgov.deadletter"

ALL_TOPICS: Final = (
    PLATFORM_IDENTITY,
    PLATFORM_CONSENT,
    PLATFORM_GENERATION,
    PLATFORM_DISTRIBUTION,
    PLATFORM_INCIDENTS,
    REGULATOR_NOTICES,
    REGULATOR_ACKS,
    CONSOLE_COMMANDS,
    PLATFORM_COMPLAINTS,
    PLATFORM_ACTIVITY,
    IDENTITY,
    CONSENT,
    REVIEW,
    LABELING,
    RUMOUR,
    COMPLAINT,
    REGULATOR_REPORTS,
    DEADLETTER,
)
