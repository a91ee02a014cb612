"""Tokens, passwords and revocation events: no server, no database."""
from __future__ import annotations

import os
import stat
import time

import pytest

from neutrino.identity.passwords import hash_password, verify_password
from neutrino.identity.tokens import (InvalidToken, TokenData, TokenSigner, load_keys,
                                      new_audit_id, now_us)
from neutrino.identity.validation import (EmbeddedValidator, Principal, Revocations,
                                          TokenCache, parse_time)


def data(**kw) -> TokenData:
    base = dict(user_id="u1", project_id="p1", domain_id=None, roles=("member", "reader"),
                issued_us=now_us(), expires_us=now_us() + 60_000_000, audit_id=new_audit_id())
    base.update(kw)
    return TokenData(**base)


def test_sign_and_verify_roundtrip(tmp_path):
    signer = TokenSigner(load_keys(str(tmp_path / "keys")))
    d = data()
    token = signer.issue(d)
    assert signer.verify(token) == d
    assert len(token) < 512


def test_key_file_is_private_and_reused(tmp_path):
    path = str(tmp_path / "sub" / "keys")
    keys = load_keys(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_keys(path) == keys


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],   # MAC
    lambda t: t.replace("n1.", "n1.x", 1),                         # payload
    lambda t: "n2" + t[2:],                                        # version
    lambda t: t + ".x", lambda t: "", lambda t: "garbage", lambda t: "a" * 10000,
])
def test_tampered_tokens_are_rejected(tmp_path, mangle):
    signer = TokenSigner(load_keys(str(tmp_path / "keys")))
    with pytest.raises(InvalidToken):
        signer.verify(mangle(signer.issue(data())))


def test_token_of_another_key_is_rejected(tmp_path):
    mine = TokenSigner(load_keys(str(tmp_path / "a")))
    theirs = TokenSigner(load_keys(str(tmp_path / "b")))
    with pytest.raises(InvalidToken, match="signature"):
        mine.verify(theirs.issue(data()))


def test_rotation_old_key_still_verifies(tmp_path):
    old = load_keys(str(tmp_path / "a"))
    new = load_keys(str(tmp_path / "b"))
    token = TokenSigner(old).issue(data())
    rotated = TokenSigner(new + old)
    assert rotated.verify(token).user_id == "u1"
    assert TokenSigner(new).verify(rotated.issue(data())).user_id == "u1"


def test_expired_token_is_rejected(tmp_path):
    signer = TokenSigner(load_keys(str(tmp_path / "keys")))
    token = signer.issue(data(expires_us=now_us() - 1))
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token)


def test_passwords_are_hashed_with_salt():
    h1, h2 = hash_password("s3cret"), hash_password("s3cret")
    assert h1 != h2 and "s3cret" not in h1 and h1.startswith("scrypt$")
    assert verify_password("s3cret", h1) and verify_password("s3cret", h2)
    assert not verify_password("S3cret", h1)
    assert not verify_password("s3cret", None)
    assert not verify_password("s3cret", "garbage")


def test_revocation_events():
    r = Revocations(None, 1, 3600)
    t = now_us()
    a = data(issued_us=t - 10)
    assert not r.revoked_data(a)
    r.apply(a.audit_id, None, None, t)                 # one token
    assert r.revoked_data(a)
    b = data(issued_us=t - 10)
    assert not r.revoked_data(b)
    r.apply(None, "u1", "p2", t)                       # u1 on another project
    assert not r.revoked_data(b)
    r.apply(None, "u1", "p1", t)                       # u1 on p1
    assert r.revoked_data(b)
    assert not r.revoked_data(data(issued_us=t + 1))   # issued afterwards
    r.apply(None, None, "p9", t)                       # a whole project
    assert r.revoked_data(data(project_id="p9", user_id="u7", issued_us=t - 1))
    r.apply(None, "u5", None, t)                       # a user everywhere
    assert r.revoked_data(data(user_id="u5", project_id=None, issued_us=t - 1))
    rescoped = data(issued_us=t + 5, parent_audit_id=a.audit_id)
    assert r.revoked_data(rescoped)                    # chain of a revoked token


def test_embedded_validator(tmp_path):
    signer = TokenSigner(load_keys(str(tmp_path / "keys")))
    v = EmbeddedValidator(signer, Revocations(None, 1, 3600))
    d = data(roles=("Member", "reader"))
    p = v.validate(signer.issue(d))
    assert (p.user_id, p.project_id, p.roles) == ("u1", "p1", frozenset({"member", "reader"}))
    assert v.accepts(p)
    v.revocations.apply(d.audit_id, None, None, now_us())
    assert not v.accepts(p)
    with pytest.raises(InvalidToken, match="revoked"):
        v.validate(signer.issue(d))


def test_token_cache_is_bounded_lru_and_expires():
    cache = TokenCache(3)
    far = time.time() + 60

    def p(until=far):
        return Principal("u", "p", frozenset(), until, until)
    for i in range(3):
        cache.put(f"t{i}", p())
    cache.get("t0")                     # t0 becomes the most recent
    cache.put("t3", p())
    assert cache.get("t1") is None and cache.get("t0") is not None and len(cache) == 3
    cache.put("old", p(time.time() - 1))
    assert cache.get("old") is None


def test_parse_keystone_times():
    assert parse_time("2026-11-26T14:51:30.000000Z") == parse_time("2026-11-26T14:51:30+00:00")
    assert parse_time("2026-11-26T14:51:30Z") - parse_time("2026-11-26T14:51:29.5Z") == 0.5
