"""Pure domain of regulator reporting: incidents, report drafts and report building (no I/O)."""
