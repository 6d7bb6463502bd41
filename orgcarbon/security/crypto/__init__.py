"""SM2/SM3/SM4 for orgcarbon: pure Python on bytes and str, no Flask, no SQLAlchemy.

SM3 and SM4 run in OpenSSL through ``cryptography``; SM2 runs on gmssl (with its public-key bug
worked around) or on the project's own integer implementation. See docs/crypto.md.
"""

from __future__ import annotations

from .envelope import (
    ClientCredentials,
    OpenedRequest,
    SealedRequest,
    open_request,
    seal_request,
)
from .envelope_errors import EnvelopeError, EnvelopeErrorCode
from .fields import (
    FieldDecryptionError,
    KeyRing,
    decrypt_field,
    encrypt_field,
    needs_rotation,
    reencrypt_field,
)
from .masking import mask, mask_email, mask_id_number, mask_name, mask_phone, mask_secret
from .nonces import InMemoryNonceStore, NonceStore
from .signing import SignedDigest, sign_content, sign_digest, verify_signed_digest
from .sm2 import (
    DEFAULT_USER_ID,
    Sm2Error,
    Sm2KeyPair,
    generate_keypair,
    normalize_public_key,
    public_key_from_private,
)
from .sm2 import decrypt as sm2_decrypt
from .sm2 import encrypt as sm2_encrypt
from .sm2 import sign as sm2_sign
from .sm2 import verify as sm2_verify
from .sm3 import hmac_sm3, hmac_sm3_verify, sm3_digest, sm3_hex
from .sm4 import (
    Sm4DecryptionError,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

__all__ = [
    "DEFAULT_USER_ID",
    "ClientCredentials",
    "EnvelopeError",
    "EnvelopeErrorCode",
    "FieldDecryptionError",
    "InMemoryNonceStore",
    "KeyRing",
    "NonceStore",
    "OpenedRequest",
    "SealedRequest",
    "SignedDigest",
    "Sm2Error",
    "Sm2KeyPair",
    "Sm4DecryptionError",
    "decrypt_field",
    "encrypt_field",
    "generate_keypair",
    "hmac_sm3",
    "hmac_sm3_verify",
    "mask",
    "mask_email",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_secret",
    "needs_rotation",
    "normalize_public_key",
    "open_request",
    "public_key_from_private",
    "reencrypt_field",
    "seal_request",
    "sign_content",
    "sign_digest",
    "sm2_decrypt",
    "sm2_encrypt",
    "sm2_sign",
    "sm2_verify",
    "sm3_digest",
    "sm3_hex",
    "sm4_cbc_decrypt",
    "sm4_cbc_encrypt",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
    "verify_signed_digest",
]
