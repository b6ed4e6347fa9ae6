"""Entry points of the rumour refutation service: the consumer, its AsyncAPI document and the CLI."""
