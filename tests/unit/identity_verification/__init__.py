"""Unit tests for the identity verification service."""
