"""Staff recovery codes: 10 single-use codes shown once, stored hashed, accepted in place of a TOTP code."""

import base64
import re
import secrets

from sqlalchemy import delete, update

from portal.accounts.models import RecoveryCode
from portal.core.crypto import token_hash
from portal.core.timeutil import utcnow
from portal.extensions import db

COUNT = 10
_SHAPE = re.compile(r"^[a-z2-7]{12}$")


def _normal(code):
    return code.strip().lower().replace("-", "").replace(" ", "") if isinstance(code, str) else ""


def _hash(user_id, normal):
    # 60 random bits per code, bound to its user; the password and per-account throttling come first.
    return token_hash(f"recovery:{user_id}:{normal}")


def replace_codes(user):
    """Forget the user's codes and make 10 new ones; returns them as text, the only time they are seen."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    plain = []
    for _ in range(COUNT):
        normal = base64.b32encode(secrets.token_bytes(8)).decode().lower()[:12]
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(user.id, normal)))
        plain.append("-".join(normal[i : i + 4] for i in range(0, 12, 4)))
    db.session.flush()
    return plain


def forget_codes(user):
    """The user's codes stop working (their second factor was reset)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def use_code(user, code):
    """Spend one unused code of the user (conditional update: two racing logins cannot both use it)."""
    normal = _normal(code)
    if not _SHAPE.match(normal):
        return False
    res = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(user.id, normal),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return res.rowcount == 1


def remaining(user_ids):
    """user id -> unused codes left."""
    if not user_ids:
        return {}
    q = (
        db.select(RecoveryCode.user_id, db.func.count())
        .where(RecoveryCode.user_id.in_(user_ids), RecoveryCode.used_at.is_(None))
        .group_by(RecoveryCode.user_id)
    )
    return dict(db.session.execute(q).all())
