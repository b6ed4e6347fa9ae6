"""`faststream docs gen services.complaints.entrypoints.asyncapi:app` (see `make docs`)."""

from services.complaints.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
