"""The pure domain of `network_log`: log records, segments, Merkle trees, checkpoints, retention."""
