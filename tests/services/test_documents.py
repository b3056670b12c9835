import io
import re
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import IssuedDocument, PaperInvoiceRequest
from panel.models.bills import BillKind, BillLineKind, PaymentMethod
from panel.models.customers import CustomerKind
from panel.pdf import html_to_pdf
from panel.refusals import DomainError
from panel.services.addressing import recipient_context
from panel.services.audit import Client
from panel.services.billing import LineDraft, cancel_bill, change_payment_method, create_bill
from panel.services.documents import (
    corporate_number_check_digit,
    invoice,
    receipt,
    registration_number_error,
    render_quote,
    request_paper_invoice,
)
from panel.services.on_account import bill_month_end, buy_on_account
from panel.services.payments import ReceivedMoney, apply_payment
from panel.services.renewal.application import new_application_token
from panel.services.renewal.pricing import Selection, quote_renewal
from tests import factories

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
NOBODY = Client(None, None)


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page, whitespace squeezed."""
    return [
        re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(content)).pages
    ]


def pdf_text(content: bytes) -> str:
    return " ".join(pdf_pages(content))


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("T7000012050002", None),  # the National Tax Agency's own corporate number
        ("T9234567890123", None),
        ("T1234567890123", "wrong check digit"),
        ("7000012050002", "not T followed by 13 digits"),
        ("T700001205000", "not T followed by 13 digits"),
        ("T70000120500021", "not T followed by 13 digits"),
    ],
)
def test_registration_numbers_are_t_and_a_corporate_number_with_its_check_digit(number, error):
    found = registration_number_error(number)
    assert (found is None) if error is None else (error in found)


def test_the_check_digit_of_a_corporate_number():
    assert corporate_number_check_digit("000012050002") == 7
    assert corporate_number_check_digit("010001008813") == 5


def _bill_of(customer, lines):
    """A bill with `lines` (LineDraft), committed."""
    bill = create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.CARD,
        applied_on=TODAY,
        due_date=TODAY,
        lines=lines,
    )
    db.session.commit()
    return bill


ONE_LINE = [LineDraft(kind=BillLineKind.RENEWAL, description="x.jp 更新", amount=1_100)]


@pytest.fixture
def plans():
    return factories.plan_lineup()


def _bill(customer, plans, method=PaymentMethod.BANK_TRANSFER):
    servers = [
        factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30)),
        factories.server(customer, "hanako.jp", plans["premium"], date(2026, 12, 10)),
    ]
    return factories.renewal_bill(customer, *servers, method=method, today=TODAY)


def test_an_invoice_is_pdf_a_3b_tagged_for_screen_readers_and_small(app, plans):
    content = invoice(_bill(factories.customer(name="山田 太郎"), plans), TODAY).content
    reader = PdfReader(io.BytesIO(content))
    # PDF/A-3b as the XMP metadata declares it (ISO 19005-3: part 3, conformance B), with the
    # sRGB output intent an archival PDF needs.
    metadata = reader.xmp_metadata
    assert metadata is not None
    assert (metadata.pdfaid_part, metadata.pdfaid_conformance) == ("3", "B")
    assert reader.trailer["/Root"]["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    # Tagged: a structure tree a screen reader follows, and the document says it is marked.
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog and catalog["/MarkInfo"]["/Marked"]
    # The fonts are embedded as subsets (a few glyphs, not the whole Japanese font).
    fonts = {
        font.get_object()["/BaseFont"]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts and all(re.match(r"/[A-Z]{6}\+", name) for name in fonts)
    assert len(content) < 60_000


def test_an_invoice_has_every_qualified_invoice_field(app, plans):
    customer = factories.customer(name="山田 太郎")
    bill = _bill(customer, plans, PaymentMethod.CONVENIENCE_STORE)
    text = pdf_text(invoice(bill, TODAY).content)

    assert "請 求 書" in text or "請求書" in text
    assert "株式会社サンプルホスティング" in text
    assert "〒100-0001 東京都千代田区千代田1-1-1" in text
    assert "登録番号 T9234567890123" in text
    assert "山田 太郎 様" in text
    assert f"請求No. {bill.bill_no}" in text
    assert "発行日 2026年11月21日" in text and "取引日 2026年11月21日" in text
    assert "taro.jp Standardプラン 1年 更新" in text
    assert "2026年12月1日〜2027年11月30日" in text  # the period each line pays for
    assert "hanako.jp Premiumプラン 1年 更新" in text
    assert "コンビニ決済手数料" in text  # a line of its own
    assert "お支払方法 コンビニ決済" in text
    # 12,540 + 25,080 + 200 = 37,820 at 10%: tax floor(37820 * 10 / 110) = 3,438, once.
    assert "10%対象 合計(税込) 37,820円" in text
    assert "うち消費税(10%) 3,438円" in text
    assert "ご請求金額合計(税込) 37,820円" in text
    assert "1 / 1 ページ" in text


def test_a_corporation_is_addressed_onchu():
    customer = factories.customer("corp", name="株式会社テスト", kind=CustomerKind.CORPORATE)
    bill = _bill_of(customer, ONE_LINE)
    assert "株式会社テスト 御中" in pdf_text(invoice(bill, TODAY).content)


def test_tax_is_rounded_once_per_rate_for_each_rate_on_the_bill():
    customer = factories.customer()
    lines = [
        LineDraft(kind=BillLineKind.RENEWAL, description=f"item {n}", amount=105, tax_rate=rate)
        for n, rate in enumerate([10, 10, 10, 8, 8])
    ]
    bill = _bill_of(customer, lines)
    text = pdf_text(invoice(bill, TODAY).content)
    # Per line it would be 9 × 3 = 27 and 7 × 2 = 14; per rate it is floor(315×10/110) = 28 and
    # floor(210×8/108) = 15.
    assert "10%対象 合計(税込) 315円 うち消費税(10%) 28円" in text
    assert "8%対象 合計(税込) 210円 うち消費税(8%) 15円" in text


def test_an_issued_invoice_is_the_same_bytes_later_and_a_cancelled_bill_gets_a_new_one(plans):
    bill = _bill(factories.customer(), plans)
    first = invoice(bill, TODAY)
    db.session.commit()
    assert invoice(bill, date(2026, 11, 25)).content == first.content  # issued date kept

    cancel_bill(bill, NOW, None, NOBODY)
    db.session.commit()
    cancelled = invoice(bill, date(2026, 11, 25))
    db.session.commit()
    assert cancelled.id != first.id
    text = pdf_text(cancelled.content)
    assert "請求書(取消)" in text.replace(" ", "")  # the title is letter-spaced
    assert "このご請求は2026年11月21日に取り消されました。" in text
    assert "発行日 2026年11月25日" in text
    assert db.session.scalar(select(func.count()).select_from(IssuedDocument)) == 2


def test_a_changed_payment_method_gives_a_new_invoice(plans):
    bill = _bill(factories.customer(), plans)
    first = invoice(bill, TODAY)
    change_payment_method(bill, PaymentMethod.CONVENIENCE_STORE)
    db.session.commit()
    assert "コンビニ決済手数料" in pdf_text(invoice(bill, TODAY).content)
    assert "コンビニ決済手数料" not in pdf_text(first.content)


def test_a_receipt_is_for_paid_bills_only_and_says_what_was_received(plans):
    bill = _bill(factories.customer(), plans, PaymentMethod.CARD)
    with pytest.raises(DomainError, match="お支払の確認後に発行"):
        receipt(bill, TODAY)

    money = ReceivedMoney(
        "sandbox", "evt-1", PaymentMethod.CARD, bill.total, NOW, reference=bill.bill_no
    )
    apply_payment(bill, money, NOW, NOBODY)
    db.session.commit()
    text = pdf_text(receipt(bill, date(2026, 11, 22)).content)
    assert "領 収 書" in text or "領収書" in text
    assert "領収金額(税込) 37,620円" in text
    assert "領収日 2026年11月21日" in text and "発行日 2026年11月22日" in text
    assert "但し レンタルサーバー・ドメインのご契約更新料として" in text
    assert "登録番号 T9234567890123" in text and "山田 太郎 様" in text
    assert "うち消費税(10%) 3,420円" in text  # floor(37620 * 10 / 110)


def test_a_bill_of_sixty_lines_runs_over_pages_with_page_numbers():
    customer = factories.customer()
    bill = _bill_of(
        customer,
        [
            LineDraft(kind=BillLineKind.RENEWAL, description=f"site-{n:02d}.jp 更新", amount=1_100)
            for n in range(60)
        ],
    )
    pages = pdf_pages(invoice(bill, TODAY).content)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"{number} / {len(pages)} ページ" in text
        assert f"請求書 請求No. {bill.bill_no}" in text  # every page says what it belongs to
        assert "内容" in text  # the table head repeats
    assert "site-59.jp 更新" in pages[-1] and "66,000円" in pages[-1]


def test_customer_text_is_escaped_and_nothing_is_fetched():
    customer = factories.customer(name='<b>太郎</b><img src="file:///etc/hostname">')
    bill = _bill_of(customer, ONE_LINE)
    text = pdf_text(invoice(bill, TODAY).content).replace(" ", "")  # wrapped lines
    assert '<b>太郎</b><imgsrc="file:///etc/hostname">様' in text


def test_the_renderer_refuses_file_and_outside_urls(tmp_path):
    stylesheet = tmp_path / "leak.css"
    stylesheet.write_text('body::before { content: "LEAKED"; }')
    html = (
        f'<style>@import url("file://{stylesheet}");</style>'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"><p>本文</p>'
    )
    text = pdf_text(html_to_pdf(html))
    assert "本文" in text and "LEAKED" not in text


def test_a_quote_for_a_corporate_selection(plans):
    customer = factories.customer("corp", name="株式会社テスト", kind=CustomerKind.CORPORATE)
    server = factories.server(customer, "corp.co.jp", plans["standard"], date(2026, 11, 30))
    quote = quote_renewal(customer, [Selection(server.id, 12, plans["premium"].id)], False, TODAY)
    text = pdf_text(render_quote(customer, quote, TODAY))
    assert "御見積書" in text or "御 見 積 書" in text
    assert "株式会社テスト 御中" in text and "登録番号 T9234567890123" in text
    assert "corp.co.jp Standard→Premiumプラン 1年 更新(プラン変更)" in text
    assert "お見積金額合計(税込) 25,080円" in text and "うち消費税(10%) 2,280円" in text
    assert "有効期限 2026年12月5日" in text


def test_no_quote_for_an_individual(plans):
    customer = factories.customer()
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
    quote = quote_renewal(customer, [Selection(server.id, 12, None)], False, TODAY)
    with pytest.raises(DomainError, match="法人のお客様"):
        render_quote(customer, quote, TODAY)


def test_a_paper_invoice_is_queued_once(plans):
    customer = factories.company_on_invoice_terms()
    bill = _bill(customer, plans)
    request_paper_invoice(bill, factories.owner(customer), NOW)
    db.session.commit()
    with pytest.raises(DomainError, match="すでにご依頼"):
        request_paper_invoice(bill, factories.owner(customer), NOW)
    assert db.session.scalar(select(func.count()).select_from(PaperInvoiceRequest)) == 1


def test_a_cancelled_bill_gets_no_paper_invoice(plans):
    """Refused by the service itself, not only hidden on the page: a stale page (or a hand-made
    request) asking for the paper invoice of a bill cancelled meanwhile queues nothing."""
    customer = factories.company_on_invoice_terms()
    bill = _bill(customer, plans)
    cancel_bill(bill, NOW, None, Client(ip_address=None, user_agent=None))
    db.session.commit()
    with pytest.raises(DomainError, match="取り消されたご請求"):
        request_paper_invoice(bill, factories.owner(customer), NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PaperInvoiceRequest)) == 0


@pytest.mark.parametrize("kind", [CustomerKind.INDIVIDUAL, CustomerKind.CORPORATE])
def test_paper_invoices_are_for_companies_on_invoice_terms_only(plans, kind):
    """The seed: once the corporate service starts, paper invoices go only to the companies
    registered for it. An individual, or a company without invoice terms, asking anyway (a
    hand-made request: the page offers no button) queues nothing."""
    customer = factories.customer("someone", kind=kind)
    bill = _bill(customer, plans)
    with pytest.raises(DomainError, match="請求書払い.*をご利用のお客様"):
        request_paper_invoice(bill, factories.owner(customer), NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PaperInvoiceRequest)) == 0


# Corporate customers: 御中 and the contact person (担当者名)


def _company(contact_name="経理部 田中 一郎"):
    return factories.company_on_invoice_terms(name="株式会社デモ商事", contact_name=contact_name)


def test_invoice_receipt_and_quote_name_the_company_onchu_and_the_contact_person(plans):
    company = _company()
    bill = _bill(company, plans, PaymentMethod.CARD)
    money = ReceivedMoney(
        "sandbox", "evt-corp", PaymentMethod.CARD, bill.total, NOW, reference=bill.bill_no
    )
    apply_payment(bill, money, NOW, NOBODY)
    db.session.commit()
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 11, 30))
    quote = quote_renewal(company, [Selection(server.id, 12, None)], False, TODAY)

    for document in (
        invoice(bill, TODAY).content,
        receipt(bill, TODAY).content,
        render_quote(company, quote, TODAY),
    ):
        text = pdf_text(document)
        assert "株式会社デモ商事 御中" in text
        assert "ご担当: 経理部 田中 一郎 様" in text
        assert "御中 様" not in text and "株式会社デモ商事 様" not in text


def test_without_a_contact_person_the_company_alone_is_addressed(plans):
    text = pdf_text(invoice(_bill(_company(contact_name=None), plans), TODAY).content)
    assert "株式会社デモ商事 御中" in text and "ご担当" not in text


def test_an_individual_has_no_contact_line_whatever_is_stored():
    customer = factories.customer()
    customer.contact_name = "誰か"  # only a company's is ever set; shown for none other
    db.session.commit()
    assert recipient_context(customer) == {"recipient": "山田 太郎 様", "recipient_contact": None}


def test_a_month_end_invoice_lists_each_purchase_with_its_date_and_how_it_is_collected(plans):
    company = _company()
    company.direct_debit_token, company.direct_debit_account = (
        "ba_x",
        "三井住友銀行 本店 普通 ****567",
    )
    factories.domain_price("com", 1_650)
    domains = [
        factories.domain(company, name, date(2027, 1, 5)) for name in ("a-corp.com", "b-corp.com")
    ]
    for day, domain in zip((date(2026, 11, 2), date(2026, 11, 30)), domains, strict=True):
        buy_on_account(
            company,
            [Selection(domain.id, 12)],
            False,
            new_application_token(company),
            day,
            NOW,
            factories.owner(company),
            NOBODY,
        )
    db.session.commit()
    bill = bill_month_end(company.id, date(2026, 11, 30))
    db.session.commit()

    text = pdf_text(invoice(bill, date(2026, 12, 1)).content)
    assert "株式会社デモ商事 御中" in text and "ご担当: 経理部 田中 一郎 様" in text
    assert "締め日 2026年11月30日" in text and "お支払期限日 2026年12月31日" in text
    assert "2026年11月分のご利用料金(月末締め)を、下記のとおりご請求申し上げます。" in text
    assert "ご利用日" in text
    assert "2026年11月2日 a-corp.com ドメイン更新 1年" in text
    assert "2026年11月30日 b-corp.com ドメイン更新 1年" in text
    assert "10%対象 合計(税込) 3,300円 うち消費税(10%) 300円" in text
    assert "お支払方法 口座振替" in text
    assert "お引き落とし日 2026年12月31日" in text
    assert "お引き落とし口座 三井住友銀行 本店 普通 ****567" in text
