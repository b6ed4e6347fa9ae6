"""`faststream docs gen services.biometric_consent.entrypoints.asyncapi:app` (see `make docs`)."""

from services.biometric_consent.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
