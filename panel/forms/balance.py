"""The deposit (入金) form on 請求書/残高."""

from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length

from panel import labels
from panel.forms import PanelForm
from panel.forms.bills import YenField
from panel.services.billing import BALANCE_BILL_METHODS


class DepositForm(PanelForm):
    amount = YenField("入金額(円)", validators=[InputRequired("入金額を入力してください。")])
    method = RadioField(
        "お支払方法",
        choices=[SelectChoice(m, labels.PAYMENT_METHOD[m]) for m in BALANCE_BILL_METHODS],
        validate_choice=False,
        validators=[
            InputRequired("お支払方法を選択してください。"),
            AnyOf(list(BALANCE_BILL_METHODS), message="お支払方法を選択してください。"),
        ],
    )
    #: the form's one-time token (a double submit finds the bill the first one made)
    application_token = HiddenField(
        validators=[
            InputRequired("ページの有効期限が切れました。もう一度お試しください。"),
            Length(max=64, message="ページの有効期限が切れました。もう一度お試しください。"),
        ]
    )
