"""Several worker processes on one database behave as one panel: nothing a login depends on
lives in a process."""

import pytest

from panel import create_app
from panel.config import instance_secret_key
from panel.extensions import db
from tests import factories
from tests.conftest import BrowserLikeClient, csrf_token


def test_the_signing_key_is_made_once_per_instance_folder(tmp_path):
    key = instance_secret_key(tmp_path)
    assert len(key) == 64
    assert instance_secret_key(tmp_path) == key  # what every other worker reads
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.iterdir()) == [tmp_path / "secret_key"]  # no drafts left behind


@pytest.fixture
def workers(app):
    """Two more app instances on the test database, as two worker processes would be."""
    started = []

    def start(secret_key):
        worker = _worker(app, secret_key)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        with worker.app_context():
            db.engine.dispose()


def _worker(app, secret_key):
    shared = ("SQLALCHEMY_DATABASE_URI", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST_KIB")
    worker = create_app({key: app.config[key] for key in shared} | {"SECRET_KEY": secret_key})
    worker.test_client_class = BrowserLikeClient
    return worker


def test_a_login_on_one_worker_holds_on_another_and_logout_ends_it_on_both(workers, tmp_path):
    factories.customer()
    secret_key = instance_secret_key(tmp_path)
    first, second = workers(secret_key), workers(secret_key)

    browser = first.test_client()
    browser.post(
        "/login",
        data={
            "login_id": "taro",
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(browser),
        },
    )
    cookie = browser.get_cookie("session").value

    same_browser_on_second = second.test_client()
    same_browser_on_second.set_cookie("session", cookie)
    assert same_browser_on_second.get("/").status_code == 200
    same_browser_on_second.post(
        "/logout", data={"csrf_token": csrf_token(same_browser_on_second, "/")}
    )

    replay_on_first = first.test_client()
    replay_on_first.set_cookie("session", cookie)
    assert replay_on_first.get("/").status_code == 302
