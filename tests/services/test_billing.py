from datetime import date

from panel.extensions import db
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.services.billing import LineDraft, allocate_bill_no, create_bill, list_awaiting_bills
from tests import factories


def test_bill_numbers_count_per_day():
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0001"
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0002"
    assert allocate_bill_no(date(2026, 11, 22)) == "20261122-0001"
    db.session.rollback()  # an application that fails gives its number back
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0001"


def _bill(customer, issued_on, due_date, amounts):
    return create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.BANK_TRANSFER,
        issued_on=issued_on,
        due_date=due_date,
        lines=[
            LineDraft(kind=BillLineKind.RENEWAL, description=f"line {n}", amount=amount)
            for n, amount in enumerate(amounts)
        ],
    )


def test_a_new_bill_awaits_payment_with_its_lines_in_order():
    customer = factories.customer()
    bill = _bill(customer, date(2026, 11, 21), date(2026, 11, 28), [12_540, 1_100, 200])
    db.session.commit()
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert [line.position for line in bill.lines] == [1, 2, 3]
    assert bill.total == 13_840


def test_awaiting_bills_are_the_customers_own_by_due_date():
    customer = factories.customer()
    later = _bill(customer, date(2026, 11, 20), date(2026, 12, 4), [1_100])
    sooner = _bill(customer, date(2026, 11, 21), date(2026, 11, 28), [1_100])
    _bill(factories.customer("hanako"), date(2026, 11, 21), date(2026, 11, 28), [1_100])
    db.session.commit()
    assert list_awaiting_bills(customer) == [sooner, later]
