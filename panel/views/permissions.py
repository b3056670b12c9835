"""Who may open a view: the role check and the step-up, both on the server for every request."""

from functools import wraps

from flask import abort, request, url_for
from flask_login import current_user, login_required

from panel.htmx import redirect_to
from panel.models.types import utc_now
from panel.services.auth import recently_confirmed
from panel.views.requests import same_site_path
from panel.views.staff.session import impersonating


def roles_required(*roles: str):
    """Only logged-in users with one of `roles` may use the view; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def step_up_required(view):
    """The view changes or shows what guards the account: the user must have given their
    password (and code) within the step-up window, or is sent to confirm it and come back.
    Staff impersonating the customer see the page as it is: they can change nothing on it
    (`views/staff/session.py`), and they do not know the customer's password."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if impersonating() is None and not recently_confirmed(current_user, utc_now()):
            back = request.full_path if request.method == "GET" else request.referrer
            return redirect_to(url_for("security.confirm", next=same_site_path(back)))
        return view(*args, **kwargs)

    return wrapped
