"""`faststream docs gen services.generation_review.entrypoints.asyncapi:app` (see `make docs`)."""

from services.generation_review.entrypoints.app import DEFINITION
from shared.messaging.asyncapi import asyncapi_app

app = asyncapi_app(DEFINITION)
