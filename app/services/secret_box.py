"""Webhook signing secrets encrypted at rest (AES-256-GCM).

HMAC signing needs the secret itself, so it cannot be hashed like a password; it is kept
encrypted under a 256-bit key held in a file outside the database
(`THROUGHCARE_WEBHOOK_SECRET_KEY_PATH`, created 0600 on first use like the token signing
key). A copy of the database alone does not give the secrets away. Each ciphertext is
bound to its subscription and column (associated data), so a value copied to another row
does not decrypt. Stored form: `enc:v1:<base64url(12-byte nonce + ciphertext + tag)>`.

Replacing the key: point `THROUGHCARE_WEBHOOK_SECRET_KEY_PATH` at a new file and list the
old one in `THROUGHCARE_WEBHOOK_SECRET_PREVIOUS_KEY_PATHS`; reading tries the current key,
then the previous ones (an AES-GCM tag tells a wrong key at once), and every write uses the
current key. `throughcare webhooks reencrypt` then rewrites every stored secret under the
current key (`reencrypt_all`), after which the old file can be retired.
"""

import base64
import os
import uuid
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.settings import get_settings

PREFIX = "enc:v1:"
_KEY_BYTES = 32


class SecretUnreadable(Exception):
    """A stored secret that does not decrypt under the key (wrong key file, or tampered)."""


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key at `path` (raw bytes), created with mode 0600 if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use that one
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(AESGCM.generate_key(bit_length=256))
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path} is not a {_KEY_BYTES}-byte webhook secret key")
    return key


@lru_cache
def _key_at(path: str) -> bytes:
    return load_or_create_key(Path(path))


def _key() -> bytes:
    return _key_at(str(get_settings().webhook_secret_key_path))


def _read_keys() -> list[bytes]:
    """The current key, then the previous ones (which must exist: never created here)."""
    settings = get_settings()
    keys = [_key()]
    for path in settings.webhook_secret_previous_key_paths:
        keys.append(_previous_key_at(str(path)))
    return keys


@lru_cache
def _previous_key_at(path: str) -> bytes:
    key = Path(path).read_bytes()
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path} is not a {_KEY_BYTES}-byte webhook secret key")
    return key


def _aad(row_id: uuid.UUID, column: str) -> bytes:
    return f"webhook_subscriptions:{row_id}:{column}".encode()


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def encrypt(secret: str, row_id: uuid.UUID, column: str, key: bytes | None = None) -> str:
    """The stored form of a `whsec_` secret for this row and column."""
    nonce = os.urandom(12)
    sealed = AESGCM(key or _key()).encrypt(nonce, secret.encode(), _aad(row_id, column))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(stored: str, row_id: uuid.UUID, column: str, key: bytes | None = None) -> str:
    """The secret back from its stored form (SecretUnreadable if it does not decrypt)."""
    if not is_encrypted(stored):
        raise SecretUnreadable("the stored secret is not in the encrypted form")
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix(PREFIX))
    except ValueError as exc:
        raise SecretUnreadable("the stored secret is not in the encrypted form") from exc
    for candidate in [key] if key is not None else _read_keys():
        try:
            plain = AESGCM(candidate).decrypt(raw[:12], raw[12:], _aad(row_id, column))
        except (InvalidTag, ValueError):
            continue
        return plain.decode()
    raise SecretUnreadable("the stored secret does not decrypt under the key")


def under_current_key(stored: str, row_id: uuid.UUID, column: str) -> bool:
    """Whether a stored secret already decrypts under the current key."""
    try:
        decrypt(stored, row_id, column, _key())
    except SecretUnreadable:
        return False
    return True


def reencrypt(stored: str, row_id: uuid.UUID, column: str) -> str | None:
    """The stored form under the current key, or None when it is already under it.
    SecretUnreadable when no configured key opens it."""
    if under_current_key(stored, row_id, column):
        return None
    return encrypt(decrypt(stored, row_id, column), row_id, column)
