"""The staff session of every request, and the one rule of impersonation.

The staff cookie (`STAFF_COOKIE`) is apart from the customer's session cookie, so one browser
can hold a customer login and a staff login without mixing them. Before every request its staff
session is loaded (and its last request noted); while it impersonates a customer, every request
outside the staff console is served as that customer's owner sees the panel, read-only:

- every request that is not GET or HEAD, whatever the route, htmx included, and every GET
  that writes (`@writes_on_get`), is refused here with a Japanese message (403), before any
  view runs — a rule in one place, so a new route is covered by itself;
- the staff member's role, and that the session is still open, are checked on every request;
- the customer's two-factor secret is shown only by the enrolment page, a GET that writes
  (refused), and recovery codes only in answer to a POST (refused).
"""

from functools import wraps

from flask import Flask, abort, flash, g, request, url_for
from flask_login import current_user

from panel.database import view_writes_on_get, writing
from panel.errors import refusal_page
from panel.htmx import is_htmx_request, redirect_to
from panel.models import StaffMember, StaffSession, User
from panel.models.types import utc_now
from panel.services.staff.accounts import load_staff_session
from panel.services.staff.impersonation import IMPERSONATORS, end_impersonation
from panel.transactions import one_transaction
from panel.views.requests import current_client, same_site_path

#: The staff login's cookie: a random token, whose hash names the server-side session.
STAFF_COOKIE = "panel_staff_session"
#: What may be done while impersonating: looking.
READING = frozenset({"GET", "HEAD"})
READ_ONLY_TITLE = "代理ログイン中は操作できません"
READ_ONLY_MESSAGE = (
    "代理ログイン(閲覧のみ)では、お客様のパネルの内容を変更する操作はできません。"
    "操作が必要な場合は、お客様ご本人に依頼してください。"
)


def current_staff_session() -> StaffSession | None:
    """The open staff session of this request, if its browser has one."""
    return g.get("staff_session")


def signed_in_staff_session() -> StaffSession:
    """The staff session of a view that requires a staff login (`staff_required`)."""
    staff_session = current_staff_session()
    assert staff_session is not None, "the view requires a staff login"
    return staff_session


def current_staff() -> StaffMember:
    """The staff member of a view that requires a staff login."""
    return signed_in_staff_session().staff_member


def impersonating() -> StaffSession | None:
    """The staff session showing this request the customer's panel, if any."""
    return g.get("impersonating")


def staff_required(*roles: str):
    """Only a staff login with one of `roles` may use the view: without one, the staff login
    page (htmx: 401 with HX-Redirect); with another role, 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            staff_session = current_staff_session()
            if staff_session is None:
                flash("スタッフとしてログインしてください。", "info")
                back = same_site_path(request.full_path)
                return redirect_to(url_for("staff.login", next=back), 401)
            if staff_session.staff_member.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _refuse_while_impersonating():
    if is_htmx_request():
        # htmx would swap nothing for a 403: the page it came from is loaded again and says why.
        flash(READ_ONLY_MESSAGE, "error")
        back = same_site_path(request.headers.get("HX-Current-URL")) or same_site_path(
            request.referrer
        )
        return redirect_to(back or url_for("dashboard.index"), 403)
    return refusal_page(READ_ONLY_TITLE, READ_ONLY_MESSAGE, 403)


def _impersonated_user(staff_session: StaffSession) -> User | None:
    """The customer's user the session shows, while the staff member may still impersonate
    and the user may still log in; otherwise the impersonation ends here."""
    user = staff_session.impersonated_user
    if user is None:
        return None
    if staff_session.staff_member.role in IMPERSONATORS and user.is_active:
        return user
    end_impersonation(staff_session, current_client(), utc_now())
    return None


def _open_staff_session(token: str) -> tuple[StaffSession | None, User | None]:
    """The staff session and the user it impersonates, with its last request noted (an idle
    one ended, with its impersonation): bookkeeping of the session, not of the request, so it
    is a short transaction of its own, committed before the view's begins (which, for a page,
    then only reads)."""
    with writing(), one_transaction():
        staff_session = load_staff_session(token, current_client(), utc_now())
        user = None
        if staff_session is not None and request.blueprint != "staff":
            user = _impersonated_user(staff_session)
    return staff_session, user


def _load_staff_session():
    g.staff_session = None
    token = request.cookies.get(STAFF_COOKIE)
    if not token or request.endpoint == "static":
        return None
    staff_session, user = _open_staff_session(token)
    g.staff_session = staff_session
    if user is None:
        return None
    g.impersonating = staff_session
    # Flask-Login's current user for this request: the customer's, whatever the browser's own
    # customer session says (it is left as it is, and is back once the impersonation ends).
    g._login_user = user
    if request.method not in READING or view_writes_on_get(request.endpoint):
        return _refuse_while_impersonating()
    return None


def _no_caching(response):
    if current_staff_session() is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def register_staff_session(app: Flask) -> None:
    app.before_request(_load_staff_session)
    app.after_request(_no_caching)

    @app.context_processor
    def _impersonation():
        staff_session = impersonating()
        if staff_session is None or not current_user.is_authenticated:
            return {"impersonation": None}
        return {"impersonation": staff_session}
