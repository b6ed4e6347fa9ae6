"""The checks of input and output review, in order (DS-9, DS-10, DS-11, DS-14.2).

Input: (1) real-name verified; (2) not sanctioned for this function; (2b) not a minor using a
service type restricted for minors (GA-10); (3) subjects declared for a service type that always
needs them, or for input media the platform marked as depicting a person (DS-14.2); (4) for each
subject, an active consent granted to this user that covers the biometric type and service type;
(5) the feature library; (6) known rumours.
Evaluation stops at the first failing step among 1-4 (all subjects' consent failures are listed
together). Steps 5 and 6 are evaluated together: every match is reported, `block` entries and
rumours reject, `review` entries (when nothing blocks) send the request to a person.

Output: the request was approved; every consent it relied on is still active; then the same
content checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from services.generation_review.domain.ladder import refuses
from services.generation_review.domain.matcher import Hit, Matcher, MediaHashes
from services.generation_review.domain.normalise import normalise, text_sha256
from services.generation_review.domain.projections import ConsentFacts, UserFacts
from services.generation_review.domain.rumours import RumourHit, RumourIndex
from services.generation_review.domain.service_types import BIOMETRIC_EDITING, BIOMETRIC_NEEDS

RUMOUR_CATEGORY: Final = "rumour"
MINORS: Final = frozenset({"under_14", "14_to_17"})


@dataclass(frozen=True)
class GatePolicy:
    """The configurable parts of the input gates.

    `subjects_required`: service types that always need declared subjects (DS-14.2), whatever
    the media; `minor_restricted`: service types refused to minors (GA-10); `unknown_age_restricted`:
    treat a user whose age is not known (e.g. verified by mobile number only) as a minor there too.
    """

    subjects_required: frozenset[str] = BIOMETRIC_EDITING
    minor_restricted: frozenset[str] = frozenset({"digital_human"})
    unknown_age_restricted: bool = False

    def refused_to(self, age_group: str | None, service_type: str) -> bool:
        """True when a user of `age_group` may not use `service_type` (GA-10)."""
        if service_type not in self.minor_restricted:
            return False
        return age_group in MINORS or (self.unknown_age_restricted and age_group in (None, "unknown"))


@dataclass(frozen=True)
class Finding:
    """A failed check: a reason code and a detail without personal data."""

    code: str
    detail: str | None = None


@dataclass(frozen=True)
class Findings:
    """What content checking found, with the hashes of what was checked (for the decision record)."""

    library_version: int
    text_sha256: str | None
    media: tuple[MediaHashes, ...]
    hits: tuple[Hit, ...] = ()
    rumours: tuple[RumourHit, ...] = ()
    library_empty: bool = False  # the provider has no approved entry: nothing could have matched

    @property
    def blocking(self) -> tuple[Hit, ...]:
        """Library hits whose action is `block`."""
        return tuple(h for h in self.hits if h.action == "block")

    @property
    def for_review(self) -> tuple[Hit, ...]:
        """Library hits whose action is `review`."""
        return tuple(h for h in self.hits if h.action == "review")


@dataclass(frozen=True)
class ContentVerdict:
    """`pass`, `block` (with reasons and the violation's category) or `review`."""

    outcome: str
    findings: tuple[Finding, ...] = ()
    category: str | None = None


def check_content(
    text: str | None, media: Sequence[MediaHashes], matcher: Matcher, rumours: RumourIndex
) -> Findings:
    """Match text and media against one library version and the known rumours."""
    normalised = normalise(text or "")
    hits = [*matcher.match_normalised(normalised), *matcher.match_media(media)]
    found = [*rumours.match_normalised(normalised), *rumours.match_media(media)]
    return Findings(
        library_version=matcher.version,
        text_sha256=text_sha256(normalised) if text else None,
        media=tuple(media),
        hits=tuple(hits),
        rumours=tuple(found),
        library_empty=len(matcher) == 0,
    )


def content_verdict(findings: Findings, severe: frozenset[str] = frozenset()) -> ContentVerdict:
    """Blocks and rumours reject; otherwise an empty library or `review` entries queue; else it passes.

    Never fail open (DS-10.2, GA-14): without an approved feature library nothing could have
    matched, so content that nothing blocks goes to a person (`library_empty`).
    """
    blocking = findings.blocking
    reasons: list[Finding] = []
    if blocking:
        categories = sorted({h.category for h in blocking})
        reasons.append(
            Finding("prohibited_content", f"matched library entries of category {', '.join(categories)}")
        )
    if findings.rumours:
        ids = sorted({r.rumour_id for r in findings.rumours})
        reasons.append(Finding("known_rumour", f"carries known rumour {', '.join(ids)}"))
    if reasons:
        return ContentVerdict("block", tuple(reasons), violation_category(blocking, severe))
    if findings.library_empty:
        return ContentVerdict("review", (Finding("library_empty"),))
    if findings.for_review:
        return ContentVerdict("review")
    return ContentVerdict("pass")


def violation_category(hits: Sequence[Hit], severe: frozenset[str] = frozenset()) -> str:
    """The category a strike is recorded under: a severe one if any matched, else the first."""
    categories = [h.category for h in hits]
    for category in categories:
        if category in severe:
            return category
    return categories[0] if categories else RUMOUR_CATEGORY


def input_gate(
    service_type: str,
    subjects: Sequence[str],
    user: UserFacts,
    consents: Sequence[ConsentFacts],
    now: datetime,
    policy: GatePolicy = GatePolicy(),
    depicts_person: bool = False,
) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """Steps 1-4: the failures of the first failing step, and the consents relied on (when none fail)."""
    if not user.verified:
        return (Finding("identity_unverified"),), ()
    if refuses(user.sanction, service_type):
        sanction = user.sanction
        assert sanction is not None
        until = f" until {sanction.until.isoformat()}" if sanction.until else ""
        return (Finding("user_sanctioned", f"the user is {sanction.level}{until}"),), ()
    if policy.refused_to(user.age_group, service_type):
        return (Finding("minor_restricted", f"{service_type} is not offered to minors"),), ()
    if not subjects and (service_type in policy.subjects_required or depicts_person):
        why = "input media depicts a person" if depicts_person else f"{service_type} needs biometric_subjects"
        return (Finding("biometric_subject_undeclared", why),), ()
    failures: list[Finding] = []
    relied: list[str] = []
    for subject in dict.fromkeys(subjects):
        consent, code = consent_for(subject, user.user_id, service_type, consents, now)
        if consent is None:
            failures.append(Finding(code or "consent_missing", f"subject {subject}"))
        else:
            relied.append(consent.consent_id)
    return tuple(failures), (() if failures else tuple(relied))


def _in_scope(consent: ConsentFacts, service_type: str) -> bool:
    needs = BIOMETRIC_NEEDS.get(service_type, frozenset())
    covered = set(consent.biometric_types)
    types_ok = needs <= covered if needs else bool(covered)
    return types_ok and (consent.service_types is None or service_type in consent.service_types)


def consent_for(
    subject: str, user_id: str, service_type: str, consents: Sequence[ConsentFacts], now: datetime
) -> tuple[ConsentFacts | None, str | None]:
    """The consent to rely on for `subject` (the one lasting longest), or the code saying why none."""
    mine = [
        c
        for c in consents
        if c.subject_id == subject and c.grantee_user_id == user_id and c.status != "rejected"
    ]
    active = [c for c in mine if c.active(now)]
    usable = [c for c in active if _in_scope(c, service_type)]
    if usable:
        return max(usable, key=lambda c: (c.expires_at or now, c.consent_id)), None
    if active:
        return None, "consent_scope"
    statuses = {c.effective_status(now) for c in mine}
    if "withdrawn" in statuses:
        return None, "consent_withdrawn"
    if "expired" in statuses:
        return None, "consent_expired"
    return None, "consent_missing"


def output_gate(
    consent_ids: Sequence[str], consents: Sequence[ConsentFacts], now: datetime
) -> tuple[Finding, ...]:
    """Every consent the request relied on is still active (a withdrawal in between blocks, PI-15)."""
    by_id = {c.consent_id: c for c in consents}
    failures: list[Finding] = []
    for consent_id in consent_ids:
        consent = by_id.get(consent_id)
        status = consent.effective_status(now) if consent else "missing"
        if status != "granted":
            code = {"withdrawn": "consent_withdrawn", "expired": "consent_expired"}.get(
                status, "consent_missing"
            )
            failures.append(Finding(code, f"consent {consent_id}"))
    return tuple(failures)
