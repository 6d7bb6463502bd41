"""A small HTTP session on the standard library, shaped like the part of ``requests`` pyodata uses.

pyodata only needs ``get(url)`` and ``request(method, url, headers=, params=, data=)`` returning an
object with ``status_code``, ``url``, ``headers``, ``content``, ``text`` and ``json()``. Writing
that here keeps ``requests`` out of the dependencies and lets the session own what SAP Gateway
needs: cookies, basic auth, a timeout on every call and the CSRF token for modifying requests.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.cookiejar import CookieJar
from typing import Any

__all__ = ["HttpResponse", "HttpSession"]

_MODIFYING = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})


@dataclass
class HttpResponse:
    """A finished response; ``headers`` look up names case-insensitively."""

    url: str
    status_code: int
    headers: Message
    content: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class HttpSession:
    """Cookies, auth, timeout and CSRF handling for one OData service root."""

    def __init__(
        self,
        service_url: str,
        *,
        username: str = "",
        password: str = "",
        timeout_s: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.service_url = service_url.rstrip("/") + "/"
        self.timeout_s = timeout_s
        self.headers: dict[str, str] = {"Accept": "application/json", **(headers or {})}
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.csrf_token: str | None = None
        self.csrf_fetches = 0  # how often a token was fetched; tests and logs read it

    def get(self, url: str, **kwargs: Any) -> HttpResponse:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        params: str | dict[str, str] | None = None,
        data: bytes | str | None = None,
    ) -> HttpResponse:
        """Send one request; modifying requests carry a CSRF token, refreshed once if it expired."""
        method = method.upper()
        if method in _MODIFYING and self.csrf_token is None:
            self.fetch_csrf_token()
        response = self._send(method, url, headers, params, data)
        if (
            method in _MODIFYING
            and response.status_code == 403
            and (response.headers.get("x-csrf-token") or "").lower() == "required"
        ):
            # Gateway tokens expire with the session; one refresh is normal, a loop is not.
            self.fetch_csrf_token()
            response = self._send(method, url, headers, params, data)
        return response

    def fetch_csrf_token(self) -> str:
        """Ask the service root for a token (``X-CSRF-Token: Fetch``) and keep it for writes."""
        response = self._send("GET", self.service_url, {"X-CSRF-Token": "Fetch"}, None, None)
        token = response.headers.get("x-csrf-token")
        self.csrf_fetches += 1
        if response.status_code >= 400 or not token:
            raise PermissionError(f"CSRF token fetch failed with HTTP {response.status_code}")
        self.csrf_token = token
        return token

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None,
        params: str | dict[str, str] | None,
        data: bytes | str | None,
    ) -> HttpResponse:
        if params:
            query = params if isinstance(params, str) else urllib.parse.urlencode(params)
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        merged = {**self.headers, **(headers or {})}
        if method in _MODIFYING and self.csrf_token:
            merged.setdefault("X-CSRF-Token", self.csrf_token)
        body = data.encode("utf-8") if isinstance(data, str) else data
        if body is not None:
            merged.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=body, headers=merged, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as raw:
                return HttpResponse(raw.geturl(), raw.status, raw.headers, raw.read())
        except urllib.error.HTTPError as exc:
            # 4xx/5xx are answers, not transport failures: pyodata inspects the status itself.
            with exc:
                return HttpResponse(url, exc.code, exc.headers, exc.read())

    def close(self) -> None:
        """Forget the token; the opener holds no open sockets between calls."""
        self.csrf_token = None
