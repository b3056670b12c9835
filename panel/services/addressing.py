"""宛名: how a customer is addressed on documents (invoices, receipts, quotes, statements) and in
mail. A company is addressed by its name with 御中, and its contact person (担当者名), when one
is given, on a line of their own with 様 (御中 and 様 never together on one line); a person by
name with 様."""

from panel.models import Customer


def recipient_name(customer: Customer) -> str:
    """株式会社デモ商事 御中 / 山田 太郎 様"""
    return f"{customer.name} {'御中' if customer.is_corporate else '様'}"


def recipient_contact(customer: Customer) -> str | None:
    """ご担当: 経理部 田中 一郎 様, for a company that named its contact person; else None."""
    if customer.is_corporate and customer.contact_name:
        return f"ご担当: {customer.contact_name} 様"
    return None


def recipient_context(customer: Customer) -> dict[str, str | None]:
    """What a document's head (`templates/pdf/_parties.html`) and a mail's greeting
    (`templates/mail/_addressee.txt`) need: `recipient` and `recipient_contact`. The month's
    statement passes it to its template like the invoice does."""
    return {"recipient": recipient_name(customer), "recipient_contact": recipient_contact(customer)}
