"""Adapters of the rumour refutation service: they translate, nothing more."""
