"""`faststream docs gen services.identity_verification.entrypoints.asyncapi:app` (see `make docs`)."""

from services.identity_verification.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
