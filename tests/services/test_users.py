from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from panel.extensions import db
from panel.models import AuditEvent, Role
from panel.refusals import DomainError
from panel.services import auth
from panel.services.audit import Client
from panel.services.users import add_sub_user, change_role, disable_user, enable_user
from tests import factories

CLIENT = Client(ip_address="192.0.2.10", user_agent="pytest")
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
NEW_PASSWORD = "keiri-no-password-2026"


@pytest.fixture
def owner():
    return factories.owner(factories.customer())


def _add(owner, **changes):
    fields = {
        "login_id": "keiri",
        "email": "keiri@example.jp",
        "role": Role.BILLING,
        "password": NEW_PASSWORD,
    } | changes
    return add_sub_user(owner.customer, by=owner, client=CLIENT, **fields)


def test_the_owner_adds_a_sub_user_who_can_then_log_in(owner):
    user = _add(owner, login_id=" Keiri ")
    db.session.commit()
    assert (user.login_id, user.role, user.customer_id) == (
        "taro+keiri",
        "billing",
        owner.customer_id,
    )
    assert auth.authenticate("taro+keiri", NEW_PASSWORD, CLIENT) == user
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user_added"))
    assert (event.user_id, event.detail) == (owner.id, "taro+keiri(請求担当)")


def test_the_whole_login_id_with_the_accounts_own_prefix_is_understood(owner):
    assert _add(owner, login_id="Taro+Keiri").login_id == "taro+keiri"


@pytest.mark.parametrize(
    "name",
    ["keiri", "corp", "demo-corp", "demo-keiri", "corp+keiri", "demo-corp+keiri", "demo+x"],
)
def test_a_sub_users_login_id_never_tells_about_another_account(name):
    # Member IDs that begin one another: with "-" as the separator, demo's "corp" would have
    # been demo-corp's own login ID, and its "corp-keiri" demo-corp's sub-user's.
    demo = factories.owner(factories.customer(member_id="demo"))
    corporate = factories.customer(member_id="demo-corp")
    factories.sub_user(corporate, "demo-corp+keiri", Role.BILLING)
    factories.sub_user(factories.customer(member_id="other"), "demo-keiri", Role.BILLING)
    db.session.commit()
    try:
        user = _add(demo, login_id=name)
    except DomainError as refusal:
        assert "既に使われています" not in refusal.message
        assert "半角英小文字" in refusal.message
    else:
        db.session.commit()  # no other account's login ID stands in the way
        assert user.login_id == "demo+" + name.removeprefix("demo+")
        assert user.customer_id == demo.customer_id


def test_already_used_only_ever_concerns_the_accounts_own_users(owner):
    _add(owner)
    db.session.commit()
    with pytest.raises(DomainError) as refusal:
        _add(owner, login_id="KEIRI", email="other@example.jp")
    assert refusal.value.field == "login_id"
    assert refusal.value.message == "このログインIDは、このアカウントで既に使われています。"


def test_a_member_id_cannot_carry_the_separator_of_sub_users_login_ids():
    with pytest.raises(IntegrityError):
        factories.customer(member_id="demo+keiri")
    db.session.rollback()


def test_sub_users_added_before_the_prefix_keep_their_login_ids(owner):
    earlier = factories.sub_user(owner.customer, "taro-keiri", Role.BILLING)
    db.session.commit()
    assert auth.authenticate("taro-keiri", factories.PASSWORD, CLIENT) == earlier
    assert _add(owner, login_id="taro-keiri").login_id == "taro+taro-keiri"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"login_id": "k" * 32}, "login_id", "1〜31文字"),
        ({"login_id": "太郎"}, "login_id", "半角英小文字"),
        ({"login_id": "-keiri"}, "login_id", "英数字で始めて"),
        ({"login_id": "taro+"}, "login_id", "「taro+」に続く部分"),
        ({"role": "admin"}, "role", "役割を選んでください"),
        ({"password": "short-pass"}, "password", "12文字以上"),
        ({"password": "taro-keiri-2026!"}, "password", "含めないでください"),
        ({"password": "passwordpassword"}, "password", "よく使われていて"),
    ],
)
def test_a_sub_user_is_refused_with_the_reason_on_its_field(owner, changes, field, message):
    with pytest.raises(DomainError) as refusal:
        _add(owner, **changes)
    assert refusal.value.field == field
    assert message in refusal.value.message


def test_the_last_owner_can_be_neither_demoted_nor_disabled(owner):
    for change in (
        lambda: change_role(owner, Role.BILLING, by=owner, client=CLIENT),
        lambda: disable_user(owner, by=owner, client=CLIENT, now=NOW),
    ):
        with pytest.raises(DomainError, match="管理者が1人もいなくなる"):
            change()
        db.session.rollback()
    assert owner.role == Role.OWNER and owner.is_active

    second = _add(owner, role=Role.OWNER)
    db.session.commit()
    change_role(owner, Role.READ_ONLY, by=second, client=CLIENT)
    db.session.commit()
    assert owner.role == Role.READ_ONLY
    with pytest.raises(DomainError, match="管理者が1人もいなくなる"):
        disable_user(second, by=second, client=CLIENT, now=NOW)


def test_a_disabled_owner_does_not_count_as_the_other_owner(owner):
    second = _add(owner, role=Role.OWNER)
    disable_user(second, by=owner, client=CLIENT, now=NOW)
    db.session.commit()
    with pytest.raises(DomainError, match="管理者が1人もいなくなる"):
        change_role(owner, Role.BILLING, by=owner, client=CLIENT)


def test_disabling_a_user_ends_their_sessions_and_enabling_lets_them_back(owner):
    user = _add(owner)
    db.session.commit()
    token = auth.start_session(user, CLIENT, remember=True, now=NOW)
    db.session.commit()
    disable_user(user, by=owner, client=CLIENT, now=NOW)
    db.session.commit()
    assert auth.load_session_user(token, CLIENT, NOW) is None
    with pytest.raises(DomainError):
        auth.authenticate("taro+keiri", NEW_PASSWORD, CLIENT)
    enable_user(user, by=owner, client=CLIENT)
    db.session.commit()
    assert auth.authenticate("taro+keiri", NEW_PASSWORD, CLIENT) == user
    assert auth.load_session_user(token, CLIENT, NOW) is None  # the old session stays ended


def test_a_role_change_is_audited_with_both_roles(owner):
    user = _add(owner)
    change_role(user, Role.TECHNICAL, by=owner, client=CLIENT)
    db.session.commit()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "role_changed"))
    assert event.detail == "taro+keiri: 請求担当 → 技術担当"
