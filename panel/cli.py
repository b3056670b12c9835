"""Operator commands: `demo seed`, `mail send` (`db upgrade` is Flask-Migrate's)."""

from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from panel.extensions import db
from panel.services.calendar import today_in_japan
from panel.services.mail import deliver_outbox

demo = AppGroup("demo", help="Demo data.")
mail = AppGroup("mail", help="The e-mail outbox.")


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
    click.echo("  staff:     staff / staff-pass-2026")


@mail.command("send")
def send_command() -> None:
    """Deliver the outbox over SMTP; what fails is retried by a later run."""
    sent, failed = deliver_outbox(datetime.now(UTC))
    click.echo(f"sent {sent}, failed {failed} (will be retried)")


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(mail)
