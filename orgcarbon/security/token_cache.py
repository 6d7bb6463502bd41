"""JWT access tokens verified once per process, not once per request.

A dashboard sends the same bearer token with every request; PyJWT's decoding (three passes over
the token, each checking it character by character, then the HMAC) was a tenth of a cached API
answer's CPU, and the request checks (``access.check_request``) verify it before FAB's
``protect`` verifies it again. ``VerifiedTokenJWTManager`` remembers the claims of tokens it has
verified, keyed by the exact token text and the verification options, and re-checks the time
claims (``exp``, ``nbf``, with the configured leeway) on every use: an expired token is decoded
afresh and refused exactly as before. Everything else flask-jwt-extended checks per request
(token type, blocklist, the user lookup) still runs per request. The signing key does not change
while the process runs, so a verdict on a given token text cannot change either.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

MAX_TOKENS = 2048


class VerifiedTokenJWTManager(JWTManager):
    """flask-jwt-extended's manager with a bounded per-process memory of verified tokens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verified: OrderedDict[tuple[str, Any, bool], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value: Any = None,
                                allow_expired: bool = False) -> dict[str, Any]:
        key = (encoded_token, csrf_value, allow_expired)
        with self._lock:
            claims = self._verified.get(key)
            if claims is not None:
                self._verified.move_to_end(key)
        if claims is None or not _times_valid(claims, allow_expired):
            claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
            with self._lock:
                self._verified[key] = claims
                while len(self._verified) > MAX_TOKENS:
                    self._verified.popitem(last=False)
        return dict(claims)  # callers keep it in ``g``; the remembered one stays untouched


def _times_valid(claims: dict[str, Any], allow_expired: bool) -> bool:
    """The time claims still hold now, as PyJWT would judge them."""
    now, leeway = time.time(), float(config.leeway)
    if not allow_expired and "exp" in claims and float(claims["exp"]) <= now - leeway:
        return False
    return not ("nbf" in claims and float(claims["nbf"]) > now + leeway)
