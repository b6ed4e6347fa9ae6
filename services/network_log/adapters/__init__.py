"""Adapters of the network log: the Mongo store and the cipher; they translate, nothing more."""
