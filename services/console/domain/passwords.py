"""Password policy and Argon2id hashing (argon2-cffi, RFC 9106 parameters by default)."""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024  # bounds the hashing work one request can cause
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class PolicyViolation(ValueError):
    """A username or password does not meet the policy; the message says why (never the value)."""


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    return raw.strip().lower()


def check_username(username: str) -> None:
    """3-64 characters: lower-case letters, digits, `.`, `_`, `-`, starting with a letter or digit."""
    if not USERNAME.fullmatch(username):
        raise PolicyViolation(
            "username must be 3-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )


def check_password(password: str, username: str) -> None:
    """At least 12 characters, at most 1024, and not the username."""
    if len(password) < MIN_LENGTH:
        raise PolicyViolation(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PolicyViolation(f"password must have at most {MAX_LENGTH} characters")
    if password.strip().lower() == username.lower():
        raise PolicyViolation("password must not be the username")


class Passwords:
    """Hashes and verifies passwords; parameters default to argon2-cffi's RFC 9106 low-memory profile."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        """Tests may pass a cheaper hasher; production uses the defaults."""
        self._hasher = hasher or PasswordHasher()

    def hash(self, password: str) -> str:
        """An encoded Argon2id hash (salt and parameters included)."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """True when `password` matches `encoded`.

        With no hash (unknown user) a dummy hash is verified anyway, so that response times do not
        reveal which usernames exist.
        """
        if len(password) > MAX_LENGTH:
            return False
        try:
            matched = self._hasher.verify(encoded or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and encoded is not None

    def needs_rehash(self, encoded: str) -> bool:
        """True when `encoded` was made with weaker parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(32))
