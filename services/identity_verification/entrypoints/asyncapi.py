"""`faststream docs gen services.identity_verification.entrypoints.asyncapi:app` (see `make docs`)."""

from shared.messaging.asyncapi import asyncapi_app

from services.identity_verification.entrypoints.app import DEFINITION

app = asyncapi_app(DEFINITION)
