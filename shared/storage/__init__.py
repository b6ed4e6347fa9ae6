"""MongoDB access: client factory, aggregate documents with their outbox, and the outbox relay."""
