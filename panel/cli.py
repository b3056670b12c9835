"""Operator commands: `demo seed`, `mail send`, `sandbox notify` (`db upgrade` is
Flask-Migrate's)."""

from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from panel.database import writing
from panel.dates import today_in_japan
from panel.extensions import db
from panel.services.mail import deliver_outbox
from panel.services.payments import IN_FLIGHT, reconcile_attempts


class WritingGroup(AppGroup):
    """Commands that write: their transactions take the write lock as requests' do (SQLite)."""

    def invoke(self, ctx):
        with writing():
            return super().invoke(ctx)


demo = WritingGroup("demo", help="Demo data.")
mail = WritingGroup("mail", help="The e-mail outbox.")
sandbox = WritingGroup("sandbox", help="The sandbox payment gateway.")
payments = WritingGroup("payments", help="Payment attempts.")
jobs = WritingGroup("jobs", help="The daily job.")
customers = WritingGroup("customers", help="Customer accounts (staff).")


@demo.command("seed")
def seed_command() -> None:
    """Add the demo plans, customers, contracts, bills and staff (safe to run again)."""
    from panel.services.demo import seed_demo

    created = seed_demo(today_in_japan())
    db.session.commit()
    click.echo("デモデータを作成しました。" if created else "デモデータは作成済みです。")
    base_url = current_app.config["PANEL_BASE_URL"]
    click.echo(f"  panel:     {base_url}/login")
    click.echo("  customer:  demo / demo-pass-2026   (個人)")
    click.echo("  corporate: demo-corp / demo-pass-2026   (法人)")
    click.echo(f"  staff:     {base_url}/staff/login")
    click.echo("             staff / staff-pass-2026   (管理者; 初回ログインで二要素認証を設定)")


@mail.command("failed")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def failed_command(limit: int) -> None:
    """List mail given up or refused for a recipient, newest first, with each answer."""
    from panel.services.mail import undelivered_mail

    mails = undelivered_mail(limit)
    if not mails:
        click.echo("no undelivered mail")
    for mail in mails:
        state = f"given up {mail.failed_at:%Y-%m-%d %H:%M}" if mail.failed_at else "partly sent"
        click.echo(f"#{mail.id} {state} {mail.kind}: {mail.subject}")
        if mail.failed_at and mail.last_error:
            click.echo(f"    last error: {mail.last_error}")
        for recipient in mail.addressees:
            code = f" {recipient.smtp_code}" if recipient.smtp_code else ""
            reply = f" {recipient.smtp_reply}" if recipient.smtp_reply else ""
            click.echo(f"    {recipient.address}: {recipient.status}{code}{reply}")


@mail.command("send")
def send_command() -> None:
    """Deliver the outbox over SMTP; what fails for now is retried by a later run, what is
    refused for good or fails MAIL_MAX_ATTEMPTS times is kept as failed."""
    report = deliver_outbox(datetime.now(UTC))
    click.echo(
        f"sent {report.sent}, failed {report.retrying} (will be retried), "
        f"given up {report.given_up} (kept as failed)"
    )


@jobs.command("daily")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The Japan date to run for (default: today).",
)
def daily_command(day: datetime | None) -> None:
    """Everything due on the day: overdue bills cancelled, expiries told, renewal reminders,
    the monthly domain notice on the 1st; then the outbox delivered. Running it again for the
    same day does nothing twice."""
    from panel.jobs.daily import run_daily

    today = day.date() if day else today_in_japan()
    for what, count in run_daily(today).items():
        click.echo(f"{today}: {what}: {count}")


@payments.command("reconcile")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=int(IN_FLIGHT.total_seconds()),
    show_default=True,
    help="Settle pending attempts at least this many seconds old (0 after a crash).",
)
def reconcile_command(older_than: int) -> None:
    """Settle payment attempts a crash left pending (and 3-D Secure challenges left open), by
    asking the gateway what became of each idempotency key."""
    counts = reconcile_attempts(datetime.now(UTC), timedelta(seconds=older_than))
    click.echo(
        f"applied {counts['applied']} (money taken: the bill is paid), "
        f"closed {counts['closed']} (nothing taken)"
    )


@sandbox.command("notify")
@click.argument("bill_no")
@click.option(
    "--times", default=1, show_default=True, help="Deliver the same notification N times."
)
@click.option("--amount", type=int, help="Yen received (default: what the bill asks for).")
@click.option("--url", help="The webhook (default: PANEL_BASE_URL/payments/notifications).")
def notify_command(bill_no: str, times: int, amount: int | None, url: str | None) -> None:
    """Send the signed notification that a bank transfer or a convenience-store payment for
    BILL_NO arrived, as the bank or the store would (the panel must be running)."""
    from sqlalchemy import select

    from panel.gateways import payment_gateway
    from panel.gateways.sandbox import SandboxGateway
    from panel.models import Bill
    from panel.models.bills import PaymentMethod
    from panel.services.billing import transfer_reference
    from panel.services.payments import current_store_payment

    bill = db.session.scalar(select(Bill).where(Bill.bill_no == bill_no))
    if bill is None:
        raise click.ClickException(f"請求No. {bill_no} はありません。")
    now = datetime.now(UTC)
    if bill.payment_method == PaymentMethod.BANK_TRANSFER:
        reference = transfer_reference(bill)
        payer_name = f"{reference} {bill.customer.name}"
        due = bill.total
    elif bill.payment_method == PaymentMethod.CONVENIENCE_STORE:
        slip = current_store_payment(bill, today_in_japan(now))
        if slip is None:
            raise click.ClickException(
                "お支払番号が発行されていません。ご請求の詳細ページで発行してください。"
            )
        reference, payer_name, due = slip.payment_number, None, slip.amount
    else:
        raise click.ClickException("銀行振込かコンビニ決済のご請求を指定してください。")
    gateway = payment_gateway()
    if not isinstance(gateway, SandboxGateway):
        raise click.ClickException("PAYMENT_GATEWAY が sandbox のときだけ使えます。")
    notification = gateway.notification_for(
        bill.payment_method, reference, amount or due, payer_name, now
    )
    url = url or current_app.config["PANEL_BASE_URL"].rstrip("/") + "/payments/notifications"
    for attempt in range(1, times + 1):
        try:
            status, body = gateway.send_notification(url, notification, datetime.now(UTC))
        except OSError as error:
            raise click.ClickException(f"{url} に接続できません: {error}") from None
        click.echo(f"{attempt}: {notification.event_id} → HTTP {status} {body.strip()}")


@customers.command("invoice-terms")
@click.argument("member_id")
@click.argument("state", type=click.Choice(["on", "off"]))
def invoice_terms_command(member_id: str, state: str) -> None:
    """Put the corporate customer MEMBER_ID on invoice terms (請求書払い, 月末締め翌月末払い), or
    take it off them: it then buys on account and gets one bill at month end."""
    from sqlalchemy import select

    from panel.models import Customer
    from panel.refusals import DomainError
    from panel.services.audit import Client
    from panel.services.on_account import set_invoice_terms

    customer = db.session.scalar(select(Customer).where(Customer.member_id == member_id))
    if customer is None:
        raise click.ClickException(f"会員ID {member_id} はありません。")
    try:
        changed = set_invoice_terms(
            customer, state == "on", datetime.now(UTC), Client(None, "flask customers")
        )
    except DomainError as refusal:
        raise click.ClickException(refusal.message) from None
    db.session.commit()
    click.echo(f"{member_id}: 請求書払い {state}" + ("" if changed else " (変更なし)"))


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(mail)
    app.cli.add_command(sandbox)
    app.cli.add_command(payments)
    app.cli.add_command(jobs)
    app.cli.add_command(customers)
