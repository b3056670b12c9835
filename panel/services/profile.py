"""Member details (会員登録情報): name and its reading, e-mail addresses, phone, the postal
address paper invoices go to, and notice opt-ins."""

from panel.models import Customer, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event


def update_profile(
    customer: Customer,
    *,
    name: str,
    contract_email: str,
    sub_email: str | None,
    notify_40_days_before: bool,
    by: User,
    client: Client,
    contact_name: str | None = None,
    name_kana: str | None = None,
    phone: str | None = None,
    postal_code: str | None = None,
    postal_address: str | None = None,
) -> None:
    """Change the member details; every field is checked before anything is changed. The
    contact person (担当者名, printed below the company name on documents) is a corporate
    customer's only: an individual's stays empty whatever is sent. The postal code is kept as
    123-4567."""
    sub_email = sub_email or None
    contact_name = (contact_name or None) if customer.is_corporate else None
    digits = (postal_code or "").replace("-", "")
    postal_code = f"{digits[:3]}-{digits[3:]}" if digits else None
    if sub_email and sub_email.casefold() == contract_email.casefold():
        raise DomainError(
            "サブメールアドレスには、ご契約者メールアドレスと別のアドレスを入力してください。",
            field="sub_email",
        )
    changed = [
        label
        for label, old, new in (
            ("名前", customer.name, name),
            ("ご契約者メールアドレス", customer.contract_email, contract_email),
            ("サブメールアドレス", customer.sub_email, sub_email),
            ("40日前のお知らせメール", customer.notify_40_days_before, notify_40_days_before),
            ("担当者名", customer.contact_name, contact_name),
            ("フリガナ", customer.name_kana, name_kana or None),
            ("電話番号", customer.phone, phone or None),
            ("郵便番号", customer.postal_code, postal_code),
            ("住所", customer.postal_address, postal_address or None),
        )
        if old != new
    ]
    customer.name = name
    customer.contract_email = contract_email
    customer.sub_email = sub_email
    customer.notify_40_days_before = notify_40_days_before
    customer.contact_name = contact_name
    customer.name_kana = name_kana or None
    customer.phone = phone or None
    customer.postal_code = postal_code
    customer.postal_address = postal_address or None
    if changed:
        record_event("profile_changed", client, user=by, detail="、".join(changed))
