"""What the benchmarks share: an app on a fresh database, a customer, a logged-in client."""

import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from panel import create_app  # noqa: E402
from panel.extensions import db  # noqa: E402
from panel.models import Customer, User  # noqa: E402
from panel.services.auth import hash_password  # noqa: E402

PASSWORD = "bench-pass"  # noqa: S105


def bench_app(**config):
    """The app on DATABASE_URL (emptied first; PostgreSQL) or on a temporary SQLite file,
    with these settings besides."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST_KIB": 1024,
        }
        | config
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    return app


def backend(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]


def bench_customer() -> Customer:
    customer = Customer(
        member_id="bench", name="ベンチ", kind="individual", contract_email="bench@example.jp"
    )
    db.session.add_all(
        [customer, User(customer=customer, login_id="bench", password_hash=hash_password(PASSWORD))]
    )
    return customer


def logged_in_client(app):
    """A test client logged in as the bench customer; returns (client, CSRF token)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"login_id": "bench", "password": PASSWORD, "csrf_token": token})
    # Login starts a new session, with a new CSRF token.
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    return client, token


def percentile(timings: list[float], share: float) -> float:
    """The value below which `share` of the timings lie, in milliseconds."""
    ordered = sorted(timings)
    if share == 0.5:
        return statistics.median(ordered) * 1000
    return ordered[max(0, int(len(ordered) * share) - 1)] * 1000
