"""The admins' web console: read models built from events, actions sent as commands (DS-14.2, PI-15)."""
