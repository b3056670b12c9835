"""The sandbox gateway: behaves like a real provider, with no money and no outside calls.

- Cards: the test numbers in `TEST_CARDS` are approved, `DECLINED_CARD` is declined; a number
  of another brand or failing the Luhn check is refused. `AUTHENTICATED_CARD` asks for 3-D
  Secure first (the sandbox's own challenge page), and `FAILS_AUTHENTICATION_CARD` always fails
  it. Tokens and PayPal approvals are signed with the gateway's secret.
- Saved cards (auto-renewal): `save_card` signs the card's facts into a token of its own, as a
  provider's customer/card ID; `charge_saved_card` declines `DECLINED_CARD` and a card whose
  expiry month is over on the day of the charge, and never asks for 3-D Secure.
- Every charge and capture is remembered by its idempotency key (`SandboxCharge`, written on a
  connection of its own, so it outlives the panel's transaction), as a real provider remembers
  it: the same key answers with the first outcome, and the panel can ask for it later.
- It can answer slowly (`answer_delay`), and be told to stop the process right after a charge
  (`stop_after_charge`), to try the panel's recovery from a crash between charge and commit.
- PayPal: an approval page of its own (`panel.views.sandbox`) that returns to the panel.
- Direct debit (口座振替): a bank-account form of its own (`panel.views.sandbox`) that returns
  to the panel with a signed result, which gives a token and the masked account
  ("三井住友銀行 本店 普通 ****567"). Collecting from `INSUFFICIENT_FUNDS_ACCOUNT` is declined
  (残高不足); any other account pays. Collections are remembered by key like charges.
- Bank transfers and convenience stores: `flask --app wsgi sandbox notify` sends the signed
  notification a provider would send, as often as asked.

Notifications are signed like the big providers do it: header `X-Sandbox-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, refused when older than five minutes.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta

from flask import url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from werkzeug.datastructures import Headers

from panel.database import dialect_insert
from panel.extensions import db
from panel.gateways import (
    BankAccount,
    CardDetails,
    CardToken,
    Charge,
    ChargeOutcome,
    ChargeStatus,
    InvalidNotification,
    Notification,
    PaymentRefused,
    SavedCard,
    StoreSlip,
    payment_gateway,
)
from panel.models.bills import PaymentMethod
from panel.models.sandbox import SandboxCharge
from panel.models.types import utc_now

SIGNATURE_HEADER = "X-Sandbox-Signature"
#: The signature's parts: a Unix time (up to the year 2286) and a hex SHA-256 HMAC.
SIGNATURE_TIME = re.compile(r"[0-9]{1,10}")
SIGNATURE_DIGEST = re.compile(r"[0-9a-f]{64}")
#: A notification signed longer ago than this is refused (a replayed capture, say).
SIGNATURE_TOLERANCE = timedelta(minutes=5)

#: One approved test number per brand.
TEST_CARDS = {
    "VISA": "4242424242424242",
    "Master": "5555555555554444",
    "JCB": "3530111333300000",
    "American Express": "378282246310005",
}
#: A VISA test number the card company declines.
DECLINED_CARD = "4000000000000002"
#: A VISA test number that asks for 3-D Secure; authenticating then approves the charge.
AUTHENTICATED_CARD = "4000000000003220"
#: A VISA test number that asks for 3-D Secure, and whose authentication always fails.
FAILS_AUTHENTICATION_CARD = "4000008400001629"
#: A bank account number (7 digits) whose collections the bank declines: 残高不足.
INSUFFICIENT_FUNDS_ACCOUNT = "9999999"
#: 預金種目, as the bank-account form offers them.
ACCOUNT_TYPES = {"ordinary": "普通", "checking": "当座"}
#: The process exit status when told to stop after a charge.
STOPPED_AFTER_CHARGE = 75

DECLINED = (
    "カード会社により決済が承認されませんでした。"
    "別のカードをお使いいただくか、カード会社にお問い合わせください。"
)
AUTHENTICATION_FAILED = "カード会社の本人認証(3-Dセキュア)に失敗しました。"
AUTHENTICATION_ABANDONED = "本人認証(3-Dセキュア)が中止されました。"
CANCELLED = "お支払の手続きの有効期限が切れました。もう一度お手続きください。"
INSUFFICIENT_FUNDS = "残高不足のため、ご登録の口座から引き落とせませんでした。"
UNKNOWN_BANK_ACCOUNT = "ご登録の口座情報を確認できませんでした。口座を登録し直してください。"
BANK_ACCOUNT_RESULT_REFUSED = "口座の登録結果を確認できませんでした。もう一度お手続きください。"
SAVED_CARD_EXPIRED = (
    "ご登録のクレジットカードの有効期限が切れています。"
    "「ご契約自動更新の設定」で新しいカードをご登録ください。"
)

#: Chains that take the sandbox's payment numbers. (The source document also lists サークルK
#: サンクス, which became FamilyMart in 2018.)
STORES = (
    "セブン-イレブン",
    "ローソン",
    "ファミリーマート",
    "ミニストップ",
    "デイリーヤマザキ",
    "セイコーマート",
)

ACCEPTED_BRANDS = "VISA・Master・JCB・American Express"


def card_brand(number: str) -> str | None:
    """The brand of a card number by its prefix and length, if it is one we accept."""
    if len(number) == 15 and number[:2] in ("34", "37"):
        return "American Express"
    if len(number) != 16:
        return None
    if 3528 <= int(number[:4]) <= 3589:
        return "JCB"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "Master"
    if number[0] == "4":
        return "VISA"
    return None


def passes_luhn(number: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def sign(secret: str, body: bytes, now: datetime) -> str:
    """The signature header value for `body`, as the sandbox sends it."""
    timestamp = int(now.timestamp())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _event_id(idempotency_key: str) -> str:
    return f"ch_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}"


def _outcome(row: SandboxCharge | None) -> ChargeOutcome:
    if row is None:
        return ChargeOutcome(ChargeStatus.NOT_FOUND)
    status = ChargeStatus(row.status)
    if status == ChargeStatus.SUCCEEDED:
        card = None  # a PayPal capture has no card
        if row.card_brand and row.card_last4 and row.card_expiry:
            card = CardToken("", row.card_brand, row.card_last4, row.card_expiry)
        return ChargeOutcome(status, charge=Charge(row.event_id, row.amount, card))
    if status == ChargeStatus.REQUIRES_ACTION:
        return ChargeOutcome(
            status, action_url=url_for("sandbox.challenge", challenge=row.challenge)
        )
    return ChargeOutcome(status, decline_reason=row.decline_reason)


class SandboxGateway:
    name = "sandbox"
    stores: tuple[str, ...] = STORES
    signature_header = SIGNATURE_HEADER
    #: shown under the card form, so that anyone trying the panel can pay
    test_cards = {
        **TEST_CARDS,
        "本人認証(3-Dセキュア)あり": AUTHENTICATED_CARD,
        "本人認証に失敗するカード": FAILS_AUTHENTICATION_CARD,
        "承認されないカード": DECLINED_CARD,
    }
    #: shown under the bank-account form
    test_bank_accounts = {
        "引き落とせる口座": "1234567",
        "残高不足で引き落とせない口座": INSUFFICIENT_FUNDS_ACCOUNT,
    }

    def __init__(self, secret: str, answer_delay: float = 0, stop_after_charge: bool = False):
        self._secret = secret
        self._tokens = URLSafeSerializer(secret, salt="sandbox-card-token")
        self._approvals = URLSafeSerializer(secret, salt="sandbox-paypal-approval")
        self._saved_cards = URLSafeSerializer(secret, salt="sandbox-saved-card")
        self._bank_forms = URLSafeSerializer(secret, salt="sandbox-bank-account-form")
        self._bank_results = URLSafeSerializer(secret, salt="sandbox-bank-account-result")
        self._bank_accounts = URLSafeSerializer(secret, salt="sandbox-bank-account")
        self._answer_delay = answer_delay
        self._stop_after_charge = stop_after_charge

    # What the sandbox remembers, on a connection of its own

    def _remember(self, **charge) -> SandboxCharge | None:
        """Store a charge unless its key (or its PayPal order) is known; the stored one."""
        table = SandboxCharge.__table__
        with db.engine.begin() as connection:
            inserted = connection.execute(
                dialect_insert(table)
                .values(created_at=utc_now(), **charge)
                .on_conflict_do_nothing()
                .returning(table.c.idempotency_key)
            ).first()
        row = self._charge(charge["idempotency_key"])
        if row is None and charge.get("paypal_order_id"):  # the order captured by another key
            row = self._row(SandboxCharge.paypal_order_id == charge["paypal_order_id"])
        if inserted and self._stop_after_charge and row and row.status == ChargeStatus.SUCCEEDED:
            os._exit(STOPPED_AFTER_CHARGE)  # as a crash would, before the panel records it
        return row

    def _remember_card_charge(
        self,
        idempotency_key: str,
        order_ref: str,
        amount: int,
        status: ChargeStatus,
        reason: str | None,
        brand: str,
        last4: str,
        expiry: str,
        **challenge,
    ) -> ChargeOutcome:
        """A card charge remembered by its key (the first one's outcome, if it was known)."""
        row = self._remember(
            idempotency_key=idempotency_key,
            kind="card",
            order_ref=order_ref,
            amount=amount,
            status=status,
            event_id=_event_id(idempotency_key),
            card_brand=brand,
            card_last4=last4,
            card_expiry=expiry,
            decline_reason=reason,
            **challenge,
        )
        return _outcome(row)

    def _row(self, condition) -> SandboxCharge | None:
        with db.engine.connect() as connection:
            found = connection.execute(select(SandboxCharge.__table__).where(condition)).first()
        return SandboxCharge(**found._mapping) if found else None

    def _charge(self, idempotency_key: str) -> SandboxCharge | None:
        return self._row(SandboxCharge.idempotency_key == idempotency_key)

    def _answer_slowly(self) -> None:
        if self._answer_delay:
            time.sleep(self._answer_delay)

    # Cards

    def tokenise_card(self, card: CardDetails, today: date) -> CardToken:
        number = "".join(card.number.split()).replace("-", "")
        if not number.isdigit() or not 14 <= len(number) <= 16 or not passes_luhn(number):
            raise PaymentRefused(
                "カード番号が正しくありません。お手元のカードの番号をご確認ください。",
                field="number",
            )
        brand = card_brand(number)
        if brand is None:
            raise PaymentRefused(
                f"このカードはご利用いただけません。{ACCEPTED_BRANDS}のカードをお使いください。",
                field="number",
            )
        if (card.expiry_year, card.expiry_month) < (today.year, today.month):
            raise PaymentRefused("カードの有効期限が切れています。", field="expiry")
        code_length = 4 if brand == "American Express" else 3
        if not (card.security_code.isdigit() and len(card.security_code) == code_length):
            raise PaymentRefused(
                f"セキュリティコードは{code_length}桁の数字で入力してください。",
                field="security_code",
            )
        last4 = number[-4:]
        expiry = f"{card.expiry_month:02d}/{card.expiry_year % 100:02d}"
        authentication = {AUTHENTICATED_CARD: "passes", FAILS_AUTHENTICATION_CARD: "fails"}
        token = self._tokens.dumps(
            {
                "brand": brand,
                "last4": last4,
                "expiry": expiry,
                "declines": number == DECLINED_CARD,
                "authentication": authentication.get(number),
            }
        )
        return CardToken(token=f"tok_{token}", brand=brand, last4=last4, expiry=expiry)

    def charge_card(
        self, token: str, amount: int, order_ref: str, idempotency_key: str, return_url: str
    ) -> ChargeOutcome:
        try:
            card = self._tokens.loads(token.removeprefix("tok_"))
        except BadSignature:
            raise PaymentRefused(
                "カード情報を確認できませんでした。もう一度入力してください。"
            ) from None
        self._answer_slowly()
        if card.get("declines"):
            status, reason = ChargeStatus.DECLINED, DECLINED
        elif card.get("authentication"):
            status, reason = ChargeStatus.REQUIRES_ACTION, None
        else:
            status, reason = ChargeStatus.SUCCEEDED, None
        return self._remember_card_charge(
            idempotency_key,
            order_ref,
            amount,
            status,
            reason,
            card["brand"],
            card["last4"],
            card["expiry"],
            challenge=secrets.token_urlsafe(16) if card.get("authentication") else None,
            fails_authentication=card.get("authentication") == "fails",
            return_url=return_url,
        )

    def save_card(self, card: CardDetails, today: date) -> SavedCard:
        checked = self.tokenise_card(card, today)  # the same checks as a one-off payment
        number = "".join(card.number.split()).replace("-", "")
        token = self._saved_cards.dumps(
            {
                "brand": checked.brand,
                "last4": checked.last4,
                "expiry": [card.expiry_year, card.expiry_month],
                "declines": number == DECLINED_CARD,
            }
        )
        return SavedCard(
            token=f"card_{token}", brand=checked.brand, last4=checked.last4, expiry=checked.expiry
        )

    def charge_saved_card(
        self, card_token: str, amount: int, order_ref: str, idempotency_key: str, today: date
    ) -> ChargeOutcome:
        try:
            card = self._saved_cards.loads(card_token.removeprefix("card_"))
        except BadSignature:
            raise PaymentRefused(
                "ご登録のカード情報を確認できませんでした。カードを登録し直してください。"
            ) from None
        self._answer_slowly()
        year, month = card["expiry"]
        if card["declines"]:
            status, reason = ChargeStatus.DECLINED, DECLINED
        elif (year, month) < (today.year, today.month):
            status, reason = ChargeStatus.DECLINED, SAVED_CARD_EXPIRED
        else:
            status, reason = ChargeStatus.SUCCEEDED, None
        expiry = f"{month:02d}/{year % 100:02d}"
        return self._remember_card_charge(
            idempotency_key, order_ref, amount, status, reason, card["brand"], card["last4"], expiry
        )

    def charge_outcome(self, idempotency_key: str) -> ChargeOutcome:
        return _outcome(self._charge(idempotency_key))

    def cancel_charge(self, idempotency_key: str) -> ChargeOutcome:
        table = SandboxCharge.__table__
        with db.engine.begin() as connection:
            # A key no charge has arrived with yet is spent, so one arriving late is refused.
            connection.execute(
                dialect_insert(table)
                .values(
                    idempotency_key=idempotency_key,
                    kind="unknown",
                    order_ref="",
                    amount=0,
                    status=ChargeStatus.CANCELLED,
                    event_id=_event_id(idempotency_key),
                    decline_reason=CANCELLED,
                    created_at=utc_now(),
                )
                .on_conflict_do_nothing()
            )
            connection.execute(
                update(table)
                .where(
                    table.c.idempotency_key == idempotency_key,
                    table.c.status == ChargeStatus.REQUIRES_ACTION,
                )
                .values(status=ChargeStatus.CANCELLED, decline_reason=CANCELLED)
            )
        return _outcome(self._charge(idempotency_key))

    # The 3-D Secure challenge (the sandbox's own page plays the card company's)

    def read_challenge(self, challenge: str) -> SandboxCharge | None:
        return self._row(SandboxCharge.challenge == challenge)

    def complete_challenge(self, challenge: str, authenticated: bool) -> str | None:
        """The cardholder authenticated (or gave up): the charge succeeds, or is declined when
        authentication fails. Where to send the cardholder back to; None once it is over."""
        row = self.read_challenge(challenge)
        if row is None or row.status != ChargeStatus.REQUIRES_ACTION:
            return None
        if not authenticated:
            status, reason = ChargeStatus.DECLINED, AUTHENTICATION_ABANDONED
        elif row.fails_authentication:
            status, reason = ChargeStatus.DECLINED, AUTHENTICATION_FAILED
        else:
            status, reason = ChargeStatus.SUCCEEDED, None
        table = SandboxCharge.__table__
        with db.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(
                    table.c.challenge == challenge,
                    table.c.status == ChargeStatus.REQUIRES_ACTION,
                )
                .values(status=status, decline_reason=reason)
            )
        return row.return_url

    # PayPal

    def paypal_approval_url(
        self, amount: int, order_ref: str, return_url: str, cancel_url: str
    ) -> str:
        order = self._approvals.dumps(
            {
                "order_id": f"PAYID-{secrets.token_hex(8).upper()}",
                "order_ref": order_ref,
                "amount": amount,
                "return_url": return_url,
                "cancel_url": cancel_url,
                "approved": False,
            }
        )
        return url_for("sandbox.paypal_approval", order=order)

    def read_paypal_order(self, order: str) -> dict:
        """The order behind an approval page link (the sandbox's own page uses this)."""
        try:
            return self._approvals.loads(order)
        except BadSignature:
            raise PaymentRefused("PayPalのお支払情報が正しくありません。") from None

    def approve_paypal_order(self, order: dict) -> str:
        """Where the approval page sends the customer once they approve: the panel's return."""
        approval = self._approvals.dumps({**order, "approved": True})
        separator = "&" if "?" in order["return_url"] else "?"
        return f"{order['return_url']}{separator}approval={approval}"

    def paypal_order_id(self, approval: str) -> str:
        return self.read_paypal_order(approval)["order_id"]

    def capture_paypal(
        self, approval: str, amount: int, order_ref: str, idempotency_key: str
    ) -> ChargeOutcome:
        order = self.read_paypal_order(approval)
        if not order["approved"] or order["order_ref"] != order_ref:
            raise PaymentRefused("PayPalのお支払が承認されていません。")
        if order["amount"] != amount:
            raise PaymentRefused(
                "ご請求金額が変わったため、PayPalのお支払を完了できませんでした。"
                "もう一度お手続きください。"
            )
        self._answer_slowly()
        row = self._remember(
            idempotency_key=idempotency_key,
            kind="paypal",
            order_ref=order_ref,
            amount=amount,
            status=ChargeStatus.SUCCEEDED,
            event_id=order["order_id"],
            paypal_order_id=order["order_id"],
        )
        return _outcome(row)

    # Direct debit (the sandbox's own bank-account form plays the provider's)

    def bank_account_form_url(self, customer_ref: str, return_url: str, cancel_url: str) -> str:
        request = self._bank_forms.dumps(
            {"customer_ref": customer_ref, "return_url": return_url, "cancel_url": cancel_url}
        )
        return url_for("sandbox.bank_account_form", request=request)

    def read_bank_account_request(self, request: str) -> dict:
        """What a bank-account form link is for (the sandbox's own page uses this)."""
        try:
            return self._bank_forms.loads(request)
        except BadSignature:
            raise PaymentRefused("口座登録のお手続きの情報が正しくありません。") from None

    def register_bank_account(
        self,
        request: dict,
        *,
        bank_name: str,
        branch_name: str,
        account_type: str,
        account_number: str,
        holder_kana: str,
    ) -> str:
        """The bank's answer to the form (the sandbox accepts any well-formed account): where
        to send the customer back to, with the signed result."""
        masked = "*" * (len(account_number) - 3) + account_number[-3:]
        result = self._bank_results.dumps(
            {
                # the provider's ID of this registration: another registration, another token
                "account_id": secrets.token_hex(8),
                "customer_ref": request["customer_ref"],
                "display": f"{bank_name} {branch_name} {ACCOUNT_TYPES[account_type]} {masked}",
                "fails": account_number == INSUFFICIENT_FUNDS_ACCOUNT,
                "holder": holder_kana,
            }
        )
        separator = "&" if "?" in request["return_url"] else "?"
        return f"{request['return_url']}{separator}result={result}"

    def registered_bank_account(self, result: str, customer_ref: str) -> BankAccount:
        try:
            registered = self._bank_results.loads(result)
        except BadSignature:
            raise PaymentRefused(BANK_ACCOUNT_RESULT_REFUSED) from None
        if registered["customer_ref"] != customer_ref:
            raise PaymentRefused(BANK_ACCOUNT_RESULT_REFUSED)
        token = self._bank_accounts.dumps(
            {
                "account_id": registered["account_id"],
                "customer_ref": customer_ref,
                "fails": registered["fails"],
            }
        )
        return BankAccount(token=f"ba_{token}", display=registered["display"])

    def collect_direct_debit(
        self, account_token: str, amount: int, order_ref: str, idempotency_key: str, day: date
    ) -> ChargeOutcome:
        try:
            account = self._bank_accounts.loads(account_token.removeprefix("ba_"))
        except BadSignature:
            raise PaymentRefused(UNKNOWN_BANK_ACCOUNT) from None
        self._answer_slowly()
        if account["fails"]:
            status, reason = ChargeStatus.DECLINED, INSUFFICIENT_FUNDS
        else:
            status, reason = ChargeStatus.SUCCEEDED, None
        row = self._remember(
            idempotency_key=idempotency_key,
            kind="debit",
            order_ref=order_ref,
            amount=amount,
            status=status,
            event_id=_event_id(idempotency_key),
            decline_reason=reason,
        )
        return _outcome(row)

    # Convenience stores

    def issue_store_payment(self, amount: int, order_ref: str, expires_on: date) -> StoreSlip:
        number = "".join(secrets.choice("0123456789") for _ in range(11))
        return StoreSlip(payment_number=number, expires_on=expires_on, stores=STORES)

    # Notifications

    def read_notification(self, body: bytes, headers: Headers, now: datetime) -> Notification:
        fields = dict(
            part.split("=", 1)
            for part in headers.get(SIGNATURE_HEADER, "").split(",")
            if "=" in part
        )
        if "t" not in fields or "v1" not in fields:
            raise InvalidNotification("missing signature")
        # ASCII digits that fit a date: isdigit() also takes ² and ١٢, and a 20-digit time
        # overflows datetime.
        if not SIGNATURE_TIME.fullmatch(fields["t"]) or not SIGNATURE_DIGEST.fullmatch(
            fields["v1"]
        ):
            raise InvalidNotification("malformed signature")
        sent_at = datetime.fromtimestamp(int(fields["t"]), tz=now.tzinfo)
        expected = sign(self._secret, body, sent_at).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, fields["v1"]):
            raise InvalidNotification("bad signature")
        if abs(now - sent_at) > SIGNATURE_TOLERANCE:
            raise InvalidNotification("stale signature")
        try:
            data = json.loads(body)
            notification = Notification(
                event_id=str(data["id"]),
                method=PaymentMethod(data["method"]),
                reference=str(data["reference"]),
                amount=int(data["amount"]),
                received_at=datetime.fromisoformat(data["received_at"]),
                payer_name=data.get("payer_name"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidNotification(f"malformed notification: {error}") from None
        if notification.method not in (
            PaymentMethod.BANK_TRANSFER,
            PaymentMethod.CONVENIENCE_STORE,
        ):
            raise InvalidNotification("unsupported method")
        if notification.received_at.tzinfo is None or notification.amount <= 0:
            raise InvalidNotification("malformed notification")
        return notification

    @staticmethod
    def notification_for(
        method: str, reference: str, amount: int, payer_name: str | None, now: datetime
    ) -> Notification:
        """What the bank or the store reports for money paid against `reference`. The event ID
        follows from what was paid, so sending it again is the same event (a duplicate)."""
        event = hashlib.sha256(f"{method}|{reference}|{amount}".encode()).hexdigest()[:24]
        return Notification(
            event_id=f"evt_{event}",
            method=method,
            reference=reference,
            amount=amount,
            received_at=now,
            payer_name=payer_name,
        )

    def send_notification(self, url: str, notification: Notification, now: datetime):
        """Deliver a notification to the panel's webhook as the provider would: (status, body)."""
        body = json.dumps(
            {
                "id": notification.event_id,
                "type": "payment.received",
                "method": notification.method,
                "reference": notification.reference,
                "amount": notification.amount,
                "received_at": notification.received_at.isoformat(),
                "payer_name": notification.payer_name,
            },
            ensure_ascii=False,
        ).encode()
        request = urllib.request.Request(  # noqa: S310  (the operator's own panel URL)
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self._secret, body, now),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def sandbox_gateway() -> SandboxGateway:
    """The app's gateway, for the sandbox's own pages (registered only when it is the sandbox)."""
    gateway = payment_gateway()
    if not isinstance(gateway, SandboxGateway):
        raise RuntimeError("the payment gateway is not the sandbox")
    return gateway
