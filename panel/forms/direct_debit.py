"""The bank-account form of direct debit (口座振替), as the sandbox gateway's own page shows it.
With a real provider this form is the provider's: the panel never sees an account number."""

import re
import unicodedata

from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Regexp

from panel.forms import PanelForm
from panel.forms.bills import normalised
from panel.gateways.sandbox import ACCOUNT_TYPES

#: 口座番号: seven digits (after NFKC, so full-width digits are read too).
ACCOUNT_NUMBER = re.compile(r"^[0-9]{7}$")
#: 口座名義: full-width katakana (half-width is made full-width by NFKC), spaces and the
#: punctuation banks accept in a name.
HOLDER_KANA = re.compile(r"^[\u30a1-\u30fa\u30fc\u3000 ().\-]+$")


def account_number(value: str | None) -> str | None:
    """Digits typed as digits only: NFKC would also make ① or ² a digit."""
    if value is None or any(unicodedata.category(c) == "No" for c in value):
        return value
    return (normalised(value) or "").replace("-", "").replace(" ", "")


class BankAccountForm(PanelForm):
    bank_name = StringField(
        "金融機関名",
        filters=[normalised],
        validators=[
            InputRequired("金融機関名を入力してください。"),
            Length(max=30, message="金融機関名は30文字以内で入力してください。"),
        ],
    )
    branch_name = StringField(
        "支店名",
        filters=[normalised],
        validators=[
            InputRequired("支店名を入力してください。"),
            Length(max=30, message="支店名は30文字以内で入力してください。"),
        ],
    )
    account_type = RadioField(
        "預金種目",
        choices=[SelectChoice(code, label) for code, label in ACCOUNT_TYPES.items()],
        validate_choice=False,
        validators=[
            InputRequired("預金種目を選んでください。"),
            AnyOf(list(ACCOUNT_TYPES), message="預金種目を選んでください。"),
        ],
    )
    account_number = StringField(
        "口座番号(7桁)",
        filters=[account_number],
        validators=[
            InputRequired("口座番号を入力してください。"),
            Regexp(ACCOUNT_NUMBER, message="口座番号は7桁の数字で入力してください。"),
        ],
    )
    holder_kana = StringField(
        "口座名義(カナ)",
        filters=[normalised],
        validators=[
            InputRequired("口座名義をカタカナで入力してください。"),
            Length(max=30, message="口座名義は30文字以内で入力してください。"),
            Regexp(
                HOLDER_KANA, message="口座名義はカタカナで入力してください(例: カ)デモシヨウジ)。"
            ),
        ],
    )
