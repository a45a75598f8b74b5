"""Server side of HTTP Digest authentication (RFC 7616, MD5 and SHA-256, qop=auth) for the ISAPI fake."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestGuard:
    """Issues nonces and checks Authorization headers the way an ISAPI device does."""

    def __init__(self, username: str, password: str, realm: str, algorithm: str = "MD5"):
        self.username, self.password, self.realm, self.algorithm = username, password, realm, algorithm
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()
        self.failures = 0

    def challenge(self) -> str:
        """A WWW-Authenticate header value with a fresh nonce."""
        nonce = secrets.token_hex(16)
        with self._lock:
            self._nonces[nonce] = 0
        return f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", algorithm={self.algorithm}, stale=FALSE'

    def check(self, method: str, uri: str, header: str | None) -> bool:
        """True when the header proves the password for this request."""
        if not header or not header.startswith("Digest "):
            return False
        params = {k: a or b for k, a, b in _PARAM.findall(header[7:])}
        digest = _HASHES.get(params.get("algorithm", "MD5").upper().replace("SHA256", "SHA-256"))
        nonce = params.get("nonce", "")
        if digest is None or params.get("username") != self.username or params.get("uri") != uri:
            self.failures += 1
            return False

        def h(text: str) -> str:
            return digest(text.encode()).hexdigest()

        ha1 = h(f"{self.username}:{self.realm}:{self.password}")
        ha2 = h(f"{method}:{uri}")
        if params.get("qop") == "auth":
            expected = h(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = h(f"{ha1}:{nonce}:{ha2}")
        with self._lock:
            known = nonce in self._nonces
            count = int(params.get("nc", "0"), 16) if params.get("qop") == "auth" else 0
            # A replayed nonce count is refused, like a device would.
            fresh = known and (count == 0 or count > self._nonces[nonce])
            if fresh and hmac.compare_digest(expected, params.get("response", "")):
                self._nonces[nonce] = count
                return True
        self.failures += 1
        return False
