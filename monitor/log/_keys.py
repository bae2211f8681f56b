"""Ed25519 keys for signed checkpoints: make them, save them, load them safely.

The private key signs checkpoints of the log's head; the public key checks them. Keys live in
files outside the database, never in the log: whoever can write the log must not also be able
to forge its checkpoints. Keep the private key off the machine that holds the log when you can
(sign from elsewhere, or copy only the public key to the log's machine for verifying).

Files are PEM: PKCS#8 for the private key (unencrypted; its protection is the file mode, as
with ssh keys), SubjectPublicKeyInfo for the public one. `load_private_key` refuses a file that
its group or others may read, the way ssh refuses an exposed identity file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import ConfigError, SourceLocation

__all__ = [
    "KeyFileError",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "note_key_id",
    "public_key_bytes",
    "save_keypair",
]

#: The signed-note signature type byte for Ed25519 (c2sp.org/signed-note).
ED25519_TYPE = b"\x01"

KeySource = str | os.PathLike[str] | bytes


class KeyFileError(ConfigError):
    """A key file is missing, unreadable, too widely readable, or not an Ed25519 key."""


def generate_keypair() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    """Return a new Ed25519 key pair (private, public)."""
    private = Ed25519PrivateKey.generate()
    return private, private.public_key()


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of `public_key` (RFC 8032 encoding)."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte key id of `public_key` signing under key name `name`.

    As c2sp.org/signed-note recommends: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``.
    It identifies a key, it does not authenticate one: a verifier always checks the signature
    with the public key it was given, so a colliding id only yields a failed signature.
    """
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key_bytes(public_key)
    )
    return digest.digest()[:4]


def save_keypair(
    private_key: Ed25519PrivateKey,
    private_path: str | os.PathLike[str],
    public_path: str | os.PathLike[str],
) -> None:
    """Write `private_key` as a mode-0600 PEM file and its public key as a PEM file.

    Never overwrites: an existing file at either path raises `KeyFileError`, so a second
    `keygen` cannot silently destroy the key older checkpoints were signed with.
    """
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise KeyFileError(
                "a file already exists here; remove it or choose another path "
                "(checkpoints signed with the old key need its public key to verify)",
                source=SourceLocation(str(path)),
            )
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)


def _write_new(path: str | os.PathLike[str], data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise KeyFileError(
            f"cannot create: {exc.strerror}", source=SourceLocation(str(path))
        ) from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)  # the umask may have removed bits; never added any


def _read(source: KeySource) -> tuple[bytes, SourceLocation | None, int | None]:
    """Return the key bytes, where they came from, and the file's permission bits."""
    if isinstance(source, bytes):
        return source, None, None
    path = Path(source)
    where = SourceLocation(str(path))
    try:
        return path.read_bytes(), where, stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file: {exc.strerror}", source=where) from exc


def load_private_key(source: KeySource) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM file path, PEM bytes, or 32 raw bytes.

    Raises:
        KeyFileError: the file is missing, readable by group or others (fix: ``chmod 600``),
            encrypted, a public key, or not an Ed25519 key.
    """
    data, where, mode = _read(source)
    if where is None and len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    if b"PUBLIC KEY-----" in data:
        raise KeyFileError("this is a public key; signing needs the private key file", source=where)
    if where is not None and mode is not None and os.name == "posix" and mode & 0o077:
        raise KeyFileError(
            f"private key is readable by group or others (mode {mode:04o}); "
            f"run `chmod 600 {where.path}`",
            source=where,
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise KeyFileError(
            "the private key is encrypted; use an unencrypted PEM protected by `chmod 600`",
            source=where,
        ) from exc
    except ValueError as exc:
        raise KeyFileError(
            "not a PEM private key (make one with `monitor keygen`)", source=where
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            f"a {type(key).__name__.removeprefix('_')} key; checkpoints are signed with Ed25519 "
            "(make one with `monitor keygen`)",
            source=where,
        )
    return key


def load_public_key(source: KeySource) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a PEM file path, PEM bytes, or 32 raw bytes.

    Raises:
        KeyFileError: the file is missing, holds a private key (pass the public one: a
            verifier should never need the private key), or is not an Ed25519 public key.
    """
    data, where, _mode = _read(source)
    if where is None and len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(
            "this is a private key; verifying needs only the public key file (.pub)",
            source=where,
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(
            "not a PEM public key (make one with `monitor keygen`)", source=where
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(
            "not an Ed25519 public key; checkpoints are signed with Ed25519", source=where
        )
    return key
