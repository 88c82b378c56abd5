"""HTTP GET with a request timeout, retries with exponential backoff, and a progress bar.

Retried: HTTP 429 and 5xx, connection errors, timeouts (honouring `Retry-After` up to a cap).
Anything else (400, 403, 404, ...) fails at once. Every failure is a `FetchError` whose message
names the URL with any `key=` parameter redacted, so an API key never reaches a terminal or log.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

USER_AGENT = "tricloud-catalog/0.1 (+https://github.com/; python urllib)"
_KEY_RE = re.compile(r"(?i)([?&](?:key|api_key|apikey)=)[^&]*")


class FetchError(Exception):
    """A source could not be read (after retries) or answered in an unexpected format."""


def redact(url: str) -> str:
    return _KEY_RE.sub(r"\1REDACTED", url)


def shown(url: str, limit: int = 120) -> str:
    """The URL for a message: key redacted, a long query cut."""
    text = redact(url)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress:
    """A one-line progress bar on stderr; on a non-terminal only the final line is printed."""

    def __init__(self, label: str, total: float | None = None, unit: str = "", stream=None):
        self.label, self.total, self.unit = label, total, unit
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.done_count = 0.0
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0

    def _amount(self) -> str:
        if self.unit == "MB":
            done = f"{self.done_count / 1e6:.1f}"
            return f"{done}/{self.total / 1e6:.1f} MB" if self.total else f"{done} MB"
        done = f"{int(self.done_count)}"
        return f"{done}/{int(self.total)}{self.unit}" if self.total else f"{done}{self.unit}"

    def advance(self, n: float = 1) -> None:
        self.done_count += n
        now = time.monotonic()
        if self.live and now - self._last > 0.1:
            self._last = now
            bar = ""
            if self.total:
                filled = int(24 * min(1.0, self.done_count / self.total))
                bar = "[" + "#" * filled + "." * (24 - filled) + "] "
            self.stream.write(f"\r{self.label} {bar}{self._amount()}")
            self.stream.flush()

    def finish(self, note: str = "") -> None:
        line = f"{self.label}: {self._amount()}" + (f" {note}" if note else "")
        self.stream.write(f"\r{line}\x1b[K\n" if self.live else f"{line}\n")
        self.stream.flush()


@dataclass
class Http:
    timeout: float = 60.0  # seconds per request (connect and each read)
    retries: int = 4  # extra attempts after the first
    backoff: float = 1.0  # first delay; doubles per attempt
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    log: TextIO | None = None  # retry notices; stderr when None
    requests: int = field(default=0, init=False)  # attempts made (for reports and tests)

    def get(
        self, url: str, headers: dict[str, str] | None = None, progress: Progress | None = None
    ) -> bytes:
        attempt = 0
        while True:
            self.requests += 1
            req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
            retry_after = None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return self._read(resp, progress)
            except urllib.error.HTTPError as e:
                try:
                    body = e.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
                except (OSError, AttributeError):
                    body = ""
                if e.code != 429 and e.code < 500:
                    raise FetchError(f"{shown(url)}: HTTP {e.code} {e.reason}: {body}") from None
                reason = f"HTTP {e.code}"
                retry_after = _seconds(e.headers.get("Retry-After"))
            except TimeoutError:
                reason = f"no answer within {self.timeout:g} s"
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as e:
                cause = getattr(e, "reason", e)
                if isinstance(cause, TimeoutError):
                    reason = f"no answer within {self.timeout:g} s"
                else:
                    reason = f"connection failed ({cause})"
            if attempt >= self.retries:
                raise FetchError(
                    f"{shown(url)}: {reason}; gave up after {attempt + 1} attempt{'s' if attempt else ''}"
                )
            delay = min(self.max_delay, retry_after or self.backoff * 2**attempt)
            print(
                f"{shown(url)}: {reason}; retry {attempt + 1}/{self.retries} in {delay:g} s",
                file=self.log or sys.stderr,
            )
            self.sleep(delay)
            attempt += 1

    @staticmethod
    def _read(resp, progress: Progress | None) -> bytes:
        if progress is None:
            return resp.read()
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and progress.total is None:
            progress.total = int(length)
        chunks = []
        while chunk := resp.read(1 << 20):
            chunks.append(chunk)
            progress.advance(len(chunk))
        return b"".join(chunks)

    def get_json(self, url: str, headers=None, progress: Progress | None = None):
        data = self.get(url, headers, progress)
        try:
            return json.loads(data)
        except ValueError as e:
            raise FetchError(f"{shown(url)}: answer is not JSON ({e})") from None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
