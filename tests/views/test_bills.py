import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.models import Bill, Contract, OutboxMail, PaperInvoiceRequest, Payment, TransferNotice
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.customers import Role
from panel.services.billing import BILLS_PER_PAGE
from tests import factories
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}


@pytest.fixture
def setup():
    today = today_in_japan()
    plans = factories.plan_lineup()
    customer = factories.customer(sub_email="taro-sub@example.com")
    server = factories.server(customer, "taro.jp", plans["standard"], today + timedelta(days=10))
    return {"today": today, "customer": customer, "server": server}


def _bill(setup, method=PaymentMethod.BANK_TRANSFER):
    return factories.renewal_bill(setup["customer"], setup["server"], method=method)


@pytest.fixture
def owner(client, login_as, setup):
    return login_as(factories.owner(setup["customer"]))


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _post(client, path, data=None, headers=None):
    bill_page = path.rsplit("/", 1)[0] if "/pay/" not in path else path.split("/pay/")[0]
    form = {"csrf_token": csrf_token(client, bill_page)} | (data or {})
    return client.post(path, data=form, headers=headers or {})


def _reload(bill) -> Bill:
    return db.session.get(Bill, bill.id)


# The list


def test_the_list_shows_each_bill_with_its_link_total_method_and_badge(owner, setup):
    bill = _bill(setup)
    page = owner.get("/bills")
    text = _text(page)
    assert page.status_code == 200
    assert f'href="/bills/{bill.bill_no}"' in page.get_data(as_text=True)
    assert "taro.jp Standardプラン 1年 更新" in text
    assert "12,540円" in text and "銀行振込" in text and "ご入金待ち" in text
    assert "全1件中 1〜1件を表示" in text


def test_the_tabs_filter_by_status_and_htmx_gets_only_the_list(owner, setup):
    _bill(setup)
    paid = owner.get("/bills?status=paid")
    assert "該当するご請求はありません。" in _text(paid)
    partial = owner.get("/bills?status=awaiting_payment", headers=HTMX)
    body = partial.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="bill-list">') and "<html" not in body
    assert "ご入金待ち" in body
    assert "HX-Request" in partial.headers["Vary"]


def test_the_list_pages_by_twenty(owner, setup):
    customer = setup["customer"]
    for n in range(BILLS_PER_PAGE + 1):
        server = factories.server(
            customer, f"s{n}.jp", setup["server"].plan, setup["today"] + timedelta(days=5)
        )
        factories.renewal_bill(customer, server)
    first, second = owner.get("/bills"), owner.get("/bills?page=2")
    assert _text(first).count("ご入金待ち") - 1 == BILLS_PER_PAGE  # minus the tab
    assert "全21件中 21〜21件を表示" in _text(second)
    assert 'rel="prev"' in second.get_data(as_text=True)
    assert "このページにはご請求がありません" in _text(owner.get("/bills?page=3"))


@pytest.mark.parametrize("query", ["?status=unknown", "?page=0"])
def test_a_bad_filter_is_a_404(owner, setup, query):
    assert owner.get(f"/bills{query}").status_code == 404


# Roles (another customer's bill No., and every route for every role: test_access_control.py)


def test_the_technical_role_sees_no_bills(client, login_as, setup):
    bill = _bill(setup)
    login_as(factories.sub_user(setup["customer"], "tech", Role.TECHNICAL))
    assert client.get("/bills").status_code == 403
    assert client.get(f"/bills/{bill.bill_no}").status_code == 403
    assert "お支払・ご請求明細" not in _text(client.get("/"))


def test_read_only_sees_the_bill_but_is_offered_no_action(client, login_as, setup):
    bill = _bill(setup)
    login_as(factories.sub_user(setup["customer"], "viewer", Role.READ_ONLY))
    page = client.get(f"/bills/{bill.bill_no}")
    assert page.status_code == 200
    assert "お支払のお手続きは、管理者または請求担当の方が行えます。" in _text(page)
    assert "<form" not in page.get_data(as_text=True).split('id="bill"')[1]


def test_the_billing_role_can_pay(client, login_as, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    login_as(factories.sub_user(setup["customer"], "keiri", Role.BILLING))
    response = _pay_by_card(client, bill, "4242424242424242")
    assert response.status_code == 302
    assert _reload(bill).status == BillStatus.PAID


# Paying


def _card_form(client, bill):
    page = client.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert 'id="card-form"' in page
    return {"expiry": "12/30", "security_code": "123"}


def _pay_by_card(client, bill, number, headers=None):
    data = _card_form(client, bill) | {"number": number}
    return _post(client, f"/bills/{bill.bill_no}/pay/card", data, headers)


def test_paying_by_card_marks_the_bill_paid_and_extends_the_contract(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    new_date = add_months(setup["server"].renewal_date, 12)
    response = _pay_by_card(owner, bill, "4242 4242 4242 4242")
    assert response.headers["Location"] == f"/bills/{bill.bill_no}"
    page = _text(owner.get(f"/bills/{bill.bill_no}"))
    assert "お支払が完了しました。ご契約に反映しました。" in page
    assert "お支払済" in page and "クレジットカード(VISA 末尾4242)での12,540円のお支払" in page
    assert "お支払のお手続き" not in page
    assert db.session.get(Contract, setup["server"].id).renewal_date == new_date


def test_paying_by_card_with_htmx_swaps_in_the_paid_bill(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    response = _pay_by_card(owner, bill, "5555555555554444", HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="bill"') and "<html" not in body
    assert 'id="bill-status">お支払済' in body


def test_a_wrong_card_number_is_shown_next_to_the_field_and_not_echoed(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    for headers in ({}, HTMX):
        response = _pay_by_card(owner, bill, "4242424242424241", headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "カード番号が正しくありません。" in body
        assert "4242424242424241" not in body
    declined = _text(_pay_by_card(owner, bill, "4000000000000002", HTMX))
    assert "カード会社により決済が承認されませんでした。" in declined
    assert _reload(bill).status == BillStatus.AWAITING_PAYMENT


def test_an_empty_card_form_gets_japanese_messages(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    data = {"number": "", "expiry": "2030-12", "security_code": ""}
    text = _text(_post(owner, f"/bills/{bill.bill_no}/pay/card", data, HTMX))
    assert "カード番号を入力してください。" in text
    assert "有効期限は「月/年」の形で入力してください(例: 04/29)。" in text
    assert "セキュリティコードを入力してください。" in text


def test_changing_the_method_with_htmx_shows_the_new_way_to_pay_and_the_fee(owner, setup):
    bill = _bill(setup)
    response = _post(
        owner,
        f"/bills/{bill.bill_no}/payment-method",
        {"method": PaymentMethod.CONVENIENCE_STORE},
        HTMX,
    )
    text = _text(response)
    assert "お支払方法をコンビニ決済に変更しました。" in text
    assert "コンビニ決済手数料" in text and "12,740円" in text
    assert "お支払番号を発行する" in text
    bad = _post(owner, f"/bills/{bill.bill_no}/payment-method", {"method": "cash"}, HTMX)
    assert "お支払方法を選択してください。" in _text(bad)


def test_a_store_payment_number_is_issued_and_shown(owner, setup):
    bill = _bill(setup, PaymentMethod.CONVENIENCE_STORE)
    text = _text(_post(owner, f"/bills/{bill.bill_no}/pay/convenience-store", {}, HTMX))
    assert re.search(r"お支払番号 \d{11} を発行しました。", text)
    assert "ローソン" in text and "12,740円(コンビニ決済手数料を含みます)" in text


def test_paypal_approve_and_return_pays_and_cancel_leaves_it_awaiting(owner, setup):
    bill = _bill(setup, PaymentMethod.PAYPAL)
    start = _post(owner, f"/bills/{bill.bill_no}/pay/paypal", {}, HTMX)
    approval_page = start.headers["HX-Redirect"]
    assert approval_page.startswith("/sandbox/paypal?order=")

    page = owner.get(approval_page)
    assert "12,540円" in _text(page)
    cancel_url = re.search(r'href="([^"]+/pay/paypal/cancel)"', page.get_data(as_text=True))[1]
    cancelled = owner.get(cancel_url, follow_redirects=True)
    assert "PayPalでのお支払を中止しました。" in _text(cancelled)
    assert _reload(bill).status == BillStatus.AWAITING_PAYMENT

    order = re.search(r'name="order" value="([^"]+)"', page.get_data(as_text=True))[1]
    approved = owner.post(
        "/sandbox/paypal", data={"order": order, "csrf_token": csrf_token(owner, approval_page)}
    )
    assert approved.status_code == 303
    returned = owner.get(approved.headers["Location"], follow_redirects=True)
    assert "お支払が完了しました。" in _text(returned)
    again = owner.get(approved.headers["Location"], follow_redirects=True)  # a reload
    assert "このご請求のお支払は完了しています。" in _text(again)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


# Transfer notice, cancel, resend


def test_a_transfer_notice_is_validated_and_then_shown_in_the_history(owner, setup):
    bill = _bill(setup)
    path = f"/bills/{bill.bill_no}/transfer-notice"
    empty = {"transferred_on": "", "payer_name": "", "amount": "abc", "bank_name": ""}
    text = _text(_post(owner, path, empty, HTMX))
    for message in (
        "振込日を入力してください。",
        "振込名義を入力してください。",
        "金額は半角数字で入力してください(例: 12540)。",
        "振込元の金融機関名を入力してください。",
    ):
        assert message in text
    good = {
        "transferred_on": setup["today"].isoformat(),
        "payer_name": "ヤマダタロウ",
        "amount": "１２,５４０円",
        "bank_name": "ゆうちょ銀行",
    }
    tomorrow = (setup["today"] + timedelta(days=1)).isoformat()
    future = _post(owner, path, good | {"transferred_on": tomorrow}, HTMX)
    assert "振込日に未来の日付は指定できません。" in _text(future)
    assert db.session.scalar(select(func.count()).select_from(TransferNotice)) == 0

    response = _post(owner, path, good)
    assert response.status_code == 302
    page = _text(owner.get(f"/bills/{bill.bill_no}"))
    assert "振込連絡を受け付けました。入金を確認次第、反映します。" in page
    assert "ゆうちょ銀行 ヤマダタロウ 12,540円" in page


def test_cancel_asks_first_then_cancels_and_offers_nothing_more(owner, setup):
    bill = _bill(setup)
    question = _text(owner.get(f"/bills/{bill.bill_no}/cancel", headers=HTMX))
    assert f"請求No. {bill.bill_no} のお申込を取り消しますか?" in question
    assert _reload(bill).status == BillStatus.AWAITING_PAYMENT

    done = _text(_post(owner, f"/bills/{bill.bill_no}/cancel", {}, HTMX))
    assert "お申込を取り消しました。ご契約の内容は変わりません。" in done
    assert "取消" in done and "お支払のお手続き" not in done
    assert db.session.scalar(select(OutboxMail.id).where(OutboxMail.kind == "cancellation"))

    again = _post(owner, f"/bills/{bill.bill_no}/resend-mail")
    assert again.status_code == 302
    assert "このご請求は取り消されています。" in _text(owner.get(f"/bills/{bill.bill_no}"))


def test_the_bill_mail_can_be_resent_but_not_twice_in_a_row(owner, setup):
    bill = _bill(setup)
    path = f"/bills/{bill.bill_no}/resend-mail"
    first = db.session.scalar(select(OutboxMail))
    first.created_at -= timedelta(minutes=10)  # the application was a while ago
    db.session.commit()
    sent = _text(_post(owner, path, {}, HTMX))
    assert "ご請求メールを再送信しました(taro@example.jp, taro-sub@example.com)。" in sent
    refused = _text(_post(owner, path, {}, HTMX))
    assert "ご請求メールは5分に1回まで再送信できます。" in refused
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 2


# Documents


def test_the_invoice_downloads_as_a_named_uncached_pdf_and_again_as_the_same_bytes(owner, setup):
    bill = _bill(setup)
    first = owner.get(f"/bills/{bill.bill_no}/invoice.pdf")
    assert first.status_code == 200
    assert first.mimetype == "application/pdf" and first.data.startswith(b"%PDF")
    assert first.headers["Cache-Control"] == "no-store"
    disposition = first.headers["Content-Disposition"]
    assert f'filename="invoice-{bill.bill_no}.pdf"' in disposition
    assert "filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8_" + bill.bill_no in disposition
    assert owner.get(f"/bills/{bill.bill_no}/invoice.pdf").data == first.data


def test_the_receipt_is_offered_only_once_paid_and_refused_clearly_before(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    page = owner.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert "/invoice.pdf" in page and "/receipt.pdf" not in page
    refused = owner.get(f"/bills/{bill.bill_no}/receipt.pdf")
    assert refused.status_code == 409
    assert "領収書は、お支払の確認後に発行できます。" in _text(refused)

    _pay_by_card(owner, bill, "4242424242424242")
    assert f"/bills/{bill.bill_no}/receipt.pdf" in owner.get(f"/bills/{bill.bill_no}").get_data(
        as_text=True
    )
    paid = owner.get(f"/bills/{bill.bill_no}/receipt.pdf")
    assert paid.status_code == 200 and paid.data.startswith(b"%PDF")


def test_a_paper_invoice_is_requested_once_and_shown_on_the_bill(client, login_as, setup):
    company = factories.company_on_invoice_terms()
    server = factories.server(company, "corp.jp", setup["server"].plan, setup["today"])
    bill = factories.renewal_bill(company, server)
    owner = login_as(factories.owner(company))
    assert "紙面の請求書郵送を依頼する" in _text(owner.get(f"/bills/{bill.bill_no}"))
    text = _text(_post(owner, f"/bills/{bill.bill_no}/paper-invoice", {}, HTMX))
    assert "紙面の請求書の郵送を承りました。" in text
    assert "に郵送をご依頼いただきました(発送準備中)。" in text
    assert "紙面の請求書郵送を依頼する" not in text
    again = _text(_post(owner, f"/bills/{bill.bill_no}/paper-invoice", {}, HTMX))
    assert "すでにご依頼いただいています。" in again


def test_paper_invoices_are_not_offered_to_others_and_a_forged_request_is_refused(owner, setup):
    bill = _bill(setup)
    assert "紙面の請求書郵送を依頼する" not in _text(owner.get(f"/bills/{bill.bill_no}"))
    text = _text(_post(owner, f"/bills/{bill.bill_no}/paper-invoice", {}, HTMX))
    assert "紙面の請求書の郵送は、請求書払い(法人のお客様向けドメイン管理サービス)" in text
    assert db.session.scalar(select(func.count()).select_from(PaperInvoiceRequest)) == 0


# Faults a customer meets while paying


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_card_form_sent_after_the_method_changed_in_another_tab_says_why(owner, setup, headers):
    bill = _bill(setup, PaymentMethod.CARD)
    card_form = _card_form(owner, bill) | {"number": "4242424242424242"}
    # In another tab, the method becomes bank transfer: the card form there is now stale.
    _post(owner, f"/bills/{bill.bill_no}/payment-method", {"method": "bank_transfer"})
    response = _post(owner, f"/bills/{bill.bill_no}/pay/card", card_form, headers)
    if not headers:
        response = owner.get(response.headers["Location"])
    assert "お支払方法が変更されています。ページを開き直してからお手続きください。" in _text(
        response
    )
    assert _reload(bill).status == BillStatus.AWAITING_PAYMENT
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_3d_secure_through_the_pages_pays_once(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    form = _card_form(owner, bill) | {"number": "4000000000003220"}
    to_challenge = _post(owner, f"/bills/{bill.bill_no}/pay/card", form, HTMX)
    challenge_url = to_challenge.headers["HX-Redirect"]
    assert challenge_url.startswith("/sandbox/3ds/")
    page = owner.get(f"/bills/{bill.bill_no}")
    assert "カード会社の本人認証(3-Dセキュア)の途中です。" in _text(page)

    challenge = owner.get(challenge_url)
    assert "カード会社の本人認証(3-Dセキュア)" in _text(challenge)
    back = owner.post(
        challenge_url,
        data={"answer": "authenticate", "csrf_token": csrf_token(owner, challenge_url)},
    )
    assert back.headers["Location"].endswith(f"/bills/{bill.bill_no}/pay/card/return")
    for _ in range(2):  # coming back twice (a reload) pays once
        returned = owner.get(back.headers["Location"])
        assert returned.headers["Location"] == f"/bills/{bill.bill_no}"
        page = _text(owner.get(returned.headers["Location"]))
    assert "このご請求のお支払は完了しています。" in page
    assert _reload(bill).status == BillStatus.PAID
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_an_abandoned_challenge_leaves_the_bill_awaiting(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    form = _card_form(owner, bill) | {"number": "4000000000003220"}
    challenge_url = _post(owner, f"/bills/{bill.bill_no}/pay/card", form).headers["Location"]
    back = owner.post(
        challenge_url, data={"answer": "abandon", "csrf_token": csrf_token(owner, challenge_url)}
    )
    returned = owner.get(back.headers["Location"])
    page = _text(owner.get(returned.headers["Location"]))
    assert "本人認証(3-Dセキュア)が中止されました。" in page
    assert _reload(bill).status == BillStatus.AWAITING_PAYMENT
    assert "本人認証(3-Dセキュア)の途中です" not in page
    assert "このご請求のお支払は完了しています" not in page


def test_read_only_is_told_how_the_bill_is_paid_with_the_account_escaped(
    app, monkeypatch, client, login_as, setup
):
    monkeypatch.setitem(app.config, "BANK_TRANSFER_ACCOUNT", "A&B銀行 <本店> 普通預金 1234567")
    bill = _bill(setup)
    login_as(factories.sub_user(setup["customer"], "viewer", Role.READ_ONLY))
    page = client.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    reference = bill.bill_no.replace("-", "")
    assert (
        '<p class="instructions">お支払期限日までに、下記の口座へお振込みください。\n'
        "A&amp;B銀行 &lt;本店&gt; 普通預金 1234567\n"
        f"振込名義の前にお客様番号「{reference}」を入れてください(例: {reference} ヤマダタロウ)。"
    ) in page
    assert "<本店>" not in page


def _history(client, bill) -> list[str]:
    page = client.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    history = page.split('<ol class="history">')[1].split("</ol>")[0]
    return [_text_of(item) for item in re.findall(r"<li>(.*?)</li>", history, re.S)]


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<time[^>]*>.*?</time>", "", html)).strip()


def test_the_history_shows_a_declined_card_and_a_3d_secure_challenge_then_the_payment(owner, setup):
    bill = _bill(setup, PaymentMethod.CARD)
    paying = "クレジットカードでの12,540円のお支払"
    _pay_by_card(owner, bill, "4000000000000002", HTMX)  # declined
    challenge = _pay_by_card(owner, bill, "4000000000003220")  # asks for 3-D Secure
    assert challenge.headers["Location"].startswith("/sandbox/3ds/")
    assert _history(owner, bill)[-2:] == [
        f"{paying}はできませんでした。カード会社により決済が承認されませんでした。"
        "別のカードをお使いいただくか、カード会社にお問い合わせください。",
        f"{paying}は、カード会社の本人認証(3-Dセキュア)の完了待ちです",
    ]

    challenge_page = challenge.headers["Location"]
    authenticated = owner.post(
        challenge_page,
        data={"answer": "authenticate", "csrf_token": csrf_token(owner, challenge_page)},
    )
    owner.get(authenticated.headers["Location"])  # back from the card company
    history = _history(owner, bill)
    assert _reload(bill).status == BillStatus.PAID
    assert "クレジットカード(VISA 末尾3220)での12,540円のお支払を確認しました" in history
    assert f"{paying}は、カード会社の本人認証(3-Dセキュア)の完了待ちです" not in history
    assert any(line.startswith(f"{paying}はできませんでした。") for line in history)


def test_a_bill_past_its_due_date_offers_no_payment_and_refuses_one(owner, setup):
    bill = factories.renewal_bill(
        setup["customer"],
        setup["server"],
        method=PaymentMethod.CARD,
        today=setup["today"] - timedelta(days=20),
    )
    assert bill.due_date < setup["today"]
    page = owner.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert 'id="past-due"' in page and 'id="card-form"' not in page
    form = {"number": "4242424242424242", "expiry": "12/30", "security_code": "123"}
    response = _post(owner, f"/bills/{bill.bill_no}/pay/card", form, HTMX)
    assert "お支払期限日" in _text(response) and "お支払いいただけません" in _text(response)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
