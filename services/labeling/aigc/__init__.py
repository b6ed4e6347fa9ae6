"""A pure GB 45438 labeling library: the `AIGC` metadata label, its integrity data and file carriers.

No I/O beyond the bytes passed in; keys and time come from the caller. Used by the `labeling`
service (to issue labels) and by the `dsgov-label` CLI (to embed, inspect, verify and burn them).
"""
