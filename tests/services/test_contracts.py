from datetime import date, timedelta

import pytest

from panel.services.contracts import ContractStatus, contract_status, list_contracts
from tests import factories

RENEWAL = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("renewal_date", "is_trial", "today", "expected"),
    [
        (RENEWAL, False, date(2026, 11, 21), ContractStatus.ACTIVE),
        (RENEWAL, False, RENEWAL, ContractStatus.ACTIVE),  # the last paid day
        (RENEWAL, False, date(2026, 12, 1), ContractStatus.GRACE),
        (RENEWAL, False, date(2026, 12, 7), ContractStatus.GRACE),  # renewal date + 7
        (RENEWAL, False, date(2026, 12, 8), ContractStatus.EXPIRED),  # renewal date + 8
        (RENEWAL, True, date(2026, 11, 21), ContractStatus.TRIAL),
        (RENEWAL, True, RENEWAL, ContractStatus.TRIAL),
        (RENEWAL, True, date(2026, 12, 1), ContractStatus.GRACE),
        (RENEWAL, True, date(2026, 12, 8), ContractStatus.EXPIRED),
        (date(2028, 2, 29), False, date(2028, 3, 7), ContractStatus.GRACE),  # leap day + 7
        (date(2028, 2, 29), False, date(2028, 3, 8), ContractStatus.EXPIRED),
        (date(2026, 12, 31), False, date(2027, 1, 7), ContractStatus.GRACE),  # across years
        (date(2026, 12, 31), False, date(2027, 1, 8), ContractStatus.EXPIRED),
    ],
)
def test_status_follows_from_the_renewal_date_and_today(renewal_date, is_trial, today, expected):
    assert contract_status(renewal_date, is_trial, today) == expected


def test_list_contracts_shows_servers_first_with_status_and_days_left():
    today = date(2026, 11, 21)
    plan = factories.plan()
    customer = factories.customer()
    factories.domain(customer, "taro.com", today + timedelta(days=5))
    factories.server(customer, "late.jp", plan, today - timedelta(days=2))
    factories.server(customer, "taro.jp", plan, today + timedelta(days=30), is_trial=True)
    someone_else = factories.customer("hanako")
    factories.server(someone_else, "hanako.jp", plan, today)

    rows = list_contracts(customer, today)

    assert [(row.contract.name, row.status, row.days_left) for row in rows] == [
        ("late.jp", ContractStatus.GRACE, -2),
        ("taro.jp", ContractStatus.TRIAL, 30),
        ("taro.com", ContractStatus.ACTIVE, 5),
    ]
    assert [row.status_label for row in rows] == ["猶予期間", "お試し", "有効"]
