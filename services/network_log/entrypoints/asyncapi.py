"""`faststream docs gen services.network_log.entrypoints.asyncapi:app` (see `make docs`)."""

from services.network_log.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
