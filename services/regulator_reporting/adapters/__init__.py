"""Adapters of regulator reporting: the MongoDB report ledger and key store."""
