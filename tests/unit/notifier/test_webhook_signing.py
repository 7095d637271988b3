"""Webhook signatures: what receivers check."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from callstream_notifier.webhooks import compute_signature, verify_signature

SECRET = "whsec-test"
BODY = b'{"id":"evt-1","type":"conversation.analyzed"}'
NOW = 1_700_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, NOW, BODY) == f"v1={expected}"
    assert compute_signature(SecretStr(SECRET), str(NOW), BODY.decode()) == f"v1={expected}"


def test_good_signature_verifies() -> None:
    signature = compute_signature(SECRET, NOW, BODY)
    assert verify_signature(SECRET, str(NOW), BODY, signature, now=NOW + 10)
    assert verify_signature(SECRET.encode(), NOW, BODY, signature, now=NOW - 10)


def test_tampered_body_fails() -> None:
    signature = compute_signature(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, NOW, BODY.replace(b"evt-1", b"evt-2"), signature, now=NOW)


def test_wrong_secret_or_timestamp_fails() -> None:
    signature = compute_signature(SECRET, NOW, BODY)
    assert not verify_signature("other", NOW, BODY, signature, now=NOW)
    assert not verify_signature(SECRET, NOW + 1, BODY, signature, now=NOW)


def test_old_and_future_timestamps_fail() -> None:
    signature = compute_signature(SECRET, NOW, BODY)
    assert verify_signature(SECRET, NOW, BODY, signature, now=NOW + 300)
    assert not verify_signature(SECRET, NOW, BODY, signature, now=NOW + 301)
    assert not verify_signature(SECRET, NOW, BODY, signature, now=NOW - 301)
    assert verify_signature(SECRET, NOW, BODY, signature, now=NOW + 3600, tolerance=3600)


def test_malformed_inputs_fail_closed() -> None:
    signature = compute_signature(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, "not-a-number", BODY, signature, now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, signature.removeprefix("v1="), now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, "v0=" + signature[3:], now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, "", now=NOW)


def test_any_of_several_signatures_may_match() -> None:
    good = compute_signature(SECRET, NOW, BODY)
    old = compute_signature("previous-secret", NOW, BODY)
    assert verify_signature(SECRET, NOW, BODY, f"{old}, {good}", now=NOW)
