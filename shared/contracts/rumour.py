"""Rumour notices from the regulator and refutation events (DS-11)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Actor, Payload


class ClaimMedia(Payload):
    """A media item that carries the rumour, by hash."""

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    phash: str | None = Field(default=None, max_length=64)


class RumourDetermined(Payload):
    """`dsgov.rumour.determined`: a regulator (or fact-check) determined a claim is false."""

    notice_id: str = Field(min_length=1, max_length=256)
    claim_text: str = Field(max_length=100_000)
    refutation_text: str = Field(max_length=100_000)
    claim_media: list[ClaimMedia] = Field(default_factory=list, max_length=100)
    severity: str = Field(max_length=50)


class TakedownOrdered(Payload):
    """`dsgov.takedown.ordered`: the regulator orders content taken down."""

    notice_id: str = Field(min_length=1, max_length=256)
    content_ids: list[str] = Field(max_length=100_000)
    reason: str = Field(max_length=2000)


class RumourRecorded(Payload):
    """`dsgov.rumour.recorded`: what the review service needs to block the rumour from now on."""

    rumour_id: str
    notice_id: str
    refutation_text: str = ""
    claim_text: str | None = None
    claim_media: list[ClaimMedia] = Field(default_factory=list)
    fingerprints: list[str] = Field(default_factory=list, description="text fingerprints, hex")
    matched_content_ids: list[str] = Field(default_factory=list)
    recipients_reached: int | None = None


class ContentTakedownRequired(Payload):
    """`dsgov.content.takedown-required`: the platform must take this content down."""

    content_id: str
    notice_id: str = Field(
        description="the regulator notice requiring it, or `complaint:<complaint_id>` for an upheld report"
    )
    rumour_id: str | None = None
    reason: str = ""
    score: float | None = None
    complaint_id: str | None = Field(
        default=None, description="set when an upheld report requires it (DS-12)"
    )


class RefutationNotice(Payload):
    """`dsgov.refutation.notice`: tell one recipient that what they received was false."""

    recipient_user_id: str
    rumour_id: str | None = None
    notice_id: str
    refutation_text: str
    content_ids: list[str] = Field(default_factory=list)


class RumourCaseSubmitted(Payload):
    """`dsgov.rumour.case-submitted` (console command): the provider opens a rumour case itself (DS-11).

    Handled like a regulator's determination: every output carrying the claim is found, its
    takedown required and its recipients told. `notice_id` is the case id the console assigns.
    """

    notice_id: str = Field(min_length=1, max_length=256)
    claim_text: str = Field(max_length=100_000)
    refutation_text: str = Field(min_length=1, max_length=100_000)
    claim_media: list[ClaimMedia] = Field(default_factory=list, max_length=100)
    severity: str = Field(max_length=50)
    reason: str = Field(min_length=1, max_length=2000, description="why the provider opens the case")
    actor: Actor


class RumourCaseCloseSubmitted(Payload):
    """`dsgov.rumour.case-close-submitted` (console command): close a rumour case (DS-11).

    After the close no new refutation notice or takedown is sent for the case.
    """

    notice_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=2000)
    actor: Actor


class RumourClosed(Payload):
    """`dsgov.rumour.closed` (regulator notice): the regulator closes a rumour case or takedown order."""

    notice_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(default="", max_length=2000)


class RumourCaseClosed(Payload):
    """`dsgov.rumour.case-closed`: a case was closed; no new notices or takedowns follow (DS-11)."""

    notice_id: str
    rumour_id: str | None = None
    closed_by: Literal["console", "regulator"]
    reason: str = ""
    actor: Actor | None = Field(default=None, description="the console user, for a console close")
    closed_at: AwareDatetime
    notices_sent: int = Field(ge=0, description="recipients notified for the case before it closed")
