"""Entry points of regulator reporting: the service, its AsyncAPI document and the admin commands."""
