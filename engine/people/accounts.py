"""Staff accounts: passwords (argon2) and signing in."""

from __future__ import annotations

import hashlib
import hmac
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound, PermissionDenied
from engine.people.models import ROLES, Department, Position, User

MIN_PASSWORD_LENGTH = 8
#: Longest password accepted, for staff and citizens alike: argon2 reads the whole password,
#: so a 30 MB one would cost every sign-in attempt that much work.
MAX_PASSWORD_LENGTH = 1024


class PasswordTooShort(InvalidInput):
    """A new password shorter than MIN_PASSWORD_LENGTH."""


class PasswordTooLong(InvalidInput):
    """A new password longer than MAX_PASSWORD_LENGTH."""

    code = "password_too_long"


_hasher = PasswordHasher()
# Verifying against a fixed hash when the user does not exist keeps the time the same,
# so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("polis-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(f"A password may have at most {MAX_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored_hash``, and a fresh hash if it should be replaced.

    With no stored hash (no such account, or no password set) a fixed dummy hash is checked
    instead, so the answer takes the same time and reveals nothing about who has an account.
    """
    too_long = len(password) > MAX_PASSWORD_LENGTH
    try:
        # An over-long password never matches; the dummy check keeps the time the same.
        if too_long:
            _hasher.verify(_DUMMY_HASH, "")
            return False, None
        _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored_hash is None:
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials, or PermissionDenied (same message either way)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    valid, rehashed = check_password(user.password_hash if user is not None else None, password)
    if not valid or user is None or not user.is_active:
        raise PermissionDenied("Wrong username or password.")
    if rehashed:
        user.password_hash = rehashed
    return user


def change_password(session: Session, user: User, new_password: str) -> None:
    """Set a staff member's password; every session made with the old one ends."""
    user.password_hash = hash_password(new_password)
    user.session_epoch += 1
    session.flush()


def deactivate_user(session: Session, user: User) -> None:
    """Disable an account: it can no longer sign in, and its sessions and tokens stop working."""
    user.is_active = False
    user.session_epoch += 1
    session.flush()


def end_all_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere (sign-out does this: a copied cookie dies with it)."""
    session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))


def session_fingerprint(user: User, secret: str) -> str:
    """A keyed digest of what a staff session stays valid with: the password hash and the
    session epoch. A password change or sign-out changes it, so older sessions end."""
    material = f"{user.password_hash or ''}\0{user.session_epoch or 0}".encode()
    return hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()[:24]


def get_user(session: Session, user_id: uuid.UUID | str) -> User:
    """The user with this id, or NotFound."""
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError as exc:
        raise NotFound("No such user.") from exc
    user = session.get(User, key)
    if user is None:
        raise NotFound("No such user.")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    password: str | None,
    password_hash: str | None = None,
    department: Department | None = None,
    roles: list[str] | None = None,
    email: str | None = None,
    clearance: list[str] | None = None,
) -> User:
    """Add a member of staff; usernames are case-insensitive and unique."""
    name = username.strip().lower()
    if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(f"Username {username!r}: use letters, digits, '.', '_' or '-'.")
    unknown = set(roles or []) - set(ROLES)
    if unknown:
        raise InvalidInput(f"Unknown roles {sorted(unknown)}; known roles are {list(ROLES)}.")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InvalidInput(f"Username {name!r} is taken; choose another.")
    user = User(
        username=name,
        full_name=full_name,
        email=email,
        password_hash=hash_password(password) if password else password_hash,
        department_id=department.id if department else None,
        roles=list(roles or []),
        clearance=list(clearance or []),
    )
    session.add(user)
    session.flush()
    if department is not None:
        for kind in positions_for_roles(user.roles):
            session.add(Position(user_id=user.id, unit_id=department.id, kind=kind))
        session.flush()
    return user


def positions_for_roles(roles: list[str]) -> list[str]:
    """The position kinds that give a person these roles (as migration 0021_org maps them)."""
    kinds = []
    if "head" in roles:
        kinds.append("head")
    if "protocol_clerk" in roles:
        kinds.append("protocol_officer")
    elif "clerk" in roles:
        kinds.append("clerk")
    if "signatory" in roles:
        kinds.append("signatory")
    if "admin" in roles:
        kinds.append("admin")
    return kinds
