"""The forms on a bill awaiting payment: method, card, transfer notice."""

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime

from wtforms import DateField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Regexp

from panel import labels
from panel.forms import PanelForm


def normalised(value: str | None) -> str | None:
    """Full-width digits and letters as half-width, surrounding spaces gone (NFKC)."""
    return unicodedata.normalize("NFKC", value).strip() if value else value


#: Up to 999,999,999 yen, in ASCII digits (after NFKC): str.isdigit() also takes ١٢.
YEN = re.compile(r"[0-9]{1,9}")


class YenField(IntegerField):
    """Whole yen, also when typed as 12,540, １２５４０ or 12540円."""

    def process_formdata(self, valuelist):
        typed = valuelist[0] if valuelist else ""
        text = (normalised(typed) or "").replace(",", "").removesuffix("円")
        if not text:
            self.data = None
            return
        # NFKC turns ² and ① into digits too (category "No"): only digits typed as digits count.
        if not YEN.fullmatch(text) or any(unicodedata.category(c) == "No" for c in typed):
            self.data = None
            raise ValueError("金額は半角数字で入力してください(例: 12540)。")
        self.data = int(text)


class JapaneseDateField(DateField):
    """A date from an <input type=date> (or typed as 2026-11-21 or 2026/11/21)."""

    def process_formdata(self, valuelist):
        text = (normalised(valuelist[0]) or "").replace("/", "-") if valuelist else ""
        if not text:
            self.data = None
            return
        try:
            self.data = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            self.data = None
            raise ValueError("日付を正しく入力してください(例: 2026-11-21)。") from None


class PaymentMethodForm(PanelForm):
    """Another method for a bill awaiting payment: the choices are the bill's own
    (`billing.payment_methods_for`, which the service checks again)."""

    method = RadioField(
        "お支払方法",
        validate_choice=False,
        validators=[InputRequired("お支払方法を選択してください。")],
    )

    def offering(self, methods: Iterable[str]) -> "PaymentMethodForm":
        self.method.choices = [SelectChoice(m, labels.PAYMENT_METHOD[m]) for m in methods]
        return self


EXPIRY = re.compile(r"^(0[1-9]|1[0-2])\s*/\s*(\d{2}|\d{4})$")


class CardForm(PanelForm):
    """Card details go straight to the gateway for a token; the panel keeps none of them."""

    number = StringField(
        "カード番号",
        filters=[normalised],
        validators=[
            InputRequired("カード番号を入力してください。"),
            Length(max=30, message="カード番号は30文字以内で入力してください。"),
        ],
    )
    expiry = StringField(
        "有効期限(月/年)",
        filters=[normalised],
        validators=[
            InputRequired("有効期限を入力してください。"),
            Regexp(EXPIRY, message="有効期限は「月/年」の形で入力してください(例: 04/29)。"),
        ],
    )
    security_code = StringField(
        "セキュリティコード",
        filters=[normalised],
        validators=[
            InputRequired("セキュリティコードを入力してください。"),
            Length(max=4, message="セキュリティコードは4桁以内で入力してください。"),
        ],
    )

    def expiry_month_year(self) -> tuple[int, int]:
        expiry = EXPIRY.match(self.expiry.data)
        assert expiry is not None, "called once the form is valid, so the Regexp matched"
        month, year = expiry.groups()
        return int(month), int(year) if len(year) == 4 else 2000 + int(year)


class TransferNoticeForm(PanelForm):
    transferred_on = JapaneseDateField(
        "振込日", validators=[InputRequired("振込日を入力してください。")]
    )
    payer_name = StringField(
        "振込名義",
        filters=[normalised],
        validators=[
            InputRequired("振込名義を入力してください。"),
            Length(max=60, message="振込名義は60文字以内で入力してください。"),
        ],
    )
    amount = YenField("振込金額(円)", validators=[InputRequired("振込金額を入力してください。")])
    bank_name = StringField(
        "振込元の金融機関",
        filters=[normalised],
        validators=[
            InputRequired("振込元の金融機関名を入力してください。"),
            Length(max=60, message="金融機関名は60文字以内で入力してください。"),
        ],
    )

    def default_for(self, today: date, amount: int) -> "TransferNoticeForm":
        """Today and the bill's total prefilled, as most notices are sent on the day."""
        self.transferred_on.data = today
        self.amount.data = amount
        return self
