"""AWS Signature Version 4 for a GET request, with the standard library only.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from datetime import datetime


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _quote(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


def sign_get(
    url: str,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    now: datetime,
    session_token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers (x-amz-date, Authorization, optional token, plus `headers`) for GET `url`."""
    parts = urllib.parse.urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    all_headers = {"host": parts.netloc, "x-amz-date": amz_date}
    if session_token:
        all_headers["x-amz-security-token"] = session_token
    for k, v in (headers or {}).items():
        all_headers[k.lower()] = " ".join(v.strip().split())
    names = sorted(all_headers)
    query = sorted(
        (_quote(k), _quote(v))
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    canonical = "\n".join(
        [
            "GET",
            _quote_path(parts.path or "/"),
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{n}:{all_headers[n]}\n" for n in names),
            ";".join(names),
            all_headers.get("x-amz-content-sha256", hashlib.sha256(b"").hexdigest()),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in all_headers.items() if k != "host"}
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


def _quote_path(path: str) -> str:
    return urllib.parse.quote(path, safe="/-_.~")
