"""How views answer: a service's refusal shown on the form or flashed, a change made from a
button, a PDF."""

from collections.abc import Callable
from typing import Literal, TypeVar, overload
from urllib.parse import quote

from flask import Response, flash, redirect
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from panel.refusals import DomainError
from panel.transactions import call_service

Result = TypeVar("Result")


def show_refusal(form: FlaskForm, refusal: DomainError) -> None:
    """Show a service's refusal next to the field it concerns, or above the form when the form
    has no such field."""
    if refusal.field and refusal.field in form:
        form[refusal.field].errors.append(refusal.message)
    else:
        form.form_errors.append(refusal.message)


@overload
def submit_form(form: FlaskForm, action: Callable[[], None]) -> Literal[True] | None: ...
@overload
def submit_form(form: FlaskForm, action: Callable[[], Result]) -> Result | None: ...
def submit_form(form: FlaskForm, action: Callable[[], object]) -> object:
    """Once `form` is valid, run `action` (a service call): its result, or True. None when the
    form is invalid or the service refuses; the refusal is then shown on the form."""
    if not form.validate_on_submit():
        return None
    result, refusal = call_service(action)
    if refusal is not None:
        show_refusal(form, refusal)
        return None
    return True if result is None else result


def change_and_go_back(change: Callable[[], object], done: str, back: str) -> BaseResponse:
    """Make a change that a button asks for (no form to fill in), then go back to `back`
    saying what was done, or why it could not be."""
    _, refusal = call_service(change)
    if refusal is not None:
        flash(refusal.message, "error")
    else:
        flash(done, "success")
    return redirect(back)


def pdf_response(content: bytes, ascii_name: str, name: str) -> Response:
    """A PDF shown in the browser and saved as `name` (請求書_20261121-0001.pdf), or as
    `ascii_name` by clients that cannot read UTF-8 file names; never cached."""
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
