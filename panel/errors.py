"""Error pages in Japanese; an expired form or session never ends in a blank swap."""

from flask import Flask, flash, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from panel.htmx import is_partial_request, redirect_to
from panel.refusals import RefusedInput
from panel.transactions import discard_request_changes

MESSAGES = {
    400: ("リクエストが正しくありません", "入力内容をご確認のうえ、もう一度お試しください。"),
    403: ("この操作は許可されていません", "このページを利用する権限がありません。"),
    404: ("ページが見つかりません", "お探しのページは存在しないか、移動しました。"),
    405: ("この操作は利用できません", "このページはこの方法では利用できません。"),
    413: (
        "送信された内容が大きすぎます",
        "一度に送信できる量を超えています。内容を減らしてから、もう一度お試しください。",
    ),
    429: ("操作が多すぎます", "しばらく時間をおいてから、もう一度お試しください。"),
    500: (
        "システムエラーが発生しました",
        "ご迷惑をおかけしております。時間をおいてもう一度お試しください。",
    ),
}


def _in_staff_console() -> bool:
    return request.blueprint == "staff"


def refusal_page(title: str, message: str, status: int):
    """A page that says, in Japanese, why this request cannot be served (in the staff
    console's frame for its pages)."""
    template = "staff/error.html" if _in_staff_console() else "errors/error.html"
    return render_template(template, title=title, message=message), status


def _error_page(status: int):
    # Roll back first: the page itself reads the database (the navigation), which a failed
    # flush would otherwise refuse, turning the error page into a second error.
    discard_request_changes()
    return refusal_page(*MESSAGES[status], status)


def register_error_handlers(app: Flask) -> None:
    for status in MESSAGES:
        app.register_error_handler(status, lambda error, status=status: _error_page(status))

    @app.errorhandler(RefusedInput)
    def _refused_input(error):
        return refusal_page(MESSAGES[400][0], error.description, 400)

    @app.errorhandler(CSRFError)
    def _form_expired(error):
        discard_request_changes()
        # The usual cause is an expired session: htmx goes to the login page rather than
        # swapping an error into the middle of a page.
        if is_partial_request():
            flash("ページの有効期限が切れました。もう一度ログインしてください。", "info")
            login = "staff.login" if _in_staff_console() else "auth.login"
            return redirect_to(url_for(login), 401)
        return refusal_page(
            "ページの有効期限が切れました",
            "お手数ですが、ページを開き直してからもう一度操作してください。",
            400,
        )
