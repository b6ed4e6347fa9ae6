"""What dsgov holds about a person, as the complaints service learns it from events (PI-50).

A rights request is answered from this projection: references and masked forms only — the
identity decision with its masked identifier, the consents the person gave, their standing and how
many review decisions concern them. It is fed by `dsgov.identity`, `dsgov.consent` and `dsgov.review`.
"""

from __future__ import annotations

from shared.contracts.complaints import HeldData
from shared.storage.state import AggregateState

RECENT = 20  # decision ids listed in an answer (the count covers all)


class Person(AggregateState):
    """The projection of one user."""

    user_id: str
    identity_status: str | None = None
    identity_method: str | None = None
    masked_identifier: str | None = None
    age_group: str | None = None
    consents_as_subject: tuple[str, ...] = ()
    sanction_level: str | None = None
    review_decisions: int = 0
    recent_decision_ids: tuple[str, ...] = ()


def _person(state: Person | None, user_id: str) -> Person:
    return state or Person(user_id=user_id)


def with_identity(
    state: Person | None, user_id: str, status: str, method: str, masked: str | None, age_group: str
) -> Person:
    """After an identity decision."""
    return _person(state, user_id).model_copy(
        update={
            "identity_status": status,
            "identity_method": method,
            "masked_identifier": masked,
            "age_group": age_group,
        }
    )


def with_consent(state: Person | None, user_id: str, consent_id: str) -> Person:
    """After a consent event in which the person is the subject."""
    person = _person(state, user_id)
    if consent_id in person.consents_as_subject:
        return person
    return person.model_copy(update={"consents_as_subject": (*person.consents_as_subject, consent_id)})


def with_decision(state: Person | None, user_id: str, decision_id: str) -> Person:
    """After a review decision about one of the person's requests or outputs."""
    person = _person(state, user_id)
    recent = (*person.recent_decision_ids, decision_id)[-RECENT:]
    return person.model_copy(
        update={"review_decisions": person.review_decisions + 1, "recent_decision_ids": recent}
    )


def with_standing(state: Person | None, user_id: str, level: str | None) -> Person:
    """After a sanction or its lifting (`none` or None: no sanction)."""
    return _person(state, user_id).model_copy(update={"sanction_level": None if level == "none" else level})


def held_data(person: Person | None) -> HeldData:
    """The answer to a rights request: what the projection holds (empty when nothing)."""
    if person is None:
        return HeldData()
    return HeldData(
        identity_status=person.identity_status,
        identity_method=person.identity_method,
        masked_identifier=person.masked_identifier,
        age_group=person.age_group,
        consents_as_subject=list(person.consents_as_subject),
        sanction_level=person.sanction_level,
        review_decisions=person.review_decisions,
        recent_decision_ids=list(person.recent_decision_ids),
    )
