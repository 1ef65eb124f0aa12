#!/usr/bin/env python3
"""Check a ledger proof of the departure VAT refund platform, on your own machine.

Needs Python 3.10+ and the ``cryptography`` package, nothing else (no Django,
no access to the platform): an auditor saves two files from the API and runs

    python verify_proof.py PROOF.json --keys KEYS.json
    python verify_proof.py CONSISTENCY.json --keys KEYS.json [--trusted-head HEAD.json]

PROOF.json is ``GET /api/v1/ledger/proofs/forms/<number>/`` (or invoices/,
refunds/), CONSISTENCY.json is ``GET /api/v1/ledger/consistency/?first=&second=``
and KEYS.json is ``GET /api/v1/keys/`` (or give ``--public-key BASE64``). The key
inside a proof file is never trusted: only the one you pass.

For every entry of a proof it recomputes the payload digest and the entry hash
from the entry's content, checks the chain link to the previous entry, the
RFC 6962 §2.1.1 audit path from the entry's leaf to the head's Merkle root,
and the head's Ed25519 signature. For a consistency file it checks both heads'
signatures and the RFC 6962 §2.1.2 proof that the first tree is a prefix of
the second (the log only grew); with ``--trusted-head`` (a head you kept, as
JSON) the first head must be exactly that one.

Exit status: 0 when everything checks, 1 when something does not (each failure
is printed), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PROOF_FORMAT = "refund-ledger-proof/1"
CONSISTENCY_FORMAT = "refund-ledger-consistency/1"
HEAD_FIELDS_V1 = ("tree_size", "batch_size", "batch_root", "prev_head", "created_at")


class Unusable(Exception):
    """The input is not a proof file this script understands."""


def canonical_json(value: Any) -> bytes:
    """As the platform hashes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry_hash: bytes) -> bytes:
    return sha256(b"\x00" + entry_hash)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def unhex(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise Unusable(f"{what} is not hexadecimal") from None
    if len(raw) != 32:
        raise Unusable(f"{what} is not a SHA-256 hash")
    return raw


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
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
    """RFC 9162 §2.1.4.2."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:
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


def head_problems(head: dict[str, Any], key: Ed25519PublicKey) -> list[str]:
    """What is wrong with a signed head (empty: it is the platform's, as signed)."""
    version = head.get("version")
    if version != 2:
        return [f"head of size {head.get('tree_size')} has version {version!r}, not 2"]
    try:
        body = {name: head[name] for name in (*HEAD_FIELDS_V1, "root")}
        signature = base64.b64decode(head["signature"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise Unusable("a head lacks a signed field or its signature") from None
    message = b"ledger-head-v2\n" + canonical_json(body)
    problems = []
    if hashlib.sha256(message).hexdigest() != head.get("head_hash"):
        problems.append(f"head of size {head['tree_size']}: head hash does not match its fields")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        problems.append(f"head of size {head['tree_size']}: signature is not valid")
    return problems


def entry_problems(item: dict[str, Any], previous_hash: str | None) -> tuple[list[str], str]:
    """Check one entry's content, chain link and audit path; return problems and its hash."""
    content = item.get("entry")
    if not isinstance(content, dict):
        raise Unusable("an entry has no content")
    label = f"entry {content.get('record_type')}#{content.get('record_id')}.{content.get('seq')}"
    problems = []
    digest = hashlib.sha256(canonical_json(content.get("payload"))).hexdigest()
    if digest != content.get("payload_digest"):
        problems.append(f"{label}: payload does not match its digest")
    body = {k: v for k, v in content.items() if k != "payload"}
    entry_hash = hashlib.sha256(b"ledger-entry-v1\n" + canonical_json(body)).hexdigest()
    if entry_hash != item.get("entry_hash"):
        problems.append(f"{label}: entry hash does not match its content")
    if item.get("seq") != content.get("seq") or item.get("action") != content.get("action"):
        problems.append(f"{label}: summary fields differ from the content")
    if previous_hash is not None and content.get("prev_hash") != previous_hash:
        problems.append(f"{label}: not chained to the previous entry")
    head = item.get("head")
    if head is None:
        print(f"  {label}: not sealed yet (no signed head to check against)")
        return problems, entry_hash
    try:
        index, size = int(item["leaf_index"]), int(head["tree_size"])
        path = [unhex(p, "an audit path hash") for p in item["audit_path"]]
        root = unhex(head["root"], "a head root")
    except (KeyError, TypeError, ValueError):
        raise Unusable(f"{label}: leaf index, audit path or head root missing") from None
    leaf = leaf_hash(unhex(entry_hash, "an entry hash"))
    if not verify_inclusion(index, size, leaf, path, root):
        problems.append(f"{label}: not included in the head of size {size} (audit path fails)")
    return problems, entry_hash


def check_proof(data: dict[str, Any], key: Ed25519PublicKey) -> list[str]:
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise Unusable("the proof has no entries")
    problems: list[str] = []
    heads: dict[str, dict[str, Any]] = {}
    ordered = sorted(entries, key=lambda e: int(e.get("seq") or 0))
    # The first entry of a record links to nothing; a proof starting later is checked from there.
    previous: str | None = "" if ordered[0].get("seq") == 1 else None
    for item in ordered:
        found, previous = entry_problems(item, previous)
        problems += found
        if item.get("head"):
            heads[item["head"].get("head_hash", "")] = item["head"]
    for head in heads.values():
        problems += head_problems(head, key)
    record = data.get("record", {})
    print(
        f"record {record.get('type')}#{record.get('id')}: {len(entries)} entries,"
        f" {len(heads)} signed heads"
    )
    return problems


def check_consistency(
    data: dict[str, Any], key: Ed25519PublicKey, trusted: dict[str, Any] | None
) -> list[str]:
    try:
        first, second = data["first"], data["second"]
        proof = [unhex(p, "a consistency proof hash") for p in data["proof"]]
        m, n = int(first["tree_size"]), int(second["tree_size"])
        old_root, new_root = unhex(first["root"], "a root"), unhex(second["root"], "a root")
    except (KeyError, TypeError, ValueError):
        raise Unusable("not a consistency file") from None
    problems = head_problems(first, key) + head_problems(second, key)
    if trusted is not None and (
        trusted.get("head_hash") != first.get("head_hash") or trusted.get("root") != first["root"]
    ):
        problems.append("the first head is not the head you trusted")
    if not verify_consistency(m, n, old_root, new_root, proof):
        problems.append(f"the tree of size {n} does not extend the tree of size {m}")
    print(f"heads of size {m} and {n}: consistency proof of {len(proof)} hashes")
    return problems


def load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise Unusable(f"{path}: {exc}") from None


def load_key(args: argparse.Namespace) -> Ed25519PublicKey:
    text = args.public_key
    if text is None:
        keys = load_json(args.keys)
        text = keys.get("platform") if isinstance(keys, dict) else None
    try:
        raw = base64.b64decode(text or "", validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise Unusable("the public key is not a raw Ed25519 key in base64") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a saved proof or consistency reply (JSON)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--keys", help="the saved reply of GET /api/v1/keys/")
    source.add_argument("--public-key", help="the platform key: raw 32 bytes, base64")
    parser.add_argument("--trusted-head", help="a head you kept earlier (JSON), for consistency")
    args = parser.parse_args(argv)
    try:
        key = load_key(args)
        data = load_json(args.file)
        if not isinstance(data, dict):
            raise Unusable("not a JSON object")
        if data.get("public_key") not in (None, base64.b64encode(key.public_bytes_raw()).decode()):
            print("note: the file names another public key; checking with yours")
        if data.get("format") == PROOF_FORMAT:
            problems = check_proof(data, key)
        elif data.get("format") == CONSISTENCY_FORMAT:
            trusted = load_json(args.trusted_head) if args.trusted_head else None
            problems = check_consistency(data, key, trusted)
        else:
            raise Unusable(f"unknown format {data.get('format')!r}")
    except Unusable as exc:
        print(f"UNUSABLE: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print("OK: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
