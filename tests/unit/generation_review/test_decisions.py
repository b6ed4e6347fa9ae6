"""Input, output and human review decisions, one reason code at a time.

DS-9, DS-10, DS-11, DS-14.2, DS-17.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from services.generation_review.domain.ladder import Sanction
from services.generation_review.domain.matcher import MatchEntry, Matcher, MediaHashes
from services.generation_review.domain.projections import (
    ConsentFacts,
    UserFacts,
    apply_consent_event,
    apply_identity,
    consent_facts,
)
from services.generation_review.domain.reasons import REASONS, article_for
from services.generation_review.domain.request import (
    Cause,
    InputRequest,
    ModelVersion,
    OutputSubmission,
    RequestState,
    ReviewerDecision,
    decide_input,
    decide_output,
    decide_review,
)
from services.generation_review.domain.review import GatePolicy, check_content
from services.generation_review.domain.rumours import ClaimMedia, Rumour, RumourIndex
from services.generation_review.domain.service_types import BIOMETRIC_NEEDS, LABEL_ITEMS, label_required
from shared.contracts.base import ServiceType
from shared.contracts.consent import ConsentGranted

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ALICE = UserFacts("alice", verified=True)
MATCHER = Matcher(
    7,
    [
        MatchEntry("kw-block", "keyword", "demo-banned-term", "fraud", "block"),
        MatchEntry("kw-severe", "keyword", "demo-severe-term", "terrorism", "block"),
        MatchEntry("kw-review", "keyword", "demo-review-term", "negative", "review", why="criterion 7"),
    ],
)
RUMOURS = RumourIndex([Rumour("r-1", "the river turned to wine last night", (ClaimMedia("cd" * 32),))])
CAUSE = Cause(NOW, "p", "ev-1", "dec-1", "rules/1", frozenset({"terrorism"}))


def consent(
    status: str = "granted",
    types: tuple[str, ...] = ("face",),
    services: tuple[str, ...] | None = None,
    **kw: Any,
) -> ConsentFacts:
    return ConsentFacts(
        consent_id=kw.get("consent_id", "c-1"),
        subject_id=kw.get("subject", "bob"),
        grantee_user_id=kw.get("grantee", "alice"),
        status=status,
        biometric_types=types,
        service_types=services,
        expires_at=kw.get("expires_at", NOW + timedelta(days=1)),
    )


def request(
    service_type: str = "text_dialogue", subjects: tuple[str, ...] = (), model: ModelVersion | None = None
) -> InputRequest:
    return InputRequest("req-1", "alice", service_type, subjects, "item-1", model=model)


def checked(text: str | None = "a poem", media: tuple[MediaHashes, ...] = ()) -> Any:
    return check_content(text, media, MATCHER, RUMOURS)


def decide(
    user: UserFacts = ALICE,
    consents: tuple[ConsentFacts, ...] = (),
    text: str | None = "a poem",
    state: RequestState | None = None,
    **req: Any,
) -> Any:
    return decide_input(state, request(**req), user, consents, checked(text), CAUSE)


def reasons(decision: Any) -> list[str]:
    [emission] = [e for e in decision.emissions if e.kind == "decision"]
    return [f.code for f in emission.findings]


def the_type(decision: Any) -> str:
    return str(decision.emissions[0].type)


# --- input ----------------------------------------------------------------------------------------


def test_an_ordinary_request_is_approved_with_its_label_requirement_and_a_full_record() -> None:
    decision = decide()
    assert the_type(decision) == "dsgov.generation.approved"
    assert decision.state.status == "approved"
    assert decision.state.label_required is True
    [record] = decision.state.decisions
    assert (record.library_version, record.rule_set_version) == (7, "rules/1")
    assert len(record.checked.text_sha256) == 64
    assert record.identity_verified is True


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"user": UserFacts("alice", verified=False)}, "identity_unverified"),
        (
            {"user": UserFacts("alice", True, Sanction("suspended", NOW + timedelta(days=1)))},
            "user_sanctioned",
        ),
        (
            {
                "user": UserFacts("alice", True, Sanction("restricted", NOW + timedelta(days=1))),
                "service_type": "face_swap",
                "subjects": ("bob",),
                "consents": (consent(),),
            },
            "user_sanctioned",
        ),
        ({"service_type": "voice_conversion"}, "biometric_subject_undeclared"),
        ({"service_type": "face_swap", "subjects": ("bob",)}, "consent_missing"),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent("rejected"),)},
            "consent_missing",
        ),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent("withdrawn"),)},
            "consent_withdrawn",
        ),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent("expired"),)},
            "consent_expired",
        ),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent(expires_at=NOW),)},
            "consent_expired",  # expires_at passed, the expiry event not here yet
        ),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent(types=("voice",)),)},
            "consent_scope",
        ),
        (
            {
                "service_type": "face_swap",
                "subjects": ("bob",),
                "consents": (consent(services=("face_manipulation",)),),
            },
            "consent_scope",
        ),
        (
            {"service_type": "face_swap", "subjects": ("bob",), "consents": (consent(grantee="mallory"),)},
            "consent_missing",  # granted to someone else
        ),
        ({"text": "write DEMO banned term please"}, "prohibited_content"),
        ({"text": "did you hear? The river turned to WINE last night!"}, "known_rumour"),
    ],
)
def test_every_input_reason_code(kwargs: dict[str, Any], code: str) -> None:
    decision = decide(**kwargs)
    assert the_type(decision) == "dsgov.generation.rejected"
    assert reasons(decision) == [code]
    assert decision.state.status == "rejected"
    assert article_for(code) in {"DS-9", "DS-10.2", "DS-10.3", "DS-11", "DS-14.2"}


def test_checks_run_in_order_and_stop_at_the_first_failing_gate() -> None:
    blocked_and_unverified = decide(UserFacts("alice", False), text="demo-banned-term")
    assert reasons(blocked_and_unverified) == ["identity_unverified"]
    assert blocked_and_unverified.emissions[0].strike is False  # no strike without a content finding


def test_every_subject_needs_its_own_consent_and_all_failures_are_listed() -> None:
    decision = decide(
        service_type="face_swap",
        subjects=("bob", "carol", "dan"),
        consents=(consent(), consent("withdrawn", subject="carol", consent_id="c-2")),
    )
    assert reasons(decision) == ["consent_withdrawn", "consent_missing"]
    ok = decide(service_type="face_swap", subjects=("bob",), consents=(consent(services=("face_swap",)),))
    assert the_type(ok) == "dsgov.generation.approved"
    assert ok.state.consent_ids == ("c-1",)


def test_a_restricted_user_may_still_use_functions_that_edit_no_one() -> None:
    restricted = UserFacts("alice", True, Sanction("restricted", NOW + timedelta(days=1)))
    assert the_type(decide(restricted)) == "dsgov.generation.approved"
    lapsed = UserFacts("alice", True, None)
    assert the_type(decide(lapsed, service_type="face_swap", subjects=("bob",), consents=(consent(),))) == (
        "dsgov.generation.approved"
    )


def test_prohibited_content_is_a_strike_under_its_category_and_a_severe_one_wins() -> None:
    decision = decide(text="demo-banned-term and demo-severe-term")
    [emission] = decision.emissions
    assert (emission.strike, emission.category) == (True, "terrorism")
    assert [h.entry_id for h in emission.hits] == ["kw-block", "kw-severe"]
    rumour = decide(text="the river turned to wine last night")
    assert (rumour.emissions[0].strike, rumour.emissions[0].category) == (True, "rumour")


def test_review_entries_queue_the_request_and_blocks_beat_reviews() -> None:
    queued = decide(text="a demo-review-term story")
    [emission] = queued.emissions
    assert emission.type == "dsgov.review.queued"
    assert queued.state.status == "in_review"
    item = queued.state.items["item-1"]
    assert (item.stage, item.status, item.whys) == ("input", "open", {"kw-review": "criterion 7"})
    both = decide(text="demo-review-term and demo-banned-term")
    assert reasons(both) == ["prohibited_content"]


def test_a_rejected_request_is_decided_afresh_but_an_approved_one_is_not() -> None:
    rejected = decide(UserFacts("alice", False))
    again = decide(state=rejected.state)
    assert the_type(again) == "dsgov.generation.approved"
    assert len(again.state.decisions) == 2
    assert decide(state=again.state).state is None


# --- output -----------------------------------------------------------------------------------------


def approved_face_swap() -> RequestState:
    state = decide(service_type="face_swap", subjects=("bob",), consents=(consent(),)).state
    assert state.status == "approved"
    return state


def output(content_id: str = "content-1", text: str | None = "the output") -> OutputSubmission:
    return OutputSubmission("req-1", content_id, {"text": text, "media": []}, f"item-{content_id}")


def test_an_output_is_approved_with_itself_attached() -> None:
    decision = decide_output(approved_face_swap(), output(), (consent(),), checked("the output"), CAUSE)
    [emission] = decision.emissions
    assert (emission.type, emission.output, emission.content_id) == (
        "dsgov.output.approved",
        {"text": "the output", "media": []},
        "content-1",
    )
    assert (
        decide_output(decision.state, output(), (consent(),), checked(), CAUSE).state is None
    )  # once per content


@pytest.mark.parametrize(
    ("consents", "text", "code"),
    [
        ((consent("withdrawn"),), "fine", "consent_withdrawn"),
        ((consent("expired"),), "fine", "consent_expired"),
        ((), "fine", "consent_missing"),
        ((consent(),), "demo-banned-term", "prohibited_content"),
        ((consent(),), "the river turned to wine last night", "known_rumour"),
    ],
)
def test_every_output_reason_code(consents: tuple[ConsentFacts, ...], text: str, code: str) -> None:
    decision = decide_output(approved_face_swap(), output(), consents, checked(text), CAUSE)
    assert the_type(decision) == "dsgov.output.blocked"
    assert reasons(decision) == [code]
    assert decision.emissions[0].output is None


def test_an_output_of_no_approved_request_is_blocked() -> None:
    for state in (None, decide(UserFacts("alice", False)).state):
        decision = decide_output(state, output(), (), checked(), CAUSE)
        assert reasons(decision) == ["no_approved_request"]


def test_a_request_arriving_after_an_output_of_it_is_still_decided() -> None:
    blocked = decide_output(None, output(), (), checked(), CAUSE)
    decision = decide(state=blocked.state)
    assert the_type(decision) == "dsgov.generation.approved"
    assert decision.state.outputs == {"content-1": "blocked"}
    assert decide_output(decision.state, output(), (), checked(), CAUSE).state is None  # decided once


def test_media_of_a_known_rumour_blocks_the_output() -> None:
    media = (MediaHashes("m", "CD" * 32),)
    decision = decide_output(approved_face_swap(), output(), (consent(),), checked("fine", media), CAUSE)
    assert reasons(decision) == ["known_rumour"]


# --- human review -------------------------------------------------------------------------------------


def reviewer(decision: str = "approve", role: str = "operator", item: str = "item-1") -> ReviewerDecision:
    return ReviewerDecision(item, decision, "looked at it", "rita", role)


def test_a_reviewer_approval_gives_the_final_decision_and_resolves_the_item() -> None:
    queued = decide(text="a demo-review-term story").state
    decision = decide_review(queued, reviewer(), ALICE, (), CAUSE)
    final, resolved = decision.emissions
    assert (final.type, final.reviewer, final.strike) == (
        "dsgov.generation.approved",
        ("rita", "operator"),
        False,
    )
    assert (resolved.type, resolved.item.outcome_type) == (
        "dsgov.review.resolved",
        "dsgov.generation.approved",
    )
    assert decision.state.items["item-1"].status == "approved"
    assert (
        decide_review(decision.state, reviewer("reject"), ALICE, (), CAUSE).note
        == "review_item_already_approved"
    )


def test_a_reviewer_rejection_is_a_strike() -> None:
    queued = decide(text="a demo-review-term story").state
    final, _ = decide_review(queued, reviewer("reject"), ALICE, (), CAUSE).emissions
    assert (final.type, final.strike, final.category) == ("dsgov.generation.rejected", True, "negative")
    assert [f.code for f in final.findings] == ["prohibited_content"]


def test_gates_are_checked_again_when_a_reviewer_approves() -> None:
    queued = decide(text="a demo-review-term story").state
    suspended = UserFacts("alice", True, Sanction("suspended", NOW + timedelta(days=1)))
    final, _ = decide_review(queued, reviewer(), suspended, (), CAUSE).emissions
    assert (final.type, [f.code for f in final.findings]) == (
        "dsgov.generation.rejected",
        ["user_sanctioned"],
    )


def test_an_output_item_carries_its_output_until_decided() -> None:
    queued = decide_output(
        approved_face_swap(),
        output(text="x demo-review-term"),
        (consent(),),
        checked("x demo-review-term"),
        CAUSE,
    )
    assert queued.state.outputs["content-1"] == "in_review"
    final, _ = decide_review(
        queued.state, reviewer(item="item-content-1"), ALICE, (consent("withdrawn"),), CAUSE
    ).emissions
    assert (final.type, final.output) == ("dsgov.output.blocked", None)  # the consent was withdrawn meanwhile
    decided = decide_review(queued.state, reviewer(item="item-content-1"), ALICE, (consent(),), CAUSE)
    assert decided.emissions[0].output == {"text": "x demo-review-term", "media": []}
    assert decided.state.items["item-content-1"].output is None


def test_unknown_items_and_viewers_change_nothing() -> None:
    queued = decide(text="a demo-review-term story").state
    assert decide_review(queued, reviewer(item="nope"), ALICE, (), CAUSE).note == "review_item_unknown"
    assert decide_review(None, reviewer(), ALICE, (), CAUSE).note == "review_item_unknown"
    assert decide_review(queued, reviewer(role="viewer"), ALICE, (), CAUSE).note == "reviewer_not_permitted"


# --- projections, rumours, tables -------------------------------------------------------------------


def test_the_identity_projection_keeps_the_newest_decision() -> None:
    newer = apply_identity(None, "p", "alice", "verified", NOW, "e2")
    assert apply_identity(newer, "p", "alice", "rejected", NOW - timedelta(hours=1), "e1") is None
    later = apply_identity(newer, "p", "alice", "rejected", NOW + timedelta(hours=1), "e3")
    assert later is not None
    assert later.identity is not None
    assert later.identity.status == "rejected"


def test_the_consent_projection_keeps_final_statuses_final() -> None:
    fields = ConsentGranted.model_validate(
        {
            "consent_id": "c",
            "subject_id": "s",
            "grantee_user_id": "g",
            "biometric_types": ["face"],
            "expires_at": NOW,
            "service_types": None,
        }
    )
    granted = apply_consent_event(None, "p", "granted", fields, "e1")
    assert apply_consent_event(granted, "p", "rejected", fields, "e2") is None  # a reused id's rejection
    withdrawn = apply_consent_event(granted, "p", "withdrawn", fields, "e3")
    assert apply_consent_event(withdrawn, "p", "granted", fields, "e4") is None
    assert consent_facts(withdrawn).status == "withdrawn"


def test_rumours_match_exactly_reworded_and_by_media() -> None:
    index = RumourIndex(
        [Rumour("r", "the river turned to wine last night", (ClaimMedia("ab" * 32, "00000000000000ff"),))]
    )
    assert [h.via for h in index.match_normalised("theriverturnedtowinelastnight")] == ["text"]
    reworded = index.match_normalised("lastnighttheriverturnedtowine")  # reordered
    assert [h.via for h in reworded] == ["text_reworded"]
    assert index.match_normalised("theriverisblue") == []
    hits = index.match_media([MediaHashes("m", "cd" * 32, "00000000000000fe")])
    assert [(h.via, h.where) for h in hits] == [("phash", "m")]
    short = RumourIndex([Rumour("s", "wine", ())])
    assert short.match_normalised("wine") == []  # too short to match on text


def test_every_service_type_is_classified_for_consent_and_labels() -> None:
    every = set(get_args(ServiceType))
    assert set(BIOMETRIC_NEEDS) == every
    assert set(LABEL_ITEMS) == every - {"other"}
    assert not label_required("other")
    assert set(REASONS) >= {
        "identity_unverified",
        "user_sanctioned",
        "biometric_subject_undeclared",
        "consent_missing",
        "consent_withdrawn",
        "consent_expired",
        "consent_scope",
        "prohibited_content",
        "known_rumour",
        "no_approved_request",
    }


# --- DS-14.2 media depicting a person, GA-10 minors, DS-10.1/DS-15.1 model (issue 14: 3, 5, 6) -----


def gated(
    gates: GatePolicy, *, user: UserFacts = ALICE, model: ModelVersion | None = None, **req: Any
) -> Any:
    cause = Cause(NOW, "p", "ev-1", "dec-1", "rules/1", gates=gates)
    return decide_input(None, request_with(model=model, **req), user, (consent(),), checked(), cause)


def request_with(
    service_type: str = "text_dialogue",
    subjects: tuple[str, ...] = (),
    depicts_person: bool = False,
    model: ModelVersion | None = None,
) -> InputRequest:
    return InputRequest("req-1", "alice", service_type, subjects, "item-1", depicts_person, model)


@pytest.mark.parametrize(
    "service_type", ["image_editing", "video_generation", "digital_human", "voice_synthesis"]
)
def test_ds_14_2_media_depicting_a_person_needs_declared_subjects_whatever_the_service_type(
    service_type: str,
) -> None:
    undeclared = gated(GatePolicy(), service_type=service_type, depicts_person=True)
    assert reasons(undeclared) == ["biometric_subject_undeclared"]
    assert undeclared.emissions[0].findings[0].detail == "input media depicts a person"
    assert article_for("biometric_subject_undeclared") == "DS-14.2"
    without_person = gated(GatePolicy(), service_type=service_type)
    assert the_type(without_person) == "dsgov.generation.approved"
    # declared, the subject's consent is checked as for any declared subject (it covers the face only)
    declared = gated(GatePolicy(), service_type=service_type, subjects=("bob",), depicts_person=True)
    if BIOMETRIC_NEEDS[service_type] <= {"face"}:
        assert the_type(declared) == "dsgov.generation.approved"
        assert declared.state.consent_ids == ("c-1",)
    else:
        assert reasons(declared) == ["consent_scope"]


def test_ds_14_2_the_service_types_that_always_need_subjects_are_configuration() -> None:
    custom = GatePolicy(subjects_required=frozenset({"voice_synthesis"}))
    assert reasons(gated(custom, service_type="voice_synthesis")) == ["biometric_subject_undeclared"]
    assert the_type(gated(custom, service_type="face_swap", subjects=("bob",))) == "dsgov.generation.approved"
    assert reasons(gated(GatePolicy(), service_type="face_swap")) == ["biometric_subject_undeclared"]
    assert the_type(gated(custom, service_type="face_swap")) == "dsgov.generation.approved"


@pytest.mark.parametrize(
    ("age_group", "service_type", "gates", "refused"),
    [
        ("under_14", "digital_human", GatePolicy(), True),
        ("14_to_17", "digital_human", GatePolicy(), True),
        ("adult", "digital_human", GatePolicy(), False),
        ("14_to_17", "text_dialogue", GatePolicy(), False),
        ("unknown", "digital_human", GatePolicy(), False),
        (None, "digital_human", GatePolicy(unknown_age_restricted=True), True),
        ("unknown", "digital_human", GatePolicy(unknown_age_restricted=True), True),
        ("14_to_17", "text_dialogue", GatePolicy(minor_restricted=frozenset({"text_dialogue"})), True),
        ("14_to_17", "digital_human", GatePolicy(minor_restricted=frozenset()), False),
    ],
)
def test_ga_10_configured_service_types_are_refused_to_minors(
    age_group: str | None, service_type: str, gates: GatePolicy, refused: bool
) -> None:
    user = UserFacts("alice", True, age_group=age_group)
    decision = gated(gates, user=user, service_type=service_type)
    if refused:
        assert reasons(decision) == ["minor_restricted"]
        assert article_for("minor_restricted") == "GA-10"
        assert decision.emissions[0].strike is False
    else:
        assert the_type(decision) == "dsgov.generation.approved"


def test_ds_10_1_and_ds_15_1_the_model_is_kept_in_every_decision_record_and_emission() -> None:
    model = ModelVersion(id="qwen-vl", version="2.5.1")
    approved = gated(GatePolicy(), model=model)
    assert approved.state.model == model
    assert approved.state.decisions[-1].model == model
    assert approved.emissions[0].model == model
    other = ModelVersion(id="qwen-vl", version="2.6.0")
    sub = OutputSubmission("req-1", "c-9", {"text": "out", "media": []}, "item-c-9", other)
    out = decide_output(approved.state, sub, (), checked("out"), CAUSE)
    assert out.emissions[0].model == other  # the output names the model that generated it
    assert out.state.decisions[-1].model == other
    fallback = decide_output(approved.state, output("c-10"), (), checked("out"), CAUSE)
    assert fallback.emissions[0].model == model  # else the request's model
    queued = decide(text="a demo-review-term story", model=model)
    final, _ = decide_review(queued.state, reviewer(), ALICE, (), CAUSE).emissions
    assert final.model == model
