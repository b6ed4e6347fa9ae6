"""`faststream docs gen services.regulator_reporting.entrypoints.asyncapi:app` (see `make docs`)."""

from services.regulator_reporting.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
