"""Adapters of the consent service: they translate, nothing more."""
