"""The forms of ドメイン一覧・設定: the account's, a TLD's and a domain's 自動更新 / 自動失効, and
a domain's locks. The choices are codes; the service checks them again."""

from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length

from panel import labels
from panel.forms import PanelForm
from panel.models.domains import DomainPolicy

#: The code of "no setting of its own" for a TLD or a domain.
INHERIT = "inherit"
POLICIES = [policy.value for policy in DomainPolicy]
CHOOSE_POLICY = "自動更新か自動失効を選んでください。"
CHOOSE_SETTING = "設定を選んでください。"
CHOOSE_LOCK = "ロックのONかOFFを選んでください。"


def policy_or_none(code: str) -> str | None:
    """A setting's code as the service takes it: a policy, or None to follow the level above."""
    return None if code == INHERIT else code


class AccountDomainPolicyForm(PanelForm):
    policy = RadioField(
        "アカウント全体の設定",
        choices=[SelectChoice(code, text) for code, text in labels.DOMAIN_POLICY.items()],
        validate_choice=False,
        validators=[InputRequired(CHOOSE_POLICY), AnyOf(POLICIES, message=CHOOSE_POLICY)],
    )


class TldDomainPolicyForm(PanelForm):
    tld = HiddenField(
        "TLD",
        validators=[
            InputRequired("TLDを指定してください。"),
            Length(max=63, message="TLDが長すぎます。"),
        ],
    )
    policy = RadioField(
        "TLDの設定",
        choices=[
            SelectChoice(INHERIT, labels.FOLLOW_ACCOUNT),
            *(SelectChoice(code, text) for code, text in labels.DOMAIN_POLICY.items()),
        ],
        validate_choice=False,
        validators=[
            InputRequired(CHOOSE_SETTING),
            AnyOf([INHERIT, *POLICIES], message=CHOOSE_SETTING),
        ],
    )


class DomainPolicyForm(PanelForm):
    policy = RadioField(
        "このドメインの設定",
        choices=[
            SelectChoice(INHERIT, labels.FOLLOW_TLD),
            *(SelectChoice(code, text) for code, text in labels.DOMAIN_POLICY.items()),
        ],
        validate_choice=False,
        validators=[
            InputRequired(CHOOSE_SETTING),
            AnyOf([INHERIT, *POLICIES], message=CHOOSE_SETTING),
        ],
    )


def _lock_field(name: str) -> RadioField:
    return RadioField(
        labels.DOMAIN_LOCK[name],
        choices=[SelectChoice("on", "ON(ロックする)"), SelectChoice("off", "OFF")],
        validate_choice=False,
        validators=[InputRequired(CHOOSE_LOCK), AnyOf(["on", "off"], message=CHOOSE_LOCK)],
    )


class DomainLockForm(PanelForm):
    transfer_locked = _lock_field("transfer_locked")
    update_locked = _lock_field("update_locked")
    delete_locked = _lock_field("delete_locked")

    def locks(self) -> dict[str, bool]:
        return {name: self[name].data == "on" for name in labels.DOMAIN_LOCK}
