"""Encryption of tokens at rest (Fernet, AES-128-CBC + HMAC-SHA256) with key rotation.

``TOKEN_ENCRYPTION_KEYS`` holds comma separated Fernet keys, newest first. New values are
encrypted with the first key; any listed key decrypts. To rotate: prepend a new key, deploy,
re-encrypt (``TokenCipher.rotate``), then drop the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class MissingKeyError(RuntimeError):
    pass


class TokenCipher:
    def __init__(self, keys: str) -> None:
        parts = [key.strip() for key in keys.split(",") if key.strip()]
        if not parts:
            raise MissingKeyError(
                "TOKEN_ENCRYPTION_KEYS is empty: set it to one or more Fernet keys "
                "(generate one with `fortbridge keys generate`)"
            )
        self._fernet = MultiFernet([Fernet(key.encode()) for key in parts])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken as exc:
            raise ValueError("token cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the newest key."""
        return self._fernet.rotate(bytes(ciphertext))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()
