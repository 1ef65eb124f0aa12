"""RFC 6962 Merkle tree hashes, audit paths (§2.1.1) and consistency proofs (§2.1.2).

Pure functions over lists of leaf hashes (``SHA-256(0x00 || entry_hash)``), no
database access. The ledger's signed heads (version 2) commit to the Merkle
Tree Hash of every sealed entry so far, in sealing order, so an auditor can
check one entry's inclusion and that a later head only appended to an earlier
one. ``scripts/verify_proof.py`` re-implements the verification side on its
own, standard library only, so an auditor need not trust this code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    """The leaf of a ledger entry: ``SHA-256(0x00 || entry_hash)``."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already-hashed leaves."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError("leaf index outside the tree")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*audit_path(index, leaves[:k]), tree_hash(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), tree_hash(leaves[:k])]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first ``first`` leaves is a prefix of ``leaves``."""
    if not 0 < first <= len(leaves):
        raise ValueError("the first tree must be non-empty and no larger than the second")
    return _subproof(first, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [tree_hash(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), tree_hash(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), tree_hash(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` take ``leaf`` at ``index`` to ``root`` of ``size``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``first`` leaves a prefix of the one of ``second``?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is itself a node
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- The frontier: the root of a growing tree in O(log n) state ----------------------

Frontier = list[tuple[int, bytes]]


def frontier_extend(frontier: Frontier, leaves: Iterable[bytes]) -> Frontier:
    """Append leaves to a frontier (the perfect subtrees of the tree, largest first)."""
    result = list(frontier)
    for leaf in leaves:
        result.append((1, leaf))
        while len(result) >= 2 and result[-1][0] == result[-2][0]:
            (size, left), (_, right) = result[-2], result[-1]
            result[-2:] = [(size * 2, node_hash(left, right))]
    return result


def frontier_root(frontier: Frontier) -> bytes:
    """MTH of the tree a frontier describes (RFC 6962 splits at the largest power of two)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1][1]
    for _, subtree in reversed(frontier[:-1]):
        root = node_hash(subtree, root)
    return root


def frontier_dump(frontier: Frontier) -> list[list[int | str]]:
    """JSON form: ``[[size, hex], ...]``."""
    return [[size, digest.hex()] for size, digest in frontier]


def frontier_load(data: Iterable[Sequence[int | str]]) -> Frontier:
    """Back from the JSON form."""
    return [(int(size), bytes.fromhex(str(digest))) for size, digest in data]
