"""Login IP restriction (ログインのIP制限): the addresses an account's logins may come from."""

import ipaddress
import unicodedata

from sqlalchemy import select

from panel.extensions import db
from panel.models import AllowedNetwork, Customer, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: How many rules one account may keep.
MAX_ALLOWED_NETWORKS = 50


def parse_network(text: str) -> Network:
    """An address (203.0.113.5, 2001:db8::1) or CIDR range (203.0.113.0/24, 2001:db8::/64),
    typed perhaps in full-width characters; a DomainError says what is wrong with it."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip()
    if not cleaned:
        raise DomainError("IPアドレスを入力してください。", field="address")
    try:
        network = ipaddress.ip_network(cleaned)
    except ValueError:
        try:
            # 203.0.113.5/24: a range given by an address inside it, not by its first address
            suggestion = ipaddress.ip_network(cleaned, strict=False)
        except ValueError:
            raise DomainError(
                "IPアドレスの形式が正しくありません"
                "(例: 203.0.113.5、203.0.113.0/24、2001:db8::/64)。",
                field="address",
            ) from None
        raise DomainError(
            f"範囲は先頭のアドレスで入力してください(例: {suggestion})。", field="address"
        ) from None
    if network.version == 6 and network.network_address.ipv4_mapped:
        raise DomainError("IPv4アドレスは 203.0.113.5 の形式で入力してください。", field="address")
    return network


def client_address(ip_address: str | None) -> Address | None:
    """The client's address as a rule sees it: an IPv4-mapped IPv6 address (::ffff:192.0.2.1,
    from a dual-stack socket) is the IPv4 address it carries."""
    try:
        address = ipaddress.ip_address((ip_address or "").split("%")[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _covered(networks: list[str], ip_address: str | None) -> bool:
    address = client_address(ip_address)
    # An address is never `in` a network of the other IP version.
    return address is not None and any(
        address in ipaddress.ip_network(network) for network in networks
    )


def address_allowed(customer: Customer, ip_address: str | None) -> bool:
    """May a login of `customer` come from `ip_address`? Always, while the restriction is off."""
    if not customer.login_ip_restricted:
        return True
    networks = db.session.scalars(
        select(AllowedNetwork.network).where(AllowedNetwork.customer_id == customer.id)
    ).all()
    return _covered(list(networks), ip_address)


def _lock(customer: Customer) -> list[AllowedNetwork]:
    """Lock the account's row while its list changes, so two changes cannot together shut out
    an address that each alone would have kept; returns the list as it now stands."""
    db.session.refresh(customer, with_for_update=True)
    db.session.expire(customer, ["allowed_networks"])
    return list(customer.allowed_networks)


def _refuse_shutting_out(networks: list[str], client: Client) -> None:
    if not _covered(networks, client.ip_address):
        raise DomainError(
            f"現在ご利用中のIPアドレス({client.ip_address})からログインできなくなるため、"
            "変更できません。先に現在のアドレスを許可してください。"
        )


def add_allowed_network(
    customer: Customer, address: str, label: str, *, by: User, client: Client
) -> AllowedNetwork:
    network = str(parse_network(address))
    label = (label or "").strip()
    if len(label) > 50:
        raise DomainError("名前は50文字以内で入力してください。", field="label")
    current = _lock(customer)
    if any(rule.network == network for rule in current):
        raise DomainError(f"{network} は既に登録されています。", field="address")
    if len(current) >= MAX_ALLOWED_NETWORKS:
        raise DomainError(f"登録できるのは{MAX_ALLOWED_NETWORKS}件までです。", field="address")
    rule = AllowedNetwork(customer=customer, network=network, label=label)
    db.session.add(rule)
    record_event("ip_rule_added", client, user=by, detail=f"{network} {label}".strip())
    return rule


def remove_allowed_network(
    customer: Customer, rule: AllowedNetwork, *, by: User, client: Client
) -> None:
    remaining = [other.network for other in _lock(customer) if other.id != rule.id]
    if customer.login_ip_restricted:
        _refuse_shutting_out(remaining, client)
    db.session.delete(rule)
    record_event("ip_rule_removed", client, user=by, detail=f"{rule.network} {rule.label}".strip())


def set_login_ip_restriction(
    customer: Customer, restricted: bool, *, by: User, client: Client
) -> None:
    current = _lock(customer)
    if restricted == customer.login_ip_restricted:
        return
    if restricted:
        _refuse_shutting_out([rule.network for rule in current], client)
    customer.login_ip_restricted = restricted
    record_event("ip_restriction_on" if restricted else "ip_restriction_off", client, user=by)
