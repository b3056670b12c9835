"""Fixtures: one app and database per test session, emptied after every test.

The database is SQLite (a temporary file) unless PANEL_TEST_DATABASE=postgresql, which uses
TEST_DATABASE_URL. Tests commit for real, as requests do, and the tables are emptied after
each test: that keeps the app's own transaction handling under test, and lets a live server
thread (browser tests) and concurrent connections see the same data.
"""

import contextvars
import os
import re
import threading
import time
from pathlib import Path

import pyotp
import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from panel import create_app
from panel.extensions import db as _db
from tests import factories

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_database_url(tmp_path_factory) -> str:
    if os.environ.get("PANEL_TEST_DATABASE") == "postgresql":
        return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'panel-test.sqlite3'}"


def _drop_everything() -> None:
    if _db.engine.dialect.name == "postgresql":
        with _db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


class BrowserLikeClient(FlaskClient):
    """A test client whose requests run as they do in production, each in its own app context
    (so `g` and the database session are the request's own, not the test's); afterwards the
    test's session starts afresh, so it sees what the request committed."""

    def open(self, *args, **kwargs):
        outside_the_test = contextvars.copy_context()
        outside_the_test.run(_cv_app.set, None)
        response = outside_the_test.run(super().open, *args, **kwargs)
        _db.session.rollback()
        return response


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path_factory),
            # Cheap hashes keep the suite fast; the production cost is in config.py.
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST_KIB": 1024,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    app.instance_path = str(tmp_path_factory.mktemp("instance"))
    app.test_client_class = BrowserLikeClient
    with app.app_context():
        _drop_everything()
        upgrade()
        yield app
        _db.session.remove()
        _db.engine.dispose()


def _empty_tables() -> None:
    tables = [table for table in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(autouse=True)
def db(app):
    """The database, emptied again after the test; the login throttle forgets too."""
    yield _db
    _db.session.rollback()
    _db.session.remove()
    _empty_tables()
    app.extensions["failure_throttle"].reset()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a browser would find in the form at `path`."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_FIELD.search(page) or re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login_as(client):
    """Log `user` in through the login page, as a browser would (the test's client, or another
    browser's); returns the client."""

    def login(user, password: str = factories.PASSWORD, remember: bool = False, client=client):
        data = {"login_id": user.login_id, "password": password, "csrf_token": csrf_token(client)}
        if remember:
            data["remember"] = "y"
        response = client.post("/login", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return login


def fresh_code(member) -> str:
    """A code of the staff member's authenticator that the server has not seen: the current
    one, or the next one when the current one was used (the server accepts one step ahead)."""
    _db.session.rollback()
    _db.session.refresh(member)
    totp = pyotp.TOTP(member.totp_secret)
    step = max(totp.timecode(time.time()), (member.totp_last_step or 0) + 1)
    return totp.generate_otp(step)


def staff_log_in(client, member, password: str = factories.PASSWORD):
    """Log a staff member in at /staff/login with their password and a code, as a browser
    would; returns the client."""
    data = {
        "login_id": member.login_id,
        "password": password,
        "csrf_token": csrf_token(client, "/staff/login"),
    }
    response = client.post("/staff/login", data=data)
    assert response.headers.get("Location", "").startswith("/staff/login/code"), response.get_data(
        as_text=True
    )
    token = csrf_token(client, "/staff/login/code")
    response = client.post(
        "/staff/login/code", data={"code": fresh_code(member), "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def staff_login_as(client):
    """`staff_log_in` with the test's client."""
    return lambda member, password=factories.PASSWORD: staff_log_in(client, member, password)


def pytest_collection_modifyitems(config, items):
    # Browser tests last: a failure in the quick tests shows up first.
    items.sort(key=lambda item: Path(item.fspath).parts[-2] == "e2e")


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port, in a thread, as a real HTTP server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def mail_server(app, monkeypatch):
    """A running SMTP server on loopback that the app delivers to."""
    from tests.mail_server import MailServer, free_port

    server = MailServer(free_port()).start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    yield server
    server.stop()
