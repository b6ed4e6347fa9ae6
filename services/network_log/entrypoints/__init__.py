"""Entrypoints of the network log: the composition root, the AsyncAPI document, `dsgov-inspect`."""
