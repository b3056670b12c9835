"""The forms of ご契約自動更新の設定: on/off and period, and one server's own setting. The card
is registered with the bill's card form (`panel.forms.bills.CardForm`)."""

from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired

from panel.forms import PanelForm
from panel.models.customers import AUTO_RENEWAL_PERIODS_MONTHS
from panel.services.auto_renewal import SERVER_SETTING_LABELS
from panel.services.renewal.pricing import period_label

PERIOD_CHOICES = [str(months) for months in AUTO_RENEWAL_PERIODS_MONTHS]


class AutoRenewalForm(PanelForm):
    enabled = RadioField(
        "自動更新",
        choices=[SelectChoice("on", "ON(自動更新する)"), SelectChoice("off", "OFF")],
        validate_choice=False,
        validators=[
            InputRequired("自動更新のONかOFFを選んでください。"),
            AnyOf(["on", "off"], message="自動更新のONかOFFを選んでください。"),
        ],
    )
    months = RadioField(
        "延長期間",
        choices=[SelectChoice(m, period_label(int(m))) for m in PERIOD_CHOICES],
        validate_choice=False,
        validators=[
            InputRequired("延長期間を選んでください。"),
            AnyOf(PERIOD_CHOICES, message="延長期間は1ヶ月・3ヶ月・6ヶ月・1年からお選びください。"),
        ],
    )


class ServerAutoRenewalForm(PanelForm):
    setting = RadioField(
        "このサーバーの自動更新",
        choices=[SelectChoice(code, text) for code, text in SERVER_SETTING_LABELS.items()],
        validate_choice=False,
        validators=[
            InputRequired("自動更新の設定を選んでください。"),
            AnyOf(list(SERVER_SETTING_LABELS), message="自動更新の設定を選んでください。"),
        ],
    )
