"""口座振替の登録 in the browser: to the gateway's bank-account form and back, the account kept
(masked), replaced and removed; who may; and what the sandbox's form makes of hostile input."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, Customer
from panel.models.customers import CustomerKind, Role
from tests import factories
from tests.conftest import csrf_token

PAGE = "/settings/direct-debit"
HTMX = {"HX-Request": "true"}
ACCOUNT = {
    "bank_name": "三井住友銀行",
    "branch_name": "本店",
    "account_type": "ordinary",
    "account_number": "1234567",
    "holder_kana": "カ)テスト",
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def company():
    return factories.company_on_invoice_terms()


@pytest.fixture
def owner(client, login_as, company):
    return login_as(factories.owner(company))


def _to_the_gateway(client, headers=None) -> str:
    """Press 口座を登録する: where the browser is sent (the gateway's form)."""
    response = client.post(
        PAGE, data={"csrf_token": csrf_token(client, PAGE)}, headers=headers or {}
    )
    location = response.headers.get("HX-Redirect") or response.headers["Location"]
    return location


def _fill_in(client, form_url: str, **changes):
    """Send the gateway's form as the customer fills it in."""
    query = urlsplit(form_url).query
    request_token = query.split("request=", 1)[1]
    client.get(form_url)
    data = ACCOUNT | {"csrf_token": csrf_token(client, form_url), "request": request_token}
    return client.post("/sandbox/direct-debit", data=data | changes)


def _account(company) -> str | None:
    db.session.rollback()
    return db.session.get(Customer, company.id).direct_debit_account


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_registering_goes_through_the_gateways_form_and_back(owner, company, headers):
    page = _text(owner.get(PAGE))
    assert "口座は登録されていません。" in page and "口座を登録する" in page

    form_url = _to_the_gateway(owner, headers)
    assert form_url.startswith("/sandbox/direct-debit?request=")
    form = _text(owner.get(form_url))
    assert "口座振替の口座登録" in form and "残高不足で引き落とせない口座" in form

    back = _fill_in(owner, form_url)
    assert back.status_code == 303
    assert back.headers["Location"].startswith("http://localhost/settings/direct-debit/return?")
    done = owner.get(back.headers["Location"], follow_redirects=True)
    assert "口座振替の口座を登録しました(三井住友銀行 本店 普通 ****567)。" in _text(done)
    assert _account(company) == "三井住友銀行 本店 普通 ****567"
    assert "1234567" not in done.get_data(as_text=True)

    # Loading the return again registers nothing twice.
    owner.get(back.headers["Location"])
    db.session.rollback()
    assert (
        db.session.scalar(select(AuditEvent.action).where(AuditEvent.action.like("direct_debit_%")))
        == "direct_debit_registered"
    )
    assert "口座を変更する" in _text(owner.get(PAGE))


def test_the_account_is_replaced_and_removed(owner, company):
    owner.get(_fill_in(owner, _to_the_gateway(owner)).headers["Location"])
    owner.get(_fill_in(owner, _to_the_gateway(owner), account_number="7654321").headers["Location"])
    assert _account(company) == "三井住友銀行 本店 普通 ****321"

    response = owner.post(f"{PAGE}/delete", data={"csrf_token": csrf_token(owner, PAGE)})
    assert response.status_code == 302
    assert _account(company) is None
    assert "口座振替の口座の登録を削除しました。" in _text(owner.get(PAGE))


def test_another_customers_registration_result_is_refused(client, login_as, company):
    owner = login_as(factories.owner(company))
    back = _fill_in(owner, _to_the_gateway(owner)).headers["Location"]
    other = factories.company_on_invoice_terms("other")
    owner.post("/logout", data={"csrf_token": csrf_token(owner, PAGE)})
    login_as(factories.owner(other))
    done = client.get(back, follow_redirects=True)
    assert "口座の登録結果を確認できませんでした。" in _text(done)
    assert _account(other) is None


@pytest.mark.parametrize("kind", [CustomerKind.INDIVIDUAL, CustomerKind.CORPORATE])
def test_customers_not_on_invoice_terms_are_told_and_refused(client, login_as, kind):
    customer = factories.customer("someone", kind=kind)
    login_as(factories.owner(customer))
    page = _text(client.get(PAGE))
    assert "口座振替は、法人のお客様向けドメイン管理サービス(請求書払い)" in page
    assert "口座を登録する" not in page
    response = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE)})
    assert response.headers["Location"] == PAGE
    assert "月末締めのご請求のお支払方法です。" in _text(client.get(PAGE))


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.BILLING, 200), (Role.READ_ONLY, 200), (Role.TECHNICAL, 403)],
)
def test_who_sees_the_page(client, login_as, company, role, status):
    login_as(factories.sub_user(company, f"corp+{role}", role))
    response = client.get(PAGE)
    assert response.status_code == status
    if role == Role.READ_ONLY:
        assert "口座の登録・変更は、管理者または請求担当の方が行えます。" in _text(response)
        assert "口座を登録する" not in _text(response)


# The sandbox's form: hostile and full-width input


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_number": "123456"}, "口座番号は7桁の数字で入力してください。"),
        ({"account_number": "①２３４５６７"}, "口座番号は7桁の数字で入力してください。"),
        ({"account_number": "9" * 5000}, "口座番号は7桁の数字で入力してください。"),
        ({"holder_kana": "Test Corp"}, "口座名義はカタカナで入力してください"),
        ({"holder_kana": "カ)テスト\x00"}, "使用できない文字"),
        ({"bank_name": "三井住友\u202e銀行"}, "使用できない文字"),
        ({"bank_name": "銀" * 31}, "金融機関名は30文字以内で入力してください。"),
        ({"account_type": "savings"}, "預金種目を選んでください。"),
        ({"branch_name": ""}, "支店名を入力してください。"),
    ],
)
def test_the_bank_account_form_says_what_is_wrong(owner, company, changes, message):
    response = _fill_in(owner, _to_the_gateway(owner), **changes)
    assert response.status_code == 200
    assert message in _text(response)
    assert _account(company) is None


def test_full_width_digits_and_half_width_kana_are_read(owner, company):
    back = _fill_in(
        owner, _to_the_gateway(owner), account_number="１２３４５６７", holder_kana="ｶ)ﾃｽﾄ"
    )
    owner.get(back.headers["Location"])
    assert _account(company) == "三井住友銀行 本店 普通 ****567"


def test_a_forged_form_link_is_a_400(client):
    assert client.get("/sandbox/direct-debit?request=forged").status_code == 400
    assert client.get("/sandbox/direct-debit").status_code == 400
