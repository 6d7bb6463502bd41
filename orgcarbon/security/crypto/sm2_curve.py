"""SM2 elliptic-curve arithmetic in plain Python integers (GB/T 32918.1/.2/.4, GB/T 35276).

This is the project's own SM2 code path, independent of gmssl: it verifies gmssl's output in the
tests and is the faster backend (Jacobian coordinates, a fixed-base table for G, a 4-bit window
for other points). Like gmssl it is not constant-time; see docs/crypto.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .sm3 import sm3_digest

Affine = tuple[int, int]
Jacobian = tuple[int, int, int]
_INFINITY: Jacobian = (1, 1, 0)
_WINDOW = 4
_TABLE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Curve:
    """Short Weierstrass curve y² = x³ + ax + b over F_p with base point G of prime order n."""

    name: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    _g_table: list[list[Affine]] = field(default_factory=list, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Bytes per coordinate or scalar."""
        return (self.p.bit_length() + 7) // 8


# The recommended curve of GB/T 32918.5 (OpenSSL's "SM2", OID 1.2.156.10197.1.301).
SM2_P256 = Curve(
    name="sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)


def is_on_curve(c: Curve, pt: Affine) -> bool:
    """True when ``pt`` has coordinates in [0, p) and satisfies the curve equation."""
    x, y = pt
    if not (0 <= x < c.p and 0 <= y < c.p):
        return False
    return (y * y - (x * x * x + c.a * x + c.b)) % c.p == 0


def _double(c: Curve, pt: Jacobian) -> Jacobian:
    x, y, z = pt
    if z == 0 or y == 0:
        return _INFINITY
    p = c.p
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    # a = p - 3 on the SM2 curve lets 3x² + az⁴ factor as 3(x - z²)(x + z²): two fewer products.
    m = 3 * (x - zz) * (x + zz) % p if c.a == p - 3 else (3 * x * x + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p


def _add_affine(c: Curve, pt: Jacobian, q: Affine) -> Jacobian:
    """Mixed addition: Jacobian ``pt`` plus affine ``q`` (z = 1 saves four products)."""
    x1, y1, z1 = pt
    if z1 == 0:
        return q[0], q[1], 1
    p = c.p
    z1z1 = z1 * z1 % p
    h = (q[0] * z1z1 - x1) % p
    r = (q[1] * z1 * z1z1 - y1) % p
    if h == 0:
        return _double(c, pt) if r == 0 else _INFINITY
    hh = h * h % p
    hhh = h * hh % p
    v = x1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return x3, (r * (v - x3) - y1 * hhh) % p, z1 * h % p


def _add(c: Curve, pt: Jacobian, q: Jacobian) -> Jacobian:
    if q[2] == 0:
        return pt
    if pt[2] == 0:
        return q
    return _add_affine(c, pt, to_affine_unchecked(c, q))


def to_affine_unchecked(c: Curve, pt: Jacobian) -> Affine:
    """Affine coordinates of a finite Jacobian point."""
    x, y, z = pt
    zi = pow(z, -1, c.p)
    zi2 = zi * zi % c.p
    return x * zi2 % c.p, y * zi2 * zi % c.p


def _to_affine(c: Curve, pt: Jacobian) -> Affine | None:
    return None if pt[2] == 0 else to_affine_unchecked(c, pt)


def _g_table(c: Curve) -> list[list[Affine]]:
    """table[i][d - 1] = d·16^i·G, built once per curve: k·G becomes 64 additions, no doublings."""
    if c._g_table:
        return c._g_table
    with _TABLE_LOCK:  # two threads building at once would append the rows twice
        if c._g_table:
            return c._g_table
        rows: list[list[Affine]] = []
        base: Affine = (c.gx, c.gy)
        for _ in range((c.n.bit_length() + _WINDOW - 1) // _WINDOW):
            row: list[Affine] = [base]
            acc: Jacobian = (base[0], base[1], 1)
            for _d in range(2, 1 << _WINDOW):
                acc = _add_affine(c, acc, base)
                row.append(to_affine_unchecked(c, acc))
            rows.append(row)
            base = to_affine_unchecked(c, _add_affine(c, acc, base))  # 16·base
        c._g_table.extend(rows)  # frozen dataclass: the list itself is the mutable cache
    return c._g_table


def _mul_g_jacobian(c: Curve, k: int) -> Jacobian:
    table = _g_table(c)
    acc = _INFINITY
    i = 0
    while k:
        digit = k & 0xF
        if digit:
            acc = _add_affine(c, acc, table[i][digit - 1])
        k >>= _WINDOW
        i += 1
    return acc


def _mul_jacobian(c: Curve, k: int, pt: Affine) -> Jacobian:
    table: list[Affine] = [pt]
    acc: Jacobian = (pt[0], pt[1], 1)
    for _ in range(2, 1 << _WINDOW):
        acc = _add_affine(c, acc, pt)
        if acc[2] == 0:  # only for points of tiny order, which no valid key has
            raise ValueError("point of small order")
        table.append(to_affine_unchecked(c, acc))
    out = _INFINITY
    for shift in range(((k.bit_length() + 3) // 4) * 4 - 4, -4, -4):
        for _ in range(_WINDOW):
            out = _double(c, out)
        digit = (k >> shift) & 0xF
        if digit:
            out = _add_affine(c, out, table[digit - 1])
    return out


def mul_g(c: Curve, k: int) -> Affine | None:
    """k·G in affine coordinates, or None for the point at infinity."""
    return _to_affine(c, _mul_g_jacobian(c, k % c.n))


def mul(c: Curve, k: int, pt: Affine) -> Affine | None:
    """k·pt in affine coordinates, or None for the point at infinity."""
    return _to_affine(c, _mul_jacobian(c, k % c.n, pt))


def z_value(c: Curve, user_id: bytes, public: Affine) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5)."""
    entl = len(user_id) * 8
    if entl > 0xFFFF:
        raise ValueError("SM2 user ID is longer than 8191 bytes")
    size = c.size
    parts = [c.a, c.b, c.gx, c.gy, public[0], public[1]]
    return sm3_digest(
        entl.to_bytes(2, "big") + user_id + b"".join(v.to_bytes(size, "big") for v in parts)
    )


def message_digest(c: Curve, user_id: bytes, public: Affine, message: bytes) -> int:
    """e = SM3(Z_A || M) as an integer: what SM2 signs."""
    return int.from_bytes(sm3_digest(z_value(c, user_id, public) + message), "big")


def sign_e(c: Curve, d: int, e: int, k: int) -> tuple[int, int] | None:
    """One signing attempt with nonce ``k``; None when k must be redrawn (GB/T 32918.2 §6.1)."""
    point = mul_g(c, k)
    if point is None:
        return None
    r = (e + point[0]) % c.n
    if r == 0 or r + k == c.n:
        return None
    s = pow(1 + d, -1, c.n) * (k - r * d) % c.n
    return None if s == 0 else (r, s)


def verify_e(c: Curve, public: Affine, e: int, r: int, s: int) -> bool:
    """Verify (r, s) over digest integer ``e`` (GB/T 32918.2 §7.1), via s·G + t·P_A."""
    if not (0 < r < c.n and 0 < s < c.n):
        return False
    t = (r + s) % c.n
    if t == 0:
        return False
    point = _to_affine(c, _add(c, _mul_g_jacobian(c, s), _mul_jacobian(c, t, public)))
    return point is not None and (e + point[0]) % c.n == r


def kdf(z: bytes, length: int) -> bytes:
    """SM2 key derivation: SM3(Z || ct) for ct = 1, 2, … truncated to ``length`` bytes."""
    out = bytearray()
    counter = 1
    while len(out) < length:
        out += sm3_digest(z + counter.to_bytes(4, "big"))
        counter += 1
    return bytes(out[:length])
