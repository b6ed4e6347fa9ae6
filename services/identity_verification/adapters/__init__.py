"""Adapters of the identity service: they translate, nothing more."""
