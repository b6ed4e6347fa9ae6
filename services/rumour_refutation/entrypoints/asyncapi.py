"""`faststream docs gen services.rumour_refutation.entrypoints.asyncapi:app` (see `make docs`)."""

from services.rumour_refutation.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
