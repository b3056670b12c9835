"""The small glue between Flask and htmx, kept in one place so the helper package can go."""

from flask import Response, make_response, redirect, render_template
from htmx_flask import Htmx
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response as BaseResponse

htmx = Htmx()


def is_htmx_request() -> bool:
    """A request htmx sent (a partial one or a history restore)."""
    return bool(htmx_request.htmx)


def is_partial_request() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(htmx_request.htmx) and not htmx_request.htmx.history_restore_request


def render_page_or_partial(page: str, partial: str, status: int = 200, **context) -> Response:
    """The partial for htmx, the full page otherwise; caches keep the two apart."""
    template = partial if is_partial_request() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_to(location: str, htmx_status: int = 204) -> BaseResponse:
    """Send the browser to `location`: a plain redirect, or for htmx an HX-Redirect, which htmx
    follows as a full page load (a 302 would be followed inside the swap). htmx reads the
    header whatever the status, so a refusal can say 401 and still move the browser."""
    if htmx_request.htmx:
        response = make_response("", htmx_status)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location)
