"""Opening and closing rumour cases from the console (DS-11): the form check and the commands (pure).

The console assigns the case id (`notice_id`) from the form's request id (the web layer makes that
random id), so a resubmitted form opens the same case and yields the same command id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from services.console.domain.commands import SOURCE
from shared.contracts import types as T
from shared.contracts.base import Actor as ContractActor
from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.rumour import ClaimMedia, RumourCaseCloseSubmitted, RumourCaseSubmitted
from shared.messaging.ids import derived_id

CASE_SUBMITTED: Final = T.RUMOUR_CASE_SUBMITTED
CASE_CLOSE_SUBMITTED: Final = T.RUMOUR_CASE_CLOSE_SUBMITTED
NOTICE_PREFIX: Final = "console-"
SEVERITIES: Final = ("low", "medium", "high", "critical")
MAX_REASON: Final = 2000
MAX_TEXT: Final = 100_000
MAX_MEDIA: Final = 100
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class CaseForm:
    """A checked "open a case" form."""

    claim_text: str
    refutation_text: str
    severity: str
    reason: str
    claim_media: tuple[str, ...] = ()  # SHA-256 of media carrying the claim


def notice_id_for(request_id: str) -> str:
    """The case id the console assigns to one submitted form (`console-<request uuid>`)."""
    return f"{NOTICE_PREFIX}{request_id}"


def check_case_form(
    *, claim_text: str, refutation_text: str, severity: str, reason: str, claim_media: str = ""
) -> CaseForm | list[str]:
    """The form as a case, or what is wrong with it (each problem one sentence)."""
    media = tuple(line.strip().lower() for line in claim_media.splitlines() if line.strip())
    problems = [
        *_text_problems(claim_text, refutation_text, media),
        *_reason_problems(severity, reason),
        *_media_problems(media),
    ]
    if problems:
        return problems
    return CaseForm(claim_text, refutation_text, severity, reason, media)


def _text_problems(claim_text: str, refutation_text: str, media: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    if not claim_text and not media:
        problems.append("Give the claim's text (or the SHA-256 of media carrying it): it is what is matched.")
    if not refutation_text:
        problems.append("The refutation text is required: it is what recipients are told (DS-11).")
    for name, text in (("claim", claim_text), ("refutation", refutation_text)):
        if len(text) > MAX_TEXT:
            problems.append(f"The {name} text may have at most {MAX_TEXT} characters.")
    return problems


def _reason_problems(severity: str, reason: str) -> list[str]:
    problems: list[str] = []
    if severity not in SEVERITIES:
        problems.append(f"Choose a severity: {', '.join(SEVERITIES)}.")
    if not reason:
        problems.append("A reason is required: why the provider opens this case.")
    elif len(reason) > MAX_REASON:
        problems.append(f"The reason may have at most {MAX_REASON} characters.")
    return problems


def _media_problems(media: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    if len(media) > MAX_MEDIA:
        problems.append(f"At most {MAX_MEDIA} media hashes.")
    if any(not _SHA256.fullmatch(m) for m in media):
        problems.append("Each media line must be a SHA-256: 64 hexadecimal digits.")
    return problems


def case_command_id(request_id: str) -> str:
    """The command id of one submitted "open a case" form: a resubmission yields the same id."""
    return derived_id(SOURCE, "rumour-case", request_id)


def close_command_id(request_id: str) -> str:
    """The command id of one submitted close form."""
    return derived_id(SOURCE, "rumour-case-close", request_id)


def case_command(
    form: CaseForm,
    *,
    notice_id: str,
    username: str,
    role: str,
    provider_id: str,
    request_id: str,
    now: datetime,
) -> CloudEvent:
    """`dsgov.rumour.case-submitted` (DS-11): the provider opens a case; it starts a flow of its own."""
    data = RumourCaseSubmitted(
        notice_id=notice_id,
        claim_text=form.claim_text,
        refutation_text=form.refutation_text,
        claim_media=[ClaimMedia(sha256=m) for m in form.claim_media],
        severity=form.severity,
        reason=form.reason,
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = case_command_id(request_id)
    return new_event(
        type=CASE_SUBMITTED,
        source=SOURCE,
        subject=notice_id,
        providerid=provider_id,
        data=data,
        id=command_id,
        time=now,
        correlationid=command_id,
        causationid=command_id,
    )


def close_command(
    case: Mapping[str, Any], *, reason: str, username: str, role: str, request_id: str, now: datetime
) -> CloudEvent:
    """`dsgov.rumour.case-close-submitted` (DS-11) for a case of the read model.

    It continues the case's flow (correlation id of its record) and is caused by the latest event
    about the case the operator saw.
    """
    data = RumourCaseCloseSubmitted(
        notice_id=case["notice_id"],
        reason=reason,
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = close_command_id(request_id)
    return new_event(
        type=CASE_CLOSE_SUBMITTED,
        source=SOURCE,
        subject=data.notice_id,
        providerid=case["provider_id"],
        data=data,
        id=command_id,
        time=now,
        correlationid=case.get("correlation_id") or command_id,
        causationid=case.get("last_event_id") or command_id,
    )
