"""Server-side login sessions: a cookie is only as good as the row it names."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.customers import User
from panel.models.types import UtcDateTime, utc_now


class LoginSession(Model):
    """One login of one user; logging out or expiry ends it for every copy of the cookie."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the random token kept in the cookie (the token itself is never stored)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: who logged in
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: when the login happened
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: after this the session is no longer accepted
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the user last proved who they are (password, and a code with two-factor login):
    #: at login, or at a later confirmation; settings that guard the account need it recent
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: a TOTP secret being enrolled, kept here until one code from it confirms it
    pending_totp_secret: Mapped[str | None] = mapped_column(String(32))
    #: set by logout; an ended session is never accepted again
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the client address at login
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: the browser's User-Agent at login
    user_agent: Mapped[str | None] = mapped_column(String(400))

    user: Mapped[User] = relationship()
