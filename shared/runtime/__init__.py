"""dsgov package."""
