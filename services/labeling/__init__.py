"""Labeling: GB 45438 implicit and explicit labels, the label ledger and file tools (DS-16..18, LB-4..9)."""
