"""RFC 6962 audit paths and consistency proofs, and the standalone verifier's own copy."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from core import merkle

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_proof.py"


def load_script():
    spec = importlib.util.spec_from_file_location("verify_proof", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(n)]


@pytest.mark.parametrize("n", range(1, 34))
def test_every_leaf_has_a_path_to_the_root_and_no_other(n):
    tree = leaves(n)
    root = merkle.tree_hash(tree)
    script = load_script()
    for index in range(n):
        path = merkle.audit_path(index, tree)
        assert merkle.verify_inclusion(index, n, tree[index], path, root)
        assert script.verify_inclusion(index, n, tree[index], path, root)
        if n > 1:
            other = (index + 1) % n
            assert not merkle.verify_inclusion(other, n, tree[index], path, root)
            assert not script.verify_inclusion(index, n, tree[other], path, root)


@pytest.mark.parametrize("n", range(1, 34))
def test_every_prefix_is_consistent_and_a_changed_one_is_not(n):
    tree = leaves(n)
    root = merkle.tree_hash(tree)
    script = load_script()
    for m in range(1, n + 1):
        proof = merkle.consistency_proof(m, tree)
        first = merkle.tree_hash(tree[:m])
        assert merkle.verify_consistency(m, n, first, root, proof)
        assert script.verify_consistency(m, n, first, root, proof)
        forged = merkle.tree_hash([b"\x00" * 32, *tree[1:m]])
        assert not merkle.verify_consistency(m, n, forged, root, proof)
        assert not script.verify_consistency(m, n, forged, root, proof)


def test_the_frontier_gives_the_same_root_as_the_whole_tree():
    tree = leaves(77)
    frontier: merkle.Frontier = []
    for start in range(0, 77, 10):  # batches, as seals add them
        frontier = merkle.frontier_extend(frontier, tree[start : start + 10])
        assert merkle.frontier_root(frontier) == merkle.tree_hash(tree[: start + 10])
    assert merkle.frontier_load(merkle.frontier_dump(frontier)) == frontier
