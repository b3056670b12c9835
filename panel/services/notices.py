"""The notices the daily job writes to the outbox: renewal reminders, a contract's expiry, the
monthly list of domains that expire soon, and the domains on 自動失効 that are about to lapse or
have lapsed. Each goes to the contract and the sub e-mail."""

from datetime import date

from panel.models import Contract, Customer, OutboxMail
from panel.models.domains import DomainPolicy
from panel.services.balance import account_balance
from panel.services.contracts import last_renewable_day
from panel.services.mail import queue_templated_mail
from panel.services.renewal.pricing import domain_prices

#: When a server's renewal date is this many days away, a reminder is sent (negative: after
#: it); 40 only to customers who opted in (サーバー更新日40日前のお知らせメール).
REMINDER_DAYS = (40, 10, 5, 0, -1)
OPT_IN_REMINDER_DAYS = 40
#: The monthly notice lists the domains that expire within this many days.
DOMAIN_NOTICE_DAYS = 90


def reminder_subject(contract: Contract, days_before: int) -> str:
    if days_before > 0:
        when = f"ご契約更新日まであと{days_before}日"
    elif days_before == 0:
        when = "本日がご契約更新日です"
    else:
        when = "ご契約更新日を過ぎています"
    return f"【ご契約更新のお知らせ】{contract.name} ― {when}"


def queue_renewal_reminder(
    contract: Contract, days_before: int, awaiting_bill_no: str | None
) -> OutboxMail:
    """A reminder that the server's renewal date is near (or just past): what happens next,
    and where to renew or pay."""
    return queue_templated_mail(
        contract.customer,
        f"renewal_reminder_{days_before}",
        reminder_subject(contract, days_before),
        "mail/renewal_reminder.txt",
        contract=contract,
        days_before=days_before,
        last_renewable_day=last_renewable_day(contract.renewal_date),
        awaiting_bill_no=awaiting_bill_no,
    )


def queue_expiry_notice(contract: Contract) -> OutboxMail:
    """The contract passed its grace period unrenewed: it is expired (期限切れ)."""
    return queue_templated_mail(
        contract.customer,
        "contract_expired",
        f"【ご契約期限切れのお知らせ】{contract.name} ― ご契約が期限切れになりました",
        "mail/contract_expired.txt",
        contract=contract,
        last_renewable_day=last_renewable_day(contract.renewal_date),
    )


def queue_domain_notice(
    customer: Customer, domains: list[tuple[Contract, str]], today: date
) -> OutboxMail:
    """更新案内 (the 1st of each month): every domain of the customer that expires within 90
    days, each with its effective policy (自動更新 or 自動失効): its date and what will happen
    to it then. For those on 自動更新, a year's price, and whether 現在利用できる金額 covers
    them all (they are paid from the account balance)."""
    prices = domain_prices()
    auto_renewed = [
        prices[domain.tld]
        for domain, policy in domains
        if policy == DomainPolicy.AUTO_RENEW and domain.tld in prices
    ]
    return queue_templated_mail(
        customer,
        "domain_notice",
        f"【ドメイン更新のご案内】{today.year}年{today.month}月 ― "
        f"{DOMAIN_NOTICE_DAYS}日以内に有効期限を迎えるドメイン({len(domains)}件)",
        "mail/domain_notice.txt",
        domains=[
            (domain, policy, last_renewable_day(domain.renewal_date), prices.get(domain.tld or ""))
            for domain, policy in domains
        ],
        days=DOMAIN_NOTICE_DAYS,
        auto_renewal_total=sum(auto_renewed) if auto_renewed else None,
        available=account_balance(customer).available,
    )


def queue_domain_lapse_notice(
    customer: Customer, domains: list[Contract], today: date
) -> OutboxMail:
    """The customer's domains on 自動失効 that lapse on their expiry date, 30 or 7 days ahead:
    what to do to keep them."""
    return queue_templated_mail(
        customer,
        "domain_lapse_notice",
        f"【自動失効のお知らせ】有効期限をもって失効するドメイン({len(domains)}件)",
        "mail/domain_lapse_notice.txt",
        domains=[(domain, (domain.renewal_date - today).days) for domain in domains],
    )


def queue_domain_lapsed_notice(customer: Customer, domains: list[Contract]) -> OutboxMail:
    """The customer's domains on 自動失効 have lapsed (失効) on their expiry date."""
    return queue_templated_mail(
        customer,
        "domain_lapsed",
        f"【ドメイン失効のお知らせ】自動失効の設定により失効したドメイン({len(domains)}件)",
        "mail/domain_lapsed.txt",
        domains=domains,
    )
