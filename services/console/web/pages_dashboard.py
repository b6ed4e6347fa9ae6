"""The dashboard, counted from events.

Consents (DS-14.2), identities (DS-9), the review queue (DS-10.1), the feature library (DS-10.2) and
the last week's review decisions and sanctions (DS-10.3).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.library_view import ENTRY_STATUSES
from services.console.domain.projection import CONSENT_STATUSES
from services.console.domain.review_view import DECISION_TYPES, SANCTION_LEVELS, stats_key
from services.console.domain.roles import Permission, allows
from services.console.web.base import Guarded, deps_of, principal_of, render
from services.console.web.pages_library import library_url


async def home(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


async def dashboard(request: Request) -> Response:
    deps = deps_of(request)
    now = deps.clock()
    admin = allows(principal_of(request).user.role, Permission.ADMINISTER)
    # Requests waiting for a second person, as alerts (user changes only for admins, who act on them).
    pending = [a for a in await deps.pending.all() if a.kind == "library_disable" or admin]
    return await render(
        request,
        "dashboard.html",
        counts=await deps.read_model.counts(now),
        statuses=CONSENT_STATUSES,
        library=await deps.library.counts(),
        entry_statuses=ENTRY_STATUSES,
        review=await deps.reviews.counts(now),
        decision_keys=[stats_key(t) for t in DECISION_TYPES],
        sanction_levels=SANCTION_LEVELS,
        pending=pending,
        library_url=library_url,
        incidents=await deps.incidents.board(now),
        complaints=await deps.complaints.counts(),
    )


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/", Permission.READ)(home)
    r.get("/dashboard", Permission.READ)(dashboard)
