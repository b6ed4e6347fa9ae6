"""Rumour refutation (DS-11): find every output carrying a rumour and reach everyone who received it."""
