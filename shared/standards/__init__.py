"""Pure checks defined by national standards (GB 11643, GB 32100, GB 11714, mobile numbering)."""
