"""RFC 6962 / RFC 9162 Merkle trees over SHA-256, from the maintained `pymerkle` library.

Leaves are hashed `SHA-256(0x00 || data)` and nodes `SHA-256(0x01 || left || right)`; the tree
shape splits at the largest power of two below the size (RFC 6962 §2.1). Proofs are pymerkle's
JSON form (`{"type", "metadata", "rule", "path"}`); `path[0]` is the leaf (or prior root) itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pymerkle import ConsistencyProof, InclusionProof, MerkleProof, verify_consistency, verify_inclusion
from pymerkle.core import BaseMerkleTree


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash of `data`."""
    return hashlib.sha256(b"\x00" + data).digest()


class _LeafHashes(BaseMerkleTree):  # type: ignore[misc]  # pymerkle ships no type information
    """A pymerkle backend over leaf hashes computed elsewhere (the records are not kept here)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        super().__init__("sha256", disable_cache=True)
        self._digests = list(leaves)
        self._roots: dict[tuple[int, int], bytes] = {}
        self._uncached_root = super()._get_root

    def _get_root(self, start: int, end: int) -> bytes:
        # Proofs for every leaf of one tree share their subtrees: remember each subtree root once
        # (at most 2n of them) instead of rehashing it for every proof.
        key = (start, end)
        root = self._roots.get(key)
        if root is None:
            root = self._roots[key] = self._uncached_root(start, end)
        return root

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        self._digests.append(digest)
        return len(self._digests)

    def _get_leaf(self, index: int) -> bytes:
        return self._digests[index - 1]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        return self._digests[offset : offset + width]

    def _get_size(self) -> int:
        return len(self._digests)


class Tree:
    """A Merkle tree over given leaf hashes: its root and proofs (indexes count from zero here)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        """Build over `leaves` (already leaf-hashed, in log order)."""
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        self._tree = _LeafHashes(leaves)
        self.size = len(leaves)

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first `size` leaves (all by default)."""
        digest: bytes = self._tree.get_root(size or self.size)
        return digest

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        """Proof that leaf `index` is in the tree of the first `size` leaves."""
        proof: dict[str, Any] = self._tree.prove_inclusion(index + 1, size or self.size).serialize()
        return proof

    def consistency(self, prior_size: int, size: int | None = None) -> dict[str, Any]:
        """Proof that the tree of `prior_size` leaves is a prefix of the tree of `size` leaves."""
        proof: dict[str, Any] = self._tree.prove_consistency(prior_size, size or self.size).serialize()
        return proof


def included(leaf: bytes, root: bytes, proof: dict[str, Any], *, index: int, size: int) -> bool:
    """True when `proof` shows `leaf` at `index` (from zero) in the tree of `size` leaves with `root`."""
    try:
        parsed = MerkleProof.deserialize(proof)
        if not isinstance(parsed, InclusionProof):
            return False
        verify_inclusion(leaf, root, parsed, index=index + 1, size=size)
    except Exception:  # any malformed or failing proof is simply not a proof
        return False
    return True


def consistent(prior_root: bytes, root: bytes, proof: dict[str, Any], *, prior_size: int, size: int) -> bool:
    """True when `proof` shows the tree (`prior_size`, `prior_root`) is a prefix of (`size`, `root`)."""
    if prior_size == size:
        return prior_root == root
    try:
        parsed = MerkleProof.deserialize(proof)
        if not isinstance(parsed, ConsistencyProof):
            return False
        verify_consistency(prior_root, root, parsed, prior_size=prior_size, later_size=size)
    except Exception:
        return False
    return True
