"""network_log: network logs and the audit trail, kept six months, sealed, exported for inspection."""
