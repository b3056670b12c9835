"""Reading the renewal form: a tick box, a period and a plan per contract, the month-end box.

The rows are dynamic (one per contract), so they are read by hand rather than by WTForms;
anything that is not a whole number is treated as not chosen, and the service checks the rest.
The form has no free text, so a control or bidi character anywhere in it was put there by hand:
the whole request is refused (400) rather than a field.
"""

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from panel.forms import HIDDEN_CHARACTER_MESSAGE, has_hidden_character
from panel.models.bills import PaymentMethod
from panel.models.on_account import ON_ACCOUNT
from panel.refusals import RefusedInput

#: What the confirm step's method may name: a bill's payment method, or 請求書払い (the
#: services refuse what the customer may not use).
PURCHASE_METHODS = frozenset({*PaymentMethod, ON_ACCOUNT})


def _whole_number(value: str | None) -> int | None:
    # isascii(): isdigit() also takes ² and ١٢, which int() then refuses or misreads.
    if value and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return None


@dataclass(frozen=True)
class RenewalForm:
    ticked: frozenset[int]
    #: contract ID → the period chosen, in months
    months: dict[int, int]
    #: contract ID → the plan chosen
    plans: dict[int, int]
    month_end: bool
    payment_method: str | None
    application_token: str

    @classmethod
    def read(cls, values: MultiDict) -> "RenewalForm":
        if any(
            has_hidden_character(key) or has_hidden_character(value)
            for key, value in values.items(multi=True)
        ):
            raise RefusedInput(HIDDEN_CHARACTER_MESSAGE)

        def per_contract(prefix: str) -> dict[int, int]:
            chosen = {}
            for key, value in values.items():
                if key.startswith(prefix):
                    contract_id, number = _whole_number(key[len(prefix) :]), _whole_number(value)
                    if contract_id is not None and number is not None:
                        chosen[contract_id] = number
            return chosen

        ticked = {_whole_number(value) for value in values.getlist("renew")}
        method = values.get("payment_method")
        return cls(
            ticked=frozenset(number for number in ticked if number is not None),
            months=per_contract("months-"),
            plans=per_contract("plan-"),
            month_end=values.get("month_end") == "on",
            payment_method=method if method in PURCHASE_METHODS else None,
            application_token=(values.get("application_token") or "")[:64],
        )
