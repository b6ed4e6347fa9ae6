"""Where the `AIGC` label lives in each file format (LB-5.3: the format's own metadata structure)."""
