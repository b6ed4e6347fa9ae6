"""Adapters of the review service: they translate, nothing more."""
