"""One unit of work per request: committed when the view returns, rolled back when it raises or a
service refuses, and an error page that still renders after a failed flush."""

import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, Customer, User
from panel.refusals import DomainError
from panel.views import settings as settings_views
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def owner(client, login_as):
    customer = factories.customer(name="山田 太郎")
    return login_as(factories.owner(customer)), customer


def _profile_form(client, name: str) -> dict:
    return {
        "csrf_token": csrf_token(client, "/settings/profile"),
        "name": name,
        "contract_email": "taro@example.jp",
        "sub_email": "",
        "notify_40_days_before": "no",
    }


def _name(customer) -> str:
    db.session.rollback()  # see what the request committed
    return db.session.get(Customer, customer.id).name


def test_a_view_that_returns_commits_everything_once(owner):
    client, customer = owner
    response = client.post("/settings/profile", data=_profile_form(client, "山田 花子"))
    assert response.status_code == 302
    assert _name(customer) == "山田 花子"
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "profile_changed"))


def test_a_refusal_undoes_what_the_service_changed_before_it_refused(owner, monkeypatch):
    client, customer = owner

    def change_then_refuse(customer, **changes):
        customer.name = "途中まで変更"
        db.session.flush()
        raise DomainError("このお名前は使えません。", field="name")

    monkeypatch.setattr(settings_views, "update_profile", change_then_refuse)
    response = client.post("/settings/profile", data=_profile_form(client, "山田 花子"))
    assert response.status_code == 200
    assert "このお名前は使えません。" in response.get_data(as_text=True)
    assert _name(customer) == "山田 太郎"


def test_a_failed_flush_ends_in_the_japanese_error_page_and_keeps_nothing(app, owner, monkeypatch):
    """The error page reads the database (the navigation of a signed-in user): it rolls back
    first, so a failed flush does not turn it into a second error or Werkzeug's English page."""
    client, customer = owner
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def change_then_break(customer, **changes):
        customer.name = "途中まで変更"
        db.session.add(User(customer=customer, login_id="taro", password_hash="x", role="owner"))
        db.session.flush()  # the login ID is taken: IntegrityError

    monkeypatch.setattr(settings_views, "update_profile", change_then_break)
    response = client.post("/settings/profile", data=_profile_form(client, "山田 花子"))
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "システムエラーが発生しました" in page
    assert "会員登録情報変更" in page  # the navigation of the signed-in user
    assert _name(customer) == "山田 太郎"
