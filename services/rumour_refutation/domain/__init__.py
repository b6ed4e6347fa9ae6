"""Pure rumour-refutation rules: fingerprints, matching, and the state of contents, cases and reach."""
