"""SM3, SM4 and SM2 against the published examples of GB/T 32905, GB/T 32907 and GB/T 32918."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm3 as gmssl_sm3
from gmssl import sm4 as gmssl_sm4

from orgcarbon.security.crypto import sm2, sm2_curve
from orgcarbon.security.crypto.sm3 import hmac_sm3, sm3_digest, sm3_hex
from orgcarbon.security.crypto.sm4 import sm4_cbc_encrypt, sm4_ecb_encrypt_block

# GB/T 32918 parts 2 and 4, Annex A: the 256-bit example curve (not the recommended one).
EXAMPLE_CURVE = sm2_curve.Curve(
    name="gbt32918-example-fp256",
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)
# GB/T 32918.5 Annex A/C (= GM/T 0003.5-2012): the recommended curve, default user ID.
REC_D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
REC_PUB = (
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
REC_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
REC_SIG = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


def test_sm3_abc_matches_gbt32905_example_1() -> None:
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_64_byte_message_matches_gbt32905_example_2() -> None:
    digest = sm3_hex(b"abcd" * 16)
    assert digest == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_agrees_with_gmssl_pure_python() -> None:
    for data in (b"", b"a", b"x" * 55, b"y" * 64, bytes(range(256))):
        assert sm3_hex(data) == gmssl_sm3.sm3_hash(list(data))


def test_hmac_sm3_is_rfc2104_over_sm3() -> None:
    """Checked against HMAC built by hand from SM3 (64-byte block), short and long keys."""
    for key in (b"key", b"k" * 100):
        block = sm3_digest(key) if len(key) > 64 else key
        block = block.ljust(64, b"\x00")
        inner = sm3_digest(bytes(b ^ 0x36 for b in block) + b"message")
        expected = sm3_digest(bytes(b ^ 0x5C for b in block) + inner)
        assert hmac_sm3(key, b"message") == expected
    with pytest.raises(ValueError):
        hmac_sm3(b"", b"message")


SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_single_block_matches_gbt32907_example_1() -> None:
    assert sm4_ecb_encrypt_block(SM4_KEY, SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


@pytest.mark.slow
def test_sm4_million_encryptions_match_gbt32907_example_2() -> None:
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_cbc_matches_gmssl_ciphertext() -> None:
    iv = bytes(range(16))
    data = "组织碳排放 2024".encode() * 3
    ours = sm4_cbc_encrypt(SM4_KEY, data, iv)
    crypt = gmssl_sm4.CryptSM4()
    crypt.set_key(SM4_KEY, gmssl_sm4.SM4_ENCRYPT)
    assert ours == iv + crypt.crypt_cbc(iv, data)


def test_sm2_example_curve_signature_matches_gbt32918_2() -> None:
    d = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
    public = sm2_curve.mul_g(EXAMPLE_CURVE, d)
    assert public == (
        0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
        0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    )
    user_id = b"ALICE123@YAHOO.COM"
    z = sm2_curve.z_value(EXAMPLE_CURVE, user_id, public)
    assert z.hex() == "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
    e = sm2_curve.message_digest(EXAMPLE_CURVE, user_id, public, b"message digest")
    assert e == 0xB524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76
    k = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
    assert sm2_curve.sign_e(EXAMPLE_CURVE, d, e, k) == (
        0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1,
        0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7,
    )


def test_sm2_example_curve_encryption_matches_gbt32918_4() -> None:
    c = EXAMPLE_CURVE
    d = 0x1649AB77A00637BD5E2EFE283FBF353534AA7F7CB89463F208DDBC2920BB0DA0
    public = sm2_curve.mul_g(c, d)
    assert public is not None and public[0] == (
        0x435B39CCA8F3B508C1488AFC67BE491A0F7BA07E581A0E4849A5CF70628A7E0A
    )
    k = 0x4C62EEFD6ECFC2B95B92FD6C3D9575148AFA17425546D49018E5388D49DD7B4F
    c1, shared = sm2_curve.mul_g(c, k), sm2_curve.mul(c, k, public)
    assert c1 == (
        0x245C26FB68B1DDDDB12C4B6BF9F2B6D5FE60A383B0D18D1C4144ABF17F6252E7,
        0x76CB9264C2A7E88E52B19903FDC47378F605E36811F5C07423A24B84400F01B8,
    )
    assert shared is not None and shared == sm2_curve.mul(c, d, c1)
    x2, y2 = (v.to_bytes(32, "big") for v in shared)
    message = b"encryption standard"
    c2 = bytes(m ^ t for m, t in zip(message, sm2_curve.kdf(x2 + y2, len(message)), strict=True))
    assert c2.hex() == "650053a89b41c418b0c3aad00d886c00286467"
    c3 = sm3_digest(x2 + message + y2)
    assert c3.hex() == "9c3d7360c30156fab7c80a0276712da9d8094a634b766d3a285e07480653426d"


@pytest.mark.parametrize("backend", ["gmssl", "native"])
def test_sm2_recommended_curve_signature_matches_gbt32918_5(backend: sm2.Backend) -> None:
    assert sm2.public_key_from_private(REC_D) == REC_PUB.lower()
    e = sm2.digest_to_sign(REC_PUB, b"message digest")
    assert e.hex() == "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
    assert sm2.verify(REC_PUB, b"message digest", REC_SIG, backend=backend)
    assert not sm2.verify(REC_PUB, b"message digest!", REC_SIG, backend=backend)
    # The same nonce through gmssl's own sign() reproduces the published (r, s).
    crypt = sm2.gmssl_crypt(REC_D, REC_PUB)
    assert bytes.fromhex(crypt.sign(e, f"{REC_K:064x}")) == REC_SIG


@pytest.mark.parametrize("backend", ["gmssl", "native"])
def test_sm2_recommended_curve_encryption_matches_gm_t_0003_5(backend: sm2.Backend) -> None:
    ciphertext = sm2.encrypt(REC_PUB, b"encryption standard", k=REC_K, backend=backend)
    assert ciphertext.hex() == (
        "04"
        "04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"
        "e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
        "59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766"
        "21886ca989ca9c7d58087307ca93092d651efa"
    )
    assert sm2.decrypt(REC_D, ciphertext, backend=backend) == b"encryption standard"
