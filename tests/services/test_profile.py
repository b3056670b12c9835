import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.profile import update_profile
from tests import factories

CLIENT = Client(ip_address="192.0.2.10", user_agent="pytest")


def test_profile_changes_are_saved_and_audited():
    customer = factories.customer()
    update_profile(
        customer,
        name="山田 花子",
        contract_email="hanako@example.jp",
        sub_email="hanako@example.com",
        notify_40_days_before=True,
        by=factories.owner(customer),
        client=CLIENT,
    )
    db.session.commit()
    assert (customer.name, customer.contract_email, customer.sub_email) == (
        "山田 花子",
        "hanako@example.jp",
        "hanako@example.com",
    )
    assert customer.notify_40_days_before
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "profile_changed"))
    assert "サブメールアドレス" in event.detail


def test_the_sub_email_must_differ_from_the_contract_email():
    customer = factories.customer(sub_email="old-sub@example.jp")
    with pytest.raises(DomainError) as refusal:
        update_profile(
            customer,
            name="山田 太郎",
            contract_email="Same@example.jp",
            sub_email="same@example.jp",
            notify_40_days_before=False,
            by=factories.owner(customer),
            client=CLIENT,
        )
    assert refusal.value.field == "sub_email"
    assert customer.sub_email == "old-sub@example.jp"


def test_the_reading_phone_and_postal_address_are_kept_as_given_and_audited():
    customer = factories.customer()
    update_profile(
        customer,
        name="山田 太郎",
        contract_email="taro@example.jp",
        sub_email=None,
        notify_40_days_before=False,
        by=factories.owner(customer),
        client=CLIENT,
        name_kana="ヤマダ タロウ",
        phone="03-1234-5678",
        postal_code="1500001",
        postal_address="東京都渋谷区神宮前1-2-3",
    )
    db.session.commit()
    assert (customer.name_kana, customer.phone, customer.postal_code) == (
        "ヤマダ タロウ",
        "03-1234-5678",
        "150-0001",
    )
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "profile_changed"))
    assert event.detail == "フリガナ、電話番号、郵便番号、住所"
