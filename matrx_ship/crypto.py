"""Encryption of secret values at rest with a key that is never stored with them."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"


class SecretBox:
    """Encrypts and decrypts strings with a Fernet key derived from the master key."""

    def __init__(self, master_key: str) -> None:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"matrx-ship v1").derive(
            master_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def encrypt(self, value: str) -> str:
        """Ciphertext of ``value``, prefixed so it is recognisable."""
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        """The plain value; raises ValueError when the key does not fit."""
        if not value.startswith(PREFIX):
            raise ValueError("not an encrypted value")
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: MATRX_MASTER_KEY does not match the data") from exc


def hash_token(token: str) -> str:
    """The stored form of a bearer token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return "msk_" + secrets.token_urlsafe(32)
