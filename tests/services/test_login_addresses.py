import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AllowedNetwork, AuditEvent
from panel.refusals import DomainError
from panel.services import auth
from panel.services.audit import Client
from panel.services.login_addresses import (
    add_allowed_network,
    address_allowed,
    parse_network,
    remove_allowed_network,
    set_login_ip_restriction,
)
from tests import factories

OFFICE = Client(ip_address="203.0.113.7", user_agent="pytest")


@pytest.mark.parametrize(
    ("typed", "network"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("２０３．０．１１３．０／２４", "203.0.113.0/24"),  # full-width
        ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
        ("2001:DB8::1", "2001:db8::1/128"),
    ],
)
def test_addresses_and_ranges_are_read_in_cidr_form(typed, network):
    assert str(parse_network(typed)) == network


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "IPアドレスを入力してください"),
        ("203.0.113", "形式が正しくありません"),
        ("203.0.113.256", "形式が正しくありません"),
        ("example.jp", "形式が正しくありません"),
        ("203.0.113.0/33", "形式が正しくありません"),
        ("203.0.113.7/24", "先頭のアドレスで入力してください(例: 203.0.113.0/24)"),
        ("2001:db8::1/64", "例: 2001:db8::/64"),
        ("::ffff:203.0.113.7", "203.0.113.5 の形式"),
    ],
)
def test_invalid_entries_are_refused_in_japanese(typed, message):
    with pytest.raises(DomainError) as refusal:
        parse_network(typed)
    assert message in refusal.value.message
    assert refusal.value.field == "address"


@pytest.fixture
def customer():
    customer = factories.customer()
    for network in ("203.0.113.0/24", "2001:db8:1:2::/64"):
        db.session.add(AllowedNetwork(customer=customer, network=network, label=""))
    customer.login_ip_restricted = True
    db.session.commit()
    return customer


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.1", True),
        ("203.0.113.254", True),
        ("203.0.114.1", False),
        ("::ffff:203.0.113.9", True),  # IPv4-mapped, from a dual-stack socket
        ("::ffff:198.51.100.9", False),
        ("2001:db8:1:2:abcd::1", True),  # inside the /64
        ("2001:db8:1:3::1", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
        (None, False),
    ],
)
def test_a_restricted_account_allows_only_its_networks(customer, address, allowed):
    assert address_allowed(customer, address) is allowed


def test_an_unrestricted_account_allows_every_address(customer):
    customer.login_ip_restricted = False
    assert address_allowed(customer, "198.51.100.1")


def _owner_of(customer):
    return factories.owner(customer)


def test_the_list_cannot_shut_out_the_address_in_use(customer):
    owner = _owner_of(customer)
    office = customer.allowed_networks[0]
    with pytest.raises(DomainError, match=r"現在ご利用中のIPアドレス\(203\.0\.113\.7\)"):
        remove_allowed_network(customer, office, by=owner, client=OFFICE)
    db.session.rollback()
    # From another allowed address it can go.
    remove_allowed_network(customer, office, by=owner, client=Client("2001:db8:1:2::5", "pytest"))
    db.session.commit()
    assert [rule.network for rule in customer.allowed_networks] == ["2001:db8:1:2::/64"]


def test_turning_the_restriction_on_needs_the_address_in_use_on_the_list():
    customer = factories.customer()
    owner = _owner_of(customer)
    with pytest.raises(DomainError, match="ログインできなくなるため"):
        set_login_ip_restriction(customer, True, by=owner, client=OFFICE)
    db.session.rollback()
    add_allowed_network(customer, "203.0.113.0/24", "本社", by=owner, client=OFFICE)
    set_login_ip_restriction(customer, True, by=owner, client=OFFICE)
    db.session.commit()
    assert customer.login_ip_restricted
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["ip_rule_added", "ip_restriction_on"]
    set_login_ip_restriction(customer, False, by=owner, client=Client("198.51.100.1", None))
    assert not customer.login_ip_restricted


def test_a_rule_is_added_once_with_its_label(customer):
    owner = _owner_of(customer)
    with pytest.raises(DomainError, match="既に登録されています"):
        add_allowed_network(customer, "203.0.113.0/24", "", by=owner, client=OFFICE)
    with pytest.raises(DomainError) as refusal:
        add_allowed_network(customer, "198.51.100.0/24", "x" * 51, by=owner, client=OFFICE)
    assert refusal.value.field == "label"
    db.session.rollback()
    add_allowed_network(customer, "198.51.100.0/24", " 支店 ", by=owner, client=OFFICE)
    db.session.commit()
    assert customer.allowed_networks[-1].label == "支店"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ip_rule_added"))
    assert event.detail == "198.51.100.0/24 支店"


def test_a_login_from_elsewhere_is_refused_even_with_the_right_password(customer):
    with pytest.raises(DomainError) as refusal:
        auth.authenticate("taro", factories.PASSWORD, Client("198.51.100.1", "pytest"))
    assert (
        refusal.value.message == "このIPアドレス(198.51.100.1)からのログインは許可されていません。"
    )
    # A wrong password from there is just a wrong password: the ID's existence stays hidden.
    with pytest.raises(DomainError) as wrong:
        auth.authenticate("taro", "wrong", Client("198.51.100.1", "pytest"))
    assert wrong.value.message == "会員IDまたはパスワードが正しくありません。"
    assert auth.authenticate("taro", factories.PASSWORD, OFFICE).login_id == "taro"
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login_refused_address")
    ).all()
    assert [event.ip_address for event in refused] == ["198.51.100.1"]
