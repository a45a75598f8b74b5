"""A local stand-in for Twilio's REST API that checks what the real client sends."""

import base64
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import support

SID = "AC" + "1" * 32
TOKEN = "test-auth-token-0123456789abcdef"
FROM = "+15005550006"


class FakeTwilio:
    """Serves POST /2010-04-01/Accounts/<sid>/Messages.json; asserts path and Basic auth, records forms."""

    def __init__(self, sid=SID, token=TOKEN, delay=0.0):
        self.sid, self.token, self.delay = sid, token, delay
        self.requests = []  # form dicts, in arrival order
        self.sids = []  # message SIDs handed out
        self.problems = []  # what a handler found wrong (asserted by the tests)
        self.reply = (201, None)  # status and Twilio error code for the next calls
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self):
        """Where TWILIO_API_BASE points."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.handle(self)

        return Handler

    def handle(self, req):
        """Check the request like Twilio would, then answer with the scripted reply."""
        body = req.rfile.read(int(req.headers.get("Content-Length", 0))).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        expected_auth = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if req.path != f"/2010-04-01/Accounts/{self.sid}/Messages.json":
            self.problems.append(f"path {req.path}")
        if req.headers.get("Authorization") != expected_auth:
            self.problems.append("auth")
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests.append(form)
            status, code = self.reply
        if status == 201:
            sid = "SM" + secrets.token_hex(16)
            with self.lock:
                self.sids.append(sid)
            payload = {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "account_sid": self.sid,
            }
        else:
            payload = {"code": code, "message": f"error {code}", "more_info": "", "status": status}
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def use_twilio(app, base_url, **over):
    """Switch an app to the Twilio backend pointed at a local server."""
    settings = dict(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM=FROM,
        TWILIO_MESSAGING_SERVICE_SID=None,
        TWILIO_API_BASE=base_url,
        SMS_TIMEOUT_SECONDS=3,
        PUBLIC_BASE_URL="https://portal.example.cn",
    )
    app.config.update(settings | over)


def closed_port_url():
    """A local URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def login_page_session(client, login, password):
    """Log in through the form (cookie session), as a resident on the phone would."""
    return support.login(client, login, password)


page_csrf = support.csrf  # the CSRF token of a page's forms
