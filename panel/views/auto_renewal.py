"""ご契約自動更新の設定: on/off and the period, the card on file, and each server's setting.

Every role sees the page; the owner and billing change it. Each form answers htmx with the
page's partial (#auto-renewal) when it has something to correct, and a redirect when it is done.
"""

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user

from panel.dates import today_in_japan
from panel.forms.auto_renewal import AutoRenewalForm, ServerAutoRenewalForm
from panel.forms.bills import CardForm
from panel.gateways import CardDetails, payment_gateway
from panel.htmx import redirect_to, render_page_or_partial
from panel.models import Role
from panel.services.auto_renewal import (
    CHARGE_DAYS_BEFORE,
    auto_renewal_page,
    change_auto_renewal,
    change_server_auto_renewal,
    own_server,
    register_card,
    remove_card,
)
from panel.views.permissions import roles_required
from panel.views.requests import current_client
from panel.views.responses import change_and_go_back, submit_form

bp = Blueprint("auto_renewal", __name__, url_prefix="/auto-renewal")

#: Who may change the setting and the card (it is money); every role may look.
AUTO_RENEWAL_EDITORS = (Role.OWNER, Role.BILLING)
AUTO_RENEWAL_VIEWERS = tuple(Role)


def _page(
    settings_form: AutoRenewalForm | None = None,
    card_form: CardForm | None = None,
    server_form: ServerAutoRenewalForm | None = None,
    server_id: int | None = None,
):
    customer = current_user.customer
    page = auto_renewal_page(customer, today_in_japan())
    settings_form = settings_form or AutoRenewalForm(
        formdata=None,
        data={
            "enabled": "on" if customer.auto_renewal else "off",
            "months": str(customer.auto_renewal_months),
        },
    )
    return render_page_or_partial(
        "auto_renewal/index.html",
        "auto_renewal/_page.html",
        settings=page,
        settings_form=settings_form,
        card_form=card_form or CardForm(formdata=None),
        server_form=server_form,
        server_id=server_id,
        may_change=current_user.role in AUTO_RENEWAL_EDITORS,
        charge_days_before=CHARGE_DAYS_BEFORE,
        test_cards=getattr(payment_gateway(), "test_cards", None),
    )


def _done(message: str):
    flash(message, "success")
    return redirect_to(url_for("auto_renewal.index"))


@bp.get("")
@roles_required(*AUTO_RENEWAL_VIEWERS)
def index():
    return _page()


@bp.post("/settings")
@roles_required(*AUTO_RENEWAL_EDITORS)
def settings():
    form = AutoRenewalForm()
    changed = submit_form(
        form,
        lambda: change_auto_renewal(
            current_user.customer,
            enabled=form.enabled.data == "on",
            months=int(form.months.data),
            by=current_user,
            client=current_client(),
        ),
    )
    if changed:
        return _done("ご契約自動更新の設定を保存しました。")
    return _page(settings_form=form)


@bp.post("/card")
@roles_required(*AUTO_RENEWAL_EDITORS)
def card():
    form = CardForm()

    def register() -> None:
        month, year = form.expiry_month_year()
        details = CardDetails(form.number.data, month, year, form.security_code.data)
        register_card(
            current_user.customer, details, today_in_japan(), current_user, current_client()
        )

    if submit_form(form, register):
        return _done("自動更新に使うクレジットカードを登録しました。")
    return _page(card_form=form)


@bp.post("/card/delete")
@roles_required(*AUTO_RENEWAL_EDITORS)
def delete_card():
    return change_and_go_back(
        lambda: remove_card(current_user.customer, current_user, current_client()),
        "クレジットカードの登録を削除しました。自動更新はOFFになりました。",
        url_for("auto_renewal.index"),
    )


@bp.post("/servers/<int:contract_id>")
@roles_required(*AUTO_RENEWAL_EDITORS)
def server(contract_id: int):
    contract = own_server(current_user.customer, contract_id)
    if contract is None:
        abort(404)
    form = ServerAutoRenewalForm()
    changed = submit_form(
        form,
        lambda: change_server_auto_renewal(
            contract, form.setting.data, current_user, current_client()
        ),
    )
    if changed:
        return _done(f"{contract.name} の自動更新の設定を保存しました。")
    return _page(server_form=form, server_id=contract.id)
