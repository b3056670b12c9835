"""Bills: numbering, creation and the lists customers see."""

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import Bill, BillLine, BillNumberCounter, Customer
from panel.models.bills import STANDARD_TAX_RATE, BillStatus, PaymentMethod


def allocate_bill_no(issued_on: date) -> str:
    """The next bill No. for a day: the date and a daily sequence, e.g. 20261121-0001.

    One upsert hands out the number, so concurrent applications never get the same one and a
    rolled-back application gives its number back.
    """
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = BillNumberCounter.__table__
    statement = (
        dialect.insert(table)
        .values(issued_on=issued_on, last_number=1)
        .on_conflict_do_update(
            index_elements=[table.c.issued_on],
            set_={"last_number": table.c.last_number + 1},
        )
        .returning(table.c.last_number)
    )
    number = db.session.execute(statement).scalar_one()
    return f"{issued_on:%Y%m%d}-{number:04d}"


@dataclass(frozen=True)
class LineDraft:
    """A bill line before it is on a bill."""

    kind: str
    description: str
    amount: int
    tax_rate: int = STANDARD_TAX_RATE
    contract_id: int | None = None
    period_months: int | None = None
    new_renewal_date: date | None = None
    target_plan_id: int | None = None


def create_bill(
    customer: Customer,
    *,
    kind: str,
    payment_method: str,
    issued_on: date,
    due_date: date,
    lines: list[LineDraft],
) -> Bill:
    """A new bill awaiting payment, with its lines numbered in order."""
    bill = Bill(
        bill_no=allocate_bill_no(issued_on),
        customer=customer,
        kind=kind,
        status=BillStatus.AWAITING_PAYMENT,
        payment_method=payment_method,
        issued_on=issued_on,
        due_date=due_date,
        lines=[
            BillLine(position=position, **asdict(draft))
            for position, draft in enumerate(lines, start=1)
        ],
    )
    db.session.add(bill)
    return bill


def list_awaiting_bills(customer: Customer) -> list[Bill]:
    """The customer's bills awaiting payment, the most urgent due date first."""
    return list(
        db.session.scalars(
            select(Bill)
            .options(selectinload(Bill.lines))
            .where(Bill.customer_id == customer.id, Bill.status == BillStatus.AWAITING_PAYMENT)
            .order_by(Bill.due_date, Bill.id)
        )
    )


def payment_instructions(bill: Bill, bank_account: str) -> str:
    """What the customer does next to pay `bill` by its method (bill page and bill e-mail)."""
    method = PaymentMethod(bill.payment_method)
    if method == PaymentMethod.BANK_TRANSFER:
        return (
            f"お支払期限日までに、下記の口座へお振込みください。\n{bank_account}\n"
            f"振込名義の前に請求No.({bill.bill_no})を入れてください。"
            "お振込後は、ご請求の詳細ページの「振込連絡」からご連絡いただくと確認が早くなります。"
            "入金確認後にご契約へ反映されます。"
        )
    if method == PaymentMethod.CONVENIENCE_STORE:
        return (
            "ご請求の詳細ページの「お支払のお手続き」でお支払番号を取得し、"
            "お支払期限日までにコンビニエンスストアでお支払いください。"
            "店舗からの通知後(1〜2時間かかる場合があります)にご契約へ反映されます。"
        )
    if method == PaymentMethod.PAYPAL:
        return (
            "ご請求の詳細ページの「お支払のお手続き」からPayPalでお支払いください。"
            "決済後すぐにご契約へ反映されます。"
        )
    if method == PaymentMethod.CARD:
        return (
            "ご請求の詳細ページの「お支払のお手続き」からクレジットカード"
            "(VISA・Master・JCB・American Express)でお支払いください。"
            "決済後すぐにご契約へ反映されます。"
        )
    return "お支払は自動で行われます。"
