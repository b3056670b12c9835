from datetime import date

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import Bill, OutboxMail
from panel.models.bills import BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import (
    Selection,
    list_renewable_contracts,
    period_label,
    quote_renewal,
)
from tests import factories

TODAY = date(2026, 11, 21)


@pytest.fixture
def plans():
    return factories.plan_lineup()


@pytest.fixture
def customer():
    return factories.customer(sub_email="taro-sub@example.com")


def _quote(customer, *selections, month_end=False, today=TODAY, method=None):
    return quote_renewal(customer, list(selections), month_end, today, method)


@pytest.mark.parametrize(
    ("renewal_date", "months", "month_end", "new_date", "price", "proration"),
    [
        (date(2026, 11, 30), 1, False, date(2026, 12, 30), 1_100, 0),
        (date(2026, 11, 30), 1, True, date(2026, 12, 31), 1_100, 35),  # 1100*1//31
        (date(2026, 12, 15), 1, True, date(2027, 1, 31), 1_100, 567),  # 1100*16//31
        (date(2027, 1, 31), 1, False, date(2027, 2, 28), 1_100, 0),  # clamped
        (date(2027, 1, 31), 1, True, date(2027, 2, 28), 1_100, 0),  # already the month's end
        (date(2028, 1, 30), 1, True, date(2028, 2, 29), 1_100, 0),  # leap year: no extra days
        (date(2028, 1, 10), 1, True, date(2028, 2, 29), 1_100, 720),  # 1100*19//29
        (date(2026, 11, 20), 3, True, date(2027, 2, 28), 3_300, 314),  # 1100*8//28
        (date(2026, 12, 1), 12, False, date(2027, 12, 1), 12_540, 0),
    ],
)
def test_renewal_price_and_new_date(
    plans, customer, renewal_date, months, month_end, new_date, price, proration
):
    server = factories.server(customer, "taro.jp", plans["standard"], renewal_date)
    quote = _quote(
        customer,
        Selection(server.id, months, plans["standard"].id),
        month_end=month_end,
        today=min(TODAY, renewal_date),
    )
    (renewal,) = quote.renewals
    assert (renewal.new_renewal_date, renewal.price, renewal.proration) == (
        new_date,
        price,
        proration,
    )
    assert quote.total == price + proration
    assert [line.kind for line in quote.lines] == (
        ["renewal", "month_end_proration"] if proration else ["renewal"]
    )


@pytest.mark.parametrize(
    ("today", "renewable"),
    [
        (date(2026, 11, 30), True),  # the renewal date
        (date(2026, 12, 7), True),  # renewal date + 7: the last day of grace
        (date(2026, 12, 8), False),  # renewal date + 8
    ],
)
def test_renewal_is_possible_until_seven_days_after_the_renewal_date(
    plans, customer, today, renewable
):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
    quote = _quote(customer, Selection(server.id, 1, plans["standard"].id), today=today)
    assert bool(quote.renewals) is renewable
    assert (server in list_renewable_contracts(customer, today)) is renewable
    if not renewable:
        assert "7日後を過ぎている" in quote.refusals[server.id].message


def test_a_grace_renewal_extends_from_the_renewal_date_never_from_today(plans, customer):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 16))
    quote = _quote(customer, Selection(server.id, 1, plans["standard"].id))
    assert quote.renewals[0].new_renewal_date == date(2026, 12, 16)


def test_leap_day_grace(plans, customer):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2028, 2, 29))
    selection = Selection(server.id, 12, plans["standard"].id)
    assert _quote(customer, selection, today=date(2028, 3, 7)).renewals[0].new_renewal_date == (
        date(2029, 2, 28)
    )
    assert not _quote(customer, selection, today=date(2028, 3, 8)).renewals


def test_a_period_the_plan_does_not_offer_is_refused(plans, customer):
    server = factories.server(customer, "taro.jp", plans["lite"], date(2026, 12, 10))
    quote = _quote(customer, Selection(server.id, 1, plans["lite"].id))
    assert quote.refusals[server.id].message == "Liteプランでは1ヶ月の期間は選択できません。"


def test_a_plan_change_is_priced_at_the_new_plan_and_recorded_on_the_line(plans, customer):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 12, 10))
    quote = _quote(customer, Selection(server.id, 12, plans["premium"].id), month_end=True)
    (renewal,) = quote.renewals
    assert renewal.price == 25_080
    assert renewal.proration == 2_200 * 21 // 31  # 2027-12-10 → 12-31
    line = quote.lines[0]
    assert line.target_plan_id == plans["premium"].id
    assert "Standard→Premiumプラン" in line.description


@pytest.mark.parametrize(
    ("domains_used", "mail_accounts_used", "reasons"),
    [
        (12, 10, ["ドメイン数の上限は5個ですが、12個ご利用中です"]),
        (3, 80, ["メールアカウント数の上限は50個ですが、80個ご利用中です"]),
        (6, 51, ["ドメイン数の上限は5個", "メールアカウント数の上限は50個"]),
    ],
)
def test_a_downgrade_beyond_the_lower_plans_limits_is_refused_with_the_reason(
    plans, customer, domains_used, mail_accounts_used, reasons
):
    server = factories.server(
        customer,
        "taro.jp",
        plans["standard"],
        date(2026, 12, 10),
        domains_used=domains_used,
        mail_accounts_used=mail_accounts_used,
    )
    quote = _quote(customer, Selection(server.id, 12, plans["lite"].id))
    message = quote.refusals[server.id].message
    assert message.startswith("Liteプランへは変更できません。")
    assert all(reason in message for reason in reasons)


def test_a_downgrade_within_the_limits_is_allowed(plans, customer):
    server = factories.server(
        customer,
        "taro.jp",
        plans["standard"],
        date(2026, 12, 10),
        domains_used=5,
        mail_accounts_used=50,
    )
    assert _quote(customer, Selection(server.id, 12, plans["lite"].id)).renewals[0].price == 6_270


@pytest.mark.parametrize(
    ("expires_on", "months", "price"),
    [
        (date(2026, 12, 31), 12, 1_650),
        (date(2026, 12, 31), 36, 4_950),
        # Ten years only from a date up to today: never more than 10 years from today.
        (date(2026, 11, 20), 120, 16_500),
    ],
)
def test_domains_renew_in_whole_years(plans, customer, expires_on, months, price):
    factories.domain_price("com", 1_650)
    domain = factories.domain(customer, "taro.com", expires_on)
    quote = _quote(customer, Selection(domain.id, months), month_end=True)
    assert (quote.renewals[0].price, quote.renewals[0].proration) == (price, 0)


@pytest.mark.parametrize("months", [1, 6, 132])
def test_a_domain_period_that_is_not_1_to_10_years_is_refused(plans, customer, months):
    factories.domain_price("com", 1_650)
    domain = factories.domain(customer, "taro.com", date(2026, 12, 31))
    assert "1年〜10年" in _quote(customer, Selection(domain.id, months)).refusals[domain.id].message


def test_the_convenience_store_fee_is_a_line_only_when_chosen(plans, customer):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 12, 10))
    selection = Selection(server.id, 1, plans["standard"].id)
    assert _quote(customer, selection, method=PaymentMethod.BANK_TRANSFER).total == 1_100
    quote = _quote(customer, selection, method=PaymentMethod.CONVENIENCE_STORE)
    assert quote.total == 1_300
    assert quote.lines[-1].description == "コンビニ決済手数料"


def test_tax_is_shown_once_over_the_total(plans, customer):
    first = factories.server(customer, "a.jp", plans["standard"], date(2026, 12, 10))
    second = factories.server(customer, "b.jp", plans["standard"], date(2026, 12, 10))
    quote = _quote(
        customer,
        Selection(first.id, 1, plans["standard"].id),
        Selection(second.id, 1, plans["standard"].id),
    )
    assert [(rate.rate, rate.total, rate.tax) for rate in quote.tax_totals] == [(10, 2_200, 200)]


@pytest.mark.parametrize(
    ("renewal_dates", "due_date"),
    [
        ([date(2026, 11, 25), date(2027, 3, 1)], date(2026, 12, 2)),  # earliest + 7
        ([date(2027, 3, 1)], date(2026, 12, 5)),  # at most 14 days after the application
        ([date(2026, 11, 16)], date(2026, 11, 23)),  # in grace: the last renewable day
    ],
)
def test_the_due_date(plans, customer, renewal_dates, due_date):
    servers = [
        factories.server(customer, f"s{n}.jp", plans["standard"], renewal)
        for n, renewal in enumerate(renewal_dates)
    ]
    quote = _quote(customer, *[Selection(s.id, 1, plans["standard"].id) for s in servers])
    assert quote.due_date == due_date


def test_another_customers_contract_is_refused(plans, customer):
    theirs = factories.server(
        factories.customer("hanako"), "hanako.jp", plans["standard"], date(2026, 12, 10)
    )
    with pytest.raises(DomainError):
        _quote(customer, Selection(theirs.id, 1, plans["standard"].id))


def _apply(customer, *selections, token=None, method=PaymentMethod.BANK_TRANSFER, month_end=False):
    token = token or new_application_token(customer)
    bill = apply_renewal(customer, list(selections), month_end, method, token, TODAY)
    db.session.commit()
    return bill


def test_applying_makes_one_bill_awaiting_payment_and_queues_its_mail(plans, customer):
    first = factories.server(customer, "a.jp", plans["standard"], date(2026, 11, 25))
    second = factories.server(customer, "b.jp", plans["standard"], date(2026, 12, 31))
    bill = _apply(
        customer,
        Selection(first.id, 3, plans["standard"].id),
        Selection(second.id, 12, plans["premium"].id),
        month_end=True,
    )

    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert bill.due_date == date(2026, 12, 2)
    assert [line.new_renewal_date for line in bill.lines if line.kind == "renewal"] == [
        date(2027, 2, 28),
        date(2027, 12, 31),
    ]
    assert bill.total == 3_300 + 1_100 * 3 // 28 + 25_080
    # Nothing changes before payment: not the renewal date, not the plan.
    assert (first.renewal_date, second.plan_id) == (date(2026, 11, 25), plans["standard"].id)
    mail = db.session.scalar(select(OutboxMail))
    assert mail.recipients == "taro@example.jp, taro-sub@example.com"
    assert bill.bill_no in mail.subject


def test_the_same_application_submitted_twice_makes_one_bill(plans, customer):
    server = factories.server(customer, "a.jp", plans["standard"], date(2026, 12, 10))
    selection = Selection(server.id, 1, plans["standard"].id)
    token = new_application_token(customer)
    assert _apply(customer, selection, token=token) == _apply(customer, selection, token=token)
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 1


@pytest.mark.parametrize("whose", ["another customer's", "made up"])
def test_only_a_token_the_server_made_for_this_customer_applies(plans, customer, whose):
    """A token is signed for its customer: another customer's (equal to one already on their
    bill, say) or a made-up one is refused, never a database error."""
    other = factories.customer("hanako")
    theirs = factories.server(other, "hanako.jp", plans["standard"], date(2026, 12, 10))
    token = new_application_token(other)
    _apply(other, Selection(theirs.id, 1, plans["standard"].id), token=token)
    mine = factories.server(customer, "a.jp", plans["standard"], date(2026, 12, 10))
    forged = token if whose == "another customer's" else "abc.0123456789abcdef0123456789abcdef"
    with pytest.raises(DomainError, match="有効期限"):
        _apply(customer, Selection(mine.id, 1, plans["standard"].id), token=forged)
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 1


def test_a_contract_on_a_bill_awaiting_payment_cannot_go_on_a_second(plans, customer):
    server = factories.server(customer, "a.jp", plans["standard"], date(2026, 12, 10))
    bill = _apply(customer, Selection(server.id, 1, plans["standard"].id))
    quote = _quote(customer, Selection(server.id, 3, plans["standard"].id))
    assert quote.refusals[server.id].bill_no == bill.bill_no
    assert f"請求No. {bill.bill_no}" in quote.refusals[server.id].message
    with pytest.raises(DomainError):
        _apply(customer, Selection(server.id, 3, plans["standard"].id))


def test_nothing_to_apply_or_no_method_is_refused(plans, customer):
    server = factories.server(customer, "a.jp", plans["standard"], date(2026, 12, 10))
    with pytest.raises(DomainError, match="選択してください"):
        _apply(customer)
    with pytest.raises(DomainError, match="お支払方法"):
        _apply(customer, Selection(server.id, 1, plans["standard"].id), method="cash")


@pytest.mark.parametrize(
    ("months", "label"), [(1, "1ヶ月"), (6, "6ヶ月"), (12, "1年"), (36, "3年"), (60, "5年")]
)
def test_period_labels(months, label):
    assert period_label(months) == label


def test_each_line_carries_the_period_it_pays_for(plans, customer):
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
    quote = _quote(customer, Selection(server.id, 1, plans["standard"].id), month_end=True)
    renewal, proration = quote.lines
    assert (renewal.period_start, renewal.period_end) == (date(2026, 12, 1), date(2026, 12, 30))
    assert (proration.period_start, proration.period_end) == (
        date(2026, 12, 31),
        date(2026, 12, 31),
    )
