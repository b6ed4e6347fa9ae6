"""Password policy and Argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from services.console.domain.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    Passwords,
    PolicyViolation,
    check_password,
    check_username,
    normalize_username,
)
from tests.unit.console.fakes import cheap_passwords


def test_a_hash_verifies_its_password_and_nothing_else() -> None:
    passwords = cheap_passwords()
    encoded = passwords.hash("correct horse battery staple")

    assert encoded.startswith("$argon2id$")
    assert "correct horse" not in encoded
    assert passwords.verify(encoded, "correct horse battery staple")
    assert not passwords.verify(encoded, "correct horse battery stapl")
    assert not passwords.verify(encoded, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    passwords = cheap_passwords()
    first, second = passwords.hash("the same password"), passwords.hash("the same password")
    assert first != second
    assert passwords.verify(first, "the same password")
    assert passwords.verify(second, "the same password")


def test_an_unknown_user_never_verifies_and_garbage_hashes_are_refused() -> None:
    passwords = cheap_passwords()
    assert not passwords.verify(None, "anything at all here")
    assert not passwords.verify("not-a-hash", "anything at all here")
    assert not passwords.verify(passwords.hash("x" * 20), "x" * (MAX_LENGTH + 1))


def test_production_parameters_are_the_rfc_9106_defaults_and_weaker_hashes_need_a_rehash() -> None:
    production = Passwords()
    encoded = production.hash("correct horse battery staple")
    assert "$m=65536,t=3,p=4$" in encoded
    assert not production.needs_rehash(encoded)
    assert production.needs_rehash(cheap_passwords().hash("correct horse battery staple"))
    assert production.needs_rehash("garbage")


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("a" * (MIN_LENGTH - 1), False),
        ("a" * MIN_LENGTH, True),
        ("a" * MAX_LENGTH, True),
        ("a" * (MAX_LENGTH + 1), False),
        ("Alice-Example", False),  # the username, case-insensitively
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    if ok:
        check_password(password, "alice-example")
    else:
        with pytest.raises(PolicyViolation):
            check_password(password, "alice-example")


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("alice", True),
        ("  Alice.Ops ", True),
        ("ab", False),
        ("-alice", False),
        ("al ice", False),
        ("<b>", False),
    ],
)
def test_usernames_are_normalised_and_restricted(raw: str, ok: bool) -> None:
    name = normalize_username(raw)
    assert name == name.strip().lower()
    if ok:
        check_username(name)
    else:
        with pytest.raises(PolicyViolation):
            check_username(name)


def test_a_custom_hasher_is_used() -> None:
    passwords = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    assert "$m=2048,t=2,p=1$" in passwords.hash("correct horse battery staple")
