import pytest
from flask import render_template_string

from panel import labels
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.contracts import ContractStatus
from panel.models.customers import Role
from panel.models.domains import DomainPolicy, PolicySource


@pytest.mark.parametrize(
    ("codes", "words"),
    [
        (BillStatus, labels.BILL_STATUS),
        (PaymentMethod, labels.PAYMENT_METHOD),
        (ContractStatus, labels.CONTRACT_STATUS),
        (Role, labels.ROLE),
        (BillKind, labels.RECEIPT_PURPOSE),
        (DomainPolicy, labels.DOMAIN_POLICY),
        (PolicySource, labels.POLICY_SOURCE),
    ],
)
def test_every_code_a_customer_can_meet_has_its_words(codes, words):
    assert set(words) == set(codes)
    assert all(words.values())


def test_templates_write_a_code_in_words_and_an_unknown_one_as_it_is(app):
    template = "{{ 'paid' | label('bill_status') }} / {{ 'new_event' | label('audit_event') }}"
    assert render_template_string(template) == "お支払済 / new_event"
