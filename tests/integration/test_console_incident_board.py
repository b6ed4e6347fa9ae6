"""The console's incident board queries on the embedded store (CIR-4; issue 14).

The read models are written by the console's own route on the engine over the real store, then the
dashboard's queries (`$match` + `$count`, `$ne: null` + `$lte`, sorts on single indexed fields)
are read back: what the unit tests' in-memory twin computes must be what the store answers.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from services.console.adapters.incident_reports import MongoIncidentBoard
from services.console.domain.commands import SOURCE
from services.console.entrypoints.app import DEFINITION
from services.console.projections import Projections
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.storage.aggregates import AggregateStore

pytestmark = pytest.mark.integration

PROVIDER = "provider-test"
NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


def report_event(incident: str, sequence: int, stage: str, **extra: Any) -> dict[str, Any]:
    facts = {"incident_id": incident, "stage": stage, **extra.pop("facts", {})}
    data = {
        "report_id": f"rep-{incident}-{sequence}",
        "sequence": sequence,
        "category": "incident",
        "articles": ["CIR-4"],
        "occurred_at": (NOW - 6 * HOUR).isoformat(),
        "detected_at": (NOW - 6 * HOUR).isoformat(),
        "facts": facts,
        "severity": "major",
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
        "signature": "c2ln",
        "key_id": "k1",
        **extra,
    }
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "dsgov/regulator-reporting",
        "type": T.REPORT_SUBMITTED,
        "time": NOW.isoformat(),
        "subject": data["report_id"],
        "datacontenttype": "application/json",
        "providerid": PROVIDER,
        "data": data,
    }


async def test_the_board_queries_answer_on_the_embedded_store(stack: EmbeddedStack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri)
    try:
        collection = client[f"console_board_{uuid.uuid4().hex[:8]}"]["projections"]
        for index in DEFINITION.indexes:
            await collection.create_index([(f, 1) for f in index])
        store = AggregateStore(collection)
        config = EngineConfig(service="console", source=SOURCE, provider_ids=frozenset({PROVIDER}))
        engine = Engine(
            config, [r.bind(Projections(lambda: NOW)) for r in DEFINITION.routes], store, InMemoryPublisher()
        )
        events = [
            report_event("late", 1, "initial", due_at=(NOW - 2 * HOUR).isoformat(), late=True),
            report_event("soon", 2, "closure", facts={"summary_due_at": (NOW + HOUR / 3).isoformat()}),
            report_event("past", 3, "closure", facts={"summary_due_at": (NOW - HOUR / 6).isoformat()}),
            report_event("calm", 4, "closure", facts={"summary_due_at": (NOW + 9 * 24 * HOUR).isoformat()}),
            report_event("done", 5, "initial", due_at=(NOW + HOUR).isoformat(), late=False),
        ]
        records = [
            RawRecord(topics.REGULATOR_REPORTS, 0, n, e["subject"].encode(), json.dumps(e).encode())
            for n, e in enumerate(events)
        ]
        assert (await engine.process(records)).dead_letters == 0

        board = await MongoIncidentBoard(collection, PROVIDER).board(NOW)
        assert (board.late_count, [v.incident_id for v in board.late]) == (1, ["late"])
        assert (board.at_risk_count, [v.incident_id for v in board.at_risk]) == (2, ["past", "soon"])
        other = await MongoIncidentBoard(collection, "provider-other").board(NOW)
        assert (other.late_count, other.at_risk_count) == (0, 0)  # one provider's view
    finally:
        await client.close()
