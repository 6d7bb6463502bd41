"""Benchmark: SM3 and SM4-GCM throughput, SM2 sign+verify pairs/s (gmssl vs native), envelope cost.

Prints a readable summary and, as the last line, one JSON object with the measured figures.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from orgcarbon.security.crypto import (
    ClientCredentials,
    InMemoryNonceStore,
    generate_keypair,
    open_request,
    seal_request,
    sm2_sign,
    sm2_verify,
    sm3_digest,
    sm4_gcm_encrypt,
)
from orgcarbon.security.crypto.sm2 import Backend

MIB = 1 << 20


def rate(fn: Callable[[], object], min_seconds: float = 1.0) -> float:
    """Calls per second of ``fn``, timed for at least ``min_seconds``."""
    fn()  # warm-up (builds the fixed-base table once)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        fn()
        calls += 1
    return calls / elapsed


def batch_json(readings: int = 1000) -> bytes:
    """A realistic ingest batch: meter readings with ids, timestamps, values and units."""
    rows = [
        {
            "meter": f"PLANT-01/BF-{i % 12:02d}/M{i:04d}",
            "time": f"2025-03-01T{i % 24:02d}:{i % 60:02d}:00+08:00",
            "value": round(1234.5 + i * 0.37, 3),
            "unit": "Nm3",
            "quality": "good",
        }
        for i in range(readings)
    ]
    return json.dumps({"batch_id": "b-0001", "readings": rows}).encode()


def envelope_ms(body: bytes, backend: Backend, sm2_signed: bool) -> float:
    """Milliseconds to seal and open one batch (client and server work together)."""
    server, client = generate_keypair(), generate_keypair()
    secret = os.urandom(32)
    creds = ClientCredentials("c1", hmac_secret=secret, public_key=client.public_key)
    store = InMemoryNonceStore()
    signer = {"client_private_key": client.private_key} if sm2_signed else {"hmac_secret": secret}

    def round_trip() -> None:
        sealed = seal_request(
            method="POST",
            path="/api/v1/ingest",
            body=body,
            client_id="c1",
            server_public_key=server.public_key,
            key_id="s1",
            backend=backend,
            **signer,
        )
        opened = open_request(
            sealed.to_json(),
            method="POST",
            path="/api/v1/ingest",
            server_keys={"s1": server.private_key},
            credentials=lambda _: creds,
            nonce_store=store,
            backend=backend,
        )
        assert opened.body == body

    return 1000 / rate(round_trip, 1.5)


def main() -> None:
    data = os.urandom(4 * MIB)
    key = os.urandom(16)
    sm3_mb_s = rate(lambda: sm3_digest(data)) * 4
    gcm_mb_s = rate(lambda: sm4_gcm_encrypt(key, data)) * 4
    pair = generate_keypair()
    pairs: dict[str, float] = {}
    for backend in ("gmssl", "native"):
        b: Backend = backend

        def sign_verify(b: Backend = b) -> None:
            sig = sm2_sign(pair.private_key, b"report", public_key=pair.public_key, backend=b)
            assert sm2_verify(pair.public_key, b"report", sig, backend=b)

        pairs[backend] = rate(sign_verify, 2.0)
    body = batch_json()
    env = {
        "hmac_native": envelope_ms(body, "native", False),
        "sm2sig_native": envelope_ms(body, "native", True),
        "hmac_gmssl": envelope_ms(body, "gmssl", False),
    }
    print(f"SM3 (OpenSSL)          {sm3_mb_s:8.1f} MB/s")
    print(f"SM4-GCM (OpenSSL)      {gcm_mb_s:8.1f} MB/s")
    print(f"SM2 sign+verify gmssl  {pairs['gmssl']:8.1f} pairs/s")
    print(
        f"SM2 sign+verify native {pairs['native']:8.1f} pairs/s "
        f"({pairs['native'] / pairs['gmssl']:.1f}x)"
    )
    print(f"1,000-reading batch: {len(body):,} bytes JSON")
    for name, ms in env.items():
        print(f"  seal+open {name:14s} {ms:7.2f} ms  ({1000 / ms * 1000:,.0f} readings/s)")
    print(
        json.dumps(
            {
                "benchmark": "crypto",
                "sm3_mb_s": round(sm3_mb_s, 1),
                "sm4_gcm_mb_s": round(gcm_mb_s, 1),
                "sm2_pairs_s_gmssl": round(pairs["gmssl"], 1),
                "sm2_pairs_s_native": round(pairs["native"], 1),
                "batch_bytes": len(body),
                "seal_open_ms_hmac_native": round(env["hmac_native"], 2),
                "seal_open_ms_sm2sig_native": round(env["sm2sig_native"], 2),
                "seal_open_ms_hmac_gmssl": round(env["hmac_gmssl"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
