"""ドメイン一覧・設定: every domain with its effective 自動更新 / 自動失効 and where it comes from,
the setting at three levels, and each domain's locks and AuthCode (ドメインロックの詳細設定).

Every role sees the pages; the owner and 技術担当 change them. A change of policy answers htmx
with the whole list (#domains), the domains it changed marked, since one setting may change
many; a plain form post is redirected back with the same words. Changing a lock and showing the
AuthCode need the password again after 10 minutes (the step-up), and are audited.
"""

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from panel import labels
from panel.dates import today_in_japan
from panel.forms.domains import (
    AccountDomainPolicyForm,
    DomainLockForm,
    DomainPolicyForm,
    TldDomainPolicyForm,
    policy_or_none,
)
from panel.htmx import is_partial_request, redirect_to, render_page_or_partial
from panel.models import Contract, Role
from panel.services.contracts import contract_status
from panel.services.domains import (
    PolicyUpdate,
    change_domain_lock,
    domains_page,
    effective_domain_policy,
    is_expired,
    normalize_tld,
    own_domain,
    reveal_auth_code,
    set_account_domain_policy,
    set_domain_policy,
    set_tld_domain_policy,
)
from panel.transactions import call_service
from panel.views.permissions import roles_required, step_up_required
from panel.views.requests import current_client
from panel.views.responses import submit_form

bp = Blueprint("domains", __name__, url_prefix="/domains")

#: Who may change the policy and the locks and see the AuthCode; every role may look.
DOMAIN_MANAGERS = (Role.OWNER, Role.TECHNICAL)
DOMAIN_VIEWERS = tuple(Role)


def _list(
    *,
    account_form: AccountDomainPolicyForm | None = None,
    tld_form: TldDomainPolicyForm | None = None,
    domain_form: DomainPolicyForm | None = None,
    domain_id: int | None = None,
    update: PolicyUpdate | None = None,
    message: str | None = None,
):
    customer = current_user.customer
    page = domains_page(customer, today_in_japan())
    # A TLD form's errors go next to its TLD; one naming no TLD of the list, above the list.
    tld_errors = [*tld_form.tld.errors, *tld_form.policy.errors] if tld_form else []
    tld_error_for = normalize_tld(tld_form.tld.data or "") if tld_form else None
    if tld_error_for not in {setting.tld for setting in page.tlds}:
        tld_error_for = None
    return render_page_or_partial(
        "domains/index.html",
        "domains/_domains.html",
        domains=page,
        may_manage=current_user.role in DOMAIN_MANAGERS,
        account_form=account_form
        or AccountDomainPolicyForm(formdata=None, data={"policy": customer.domain_policy}),
        tld_errors=tld_errors,
        tld_error_for=tld_error_for,
        domain_form=domain_form,
        domain_id=domain_id,
        changed=update.changed_ids if update else set(),
        message=message,
        follow_account=labels.FOLLOW_ACCOUNT,
        follow_tld=labels.FOLLOW_TLD,
    )


def _saved(update: PolicyUpdate, what: str, overridden_by: str | None = None):
    """What a policy change did, in words: on the swapped list (htmx), or after a redirect.
    `overridden_by` names the more specific levels that may have kept every domain as it was."""
    if not update.setting_changed:
        message = f"{what}は変わっていません。"
    elif not update.changes:
        why = f"{overridden_by}の設定が優先されるため、" if overridden_by else ""
        message = f"{what}を保存しました。{why}自動更新・自動失効が変わったドメインはありません。"
    else:
        names = "、".join(
            f"{change.name}({labels.DOMAIN_POLICY[change.after]})" for change in update.changes
        )
        message = f"{what}を保存しました。{len(update.changes)}件のドメインが変わりました: {names}"
    if is_partial_request():
        return _list(update=update, message=message)
    flash(message, "success")
    return redirect(url_for("domains.index"))


@bp.get("")
@roles_required(*DOMAIN_VIEWERS)
def index():
    return _list()


@bp.post("/policy")
@roles_required(*DOMAIN_MANAGERS)
def account_policy():
    form = AccountDomainPolicyForm()
    update = submit_form(
        form,
        lambda: set_account_domain_policy(
            current_user.customer,
            form.policy.data,
            today_in_japan(),
            current_user,
            current_client(),
        ),
    )
    if update:
        return _saved(update, "アカウント全体の設定", "TLDごと・ドメインごと")
    return _list(account_form=form)


@bp.post("/tld-policy")
@roles_required(*DOMAIN_MANAGERS)
def tld_policy():
    form = TldDomainPolicyForm()
    update = submit_form(
        form,
        lambda: set_tld_domain_policy(
            current_user.customer,
            form.tld.data,
            policy_or_none(form.policy.data),
            today_in_japan(),
            current_user,
            current_client(),
        ),
    )
    if update:
        return _saved(update, f".{normalize_tld(form.tld.data)} の設定", "ドメインごと")
    return _list(tld_form=form)


def _domain(domain_id: int) -> Contract:
    domain = own_domain(current_user.customer, domain_id)
    if domain is None:
        abort(404)
    return domain


@bp.post("/<int:domain_id>/policy")
@roles_required(*DOMAIN_MANAGERS)
def domain_policy(domain_id: int):
    domain = _domain(domain_id)
    form = DomainPolicyForm()
    update = submit_form(
        form,
        lambda: set_domain_policy(
            domain,
            policy_or_none(form.policy.data),
            today_in_japan(),
            current_user,
            current_client(),
        ),
    )
    if update:
        return _saved(update, f"{domain.name} の設定")
    return _list(domain_form=form, domain_id=domain.id)


# ドメインロックの詳細設定


def _detail(
    domain: Contract,
    *,
    lock_form: DomainLockForm | None = None,
    auth_code: str | None = None,
    message: str | None = None,
    error: str | None = None,
):
    today = today_in_japan()
    lock_form = lock_form or DomainLockForm(
        formdata=None,
        data={name: "on" if getattr(domain, name) else "off" for name in labels.DOMAIN_LOCK},
    )
    return render_page_or_partial(
        "domains/detail.html",
        "domains/_detail.html",
        domain=domain,
        policy=effective_domain_policy(domain),
        expired=is_expired(domain, today),
        domain_status=contract_status(domain.renewal_date, False, today, domain.lapsed_on),
        days_left=(domain.renewal_date - today).days,
        may_manage=current_user.role in DOMAIN_MANAGERS,
        lock_form=lock_form,
        auth_code=auth_code,
        message=message,
        error=error,
    )


@bp.get("/<int:domain_id>")
@roles_required(*DOMAIN_VIEWERS)
def detail(domain_id: int):
    return _detail(_domain(domain_id))


@bp.post("/<int:domain_id>/lock")
@roles_required(*DOMAIN_MANAGERS)
@step_up_required
def lock(domain_id: int):
    domain = _domain(domain_id)
    form = DomainLockForm()
    update = submit_form(
        form,
        lambda: change_domain_lock(
            domain, form.locks(), today_in_japan(), current_user, current_client()
        ),
    )
    if not update:
        return _detail(domain, lock_form=form)
    if not update.changed:
        message = "ドメインロックの設定は変わっていません。"
    else:
        message = "ドメインロックの設定を保存しました。"
        if "transfer_locked" in update.changed and domain.transfer_locked:
            message += "移管ロックをONにしたため、AuthCodeを新しくしました。"
    if is_partial_request():
        return _detail(domain, message=message)
    flash(message, "success")
    return redirect_to(url_for("domains.detail", domain_id=domain.id))


@bp.post("/<int:domain_id>/auth-code")
@roles_required(*DOMAIN_MANAGERS)
@step_up_required
def auth_code(domain_id: int):
    """The AuthCode, in this answer only: never in a page that a GET shows."""
    domain = _domain(domain_id)
    code, refusal = call_service(
        lambda: reveal_auth_code(domain, today_in_japan(), current_user, current_client())
    )
    if refusal is not None:
        return _detail(domain, error=refusal.message)
    return _detail(domain, auth_code=code)
