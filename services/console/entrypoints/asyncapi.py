"""`faststream docs gen services.console.entrypoints.asyncapi:app` (see `make docs`)."""

from services.console.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
