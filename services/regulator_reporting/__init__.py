"""regulator_reporting: the signed, hash-chained, gap-free report stream (DS-10.3, DS-11, GA-14)."""
