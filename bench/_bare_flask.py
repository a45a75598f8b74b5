"""A bare Flask app with the gate's constant deny answer: the ceiling any Flask endpoint reaches on this server.

bench/gate_verify.py serves it with a second gunicorn with exactly the portal's settings (same flags,
same gunicorn.conf.py), so the verify call's ratio to it is what the portal's stack and the decision cost
together, not only the decision (the portal's own /bench/bare already carries its hooks).
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/bench/bare", methods=["GET", "POST"])
def bare():
    """The same constant JSON the portal's /bench/bare answers."""
    return jsonify({"decision": "deny", "reason": "unknown", "floors": []})
