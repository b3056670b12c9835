"""Operator commands: `flask --app wsgi demo seed` (`db upgrade` is Flask-Migrate's)."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from panel.extensions import db
from panel.services.calendar import today_in_japan

demo = AppGroup("demo", help="Demo data.")


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


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo)
