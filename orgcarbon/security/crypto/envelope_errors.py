"""Stable error codes of the API envelope, each with a Chinese message and an HTTP status."""

from __future__ import annotations

from enum import StrEnum


class EnvelopeErrorCode(StrEnum):
    """Why a sealed request was refused; the values are part of the public API (never rename)."""

    MALFORMED = "envelope_malformed"
    UNKNOWN_CLIENT = "envelope_unknown_client"
    STALE_TIMESTAMP = "envelope_stale_timestamp"
    WRONG_KEY = "envelope_wrong_key"
    TAMPERED = "envelope_tampered"
    BAD_SIGNATURE = "envelope_bad_signature"
    REPLAYED_NONCE = "envelope_replayed_nonce"


MESSAGES: dict[EnvelopeErrorCode, str] = {
    EnvelopeErrorCode.MALFORMED: "加密报文格式错误或版本不受支持",
    EnvelopeErrorCode.UNKNOWN_CLIENT: "未知或已停用的接口客户端",
    EnvelopeErrorCode.STALE_TIMESTAMP: "请求时间戳超出允许的时间偏差，请校准时钟后重试",
    EnvelopeErrorCode.WRONG_KEY: "会话密钥无法解开：服务器公钥错误或密钥已轮换",
    EnvelopeErrorCode.TAMPERED: "报文密文或请求头已被篡改",
    EnvelopeErrorCode.BAD_SIGNATURE: "签名验证失败",
    EnvelopeErrorCode.REPLAYED_NONCE: "随机数已被使用，疑似重放请求",
}

HTTP_STATUS: dict[EnvelopeErrorCode, int] = {
    EnvelopeErrorCode.MALFORMED: 400,
    EnvelopeErrorCode.UNKNOWN_CLIENT: 401,
    EnvelopeErrorCode.STALE_TIMESTAMP: 401,
    EnvelopeErrorCode.WRONG_KEY: 400,
    EnvelopeErrorCode.TAMPERED: 400,
    EnvelopeErrorCode.BAD_SIGNATURE: 401,
    EnvelopeErrorCode.REPLAYED_NONCE: 409,
}


class EnvelopeError(Exception):
    """A refused envelope: ``code`` for clients and logs, ``message`` (Chinese) for people."""

    def __init__(self, code: EnvelopeErrorCode, detail: str = "") -> None:
        self.code = code
        self.message = MESSAGES[code]
        self.http_status = HTTP_STATUS[code]
        # ``detail`` is English, for the interface log only; never send it to the client.
        self.detail = detail
        super().__init__(f"{code.value}: {self.message}" + (f" ({detail})" if detail else ""))

    def to_response(self) -> dict[str, str]:
        """The JSON body to return to the client: code and Chinese message, no internals."""
        return {"error": self.code.value, "message": self.message}
