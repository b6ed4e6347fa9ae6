"""`faststream docs gen services.labeling.entrypoints.asyncapi:app` (see `make docs`)."""

from services.labeling.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
