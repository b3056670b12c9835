"""Every form of the panel, walked field by field with what a hostile or careless user sends:
each refusal is in Japanese, and hidden characters are refused in every field."""

import importlib
import inspect
import pkgutil

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from wtforms import TextAreaField

import panel.forms
from panel.forms import HIDDEN_CHARACTER_MESSAGE, PanelForm
from panel.forms.bills import TransferNoticeForm
from panel.forms.renewal import RenewalForm

#: Too long for any field, numbers no field takes, and words where numbers or choices belong.
WRONG_VALUES = [
    "x" * 5000,
    "9" * 5000,
    "taro@" + "x" * 300 + ".jp",
    "²",
    "①",
    "١٢",
    "-1",
    "abc",
    " ",
    "2026-13-45",
    "13/99",
]
HIDDEN_CHARACTERS = ["\x00", "\x08", "\x1f", "\x7f", "\x9b", "\u202a", "\u2069", "\u200e", "\u061c"]


def _form_classes() -> list[type[FlaskForm]]:
    classes = []
    for module_info in pkgutil.iter_modules(panel.forms.__path__):
        module = importlib.import_module(f"panel.forms.{module_info.name}")
        classes += [
            member
            for _, member in inspect.getmembers(module, inspect.isclass)
            if issubclass(member, FlaskForm) and member.__module__ == module.__name__
        ]
    return classes


FORM_CLASSES = _form_classes()


def _submit(form_class, value: str) -> FlaskForm:
    names = [name for name, _ in form_class()._fields.items() if name != "csrf_token"]
    form = form_class(formdata=MultiDict({name: value for name in names}), meta={"csrf": False})
    form.validate()
    return form


def _messages(form: FlaskForm) -> list[str]:
    return [message for field in form for message in field.errors] + list(form.form_errors)


def test_the_walk_finds_the_forms():
    assert len(FORM_CLASSES) >= 10


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda form: form.__name__)
def test_every_form_derives_from_the_panel_form(form_class):
    assert issubclass(form_class, PanelForm)


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda form: form.__name__)
def test_every_refusal_of_every_form_is_in_japanese(app, form_class):
    with app.test_request_context(method="POST"):
        messages = {m for value in WRONG_VALUES for m in _messages(_submit(form_class, value))}
        # Empty too: every required field says so in Japanese.
        messages |= set(_messages(_submit(form_class, "")))
    english = sorted(message for message in messages if message.isascii())
    assert not english


@pytest.mark.parametrize("character", HIDDEN_CHARACTERS, ids=repr)
@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda form: form.__name__)
def test_every_field_of_every_form_refuses_hidden_characters(app, form_class, character):
    with app.test_request_context(method="POST"):
        form = _submit(form_class, f"1{character}2")
        for field in form:
            if field.name != "csrf_token":
                assert field.errors == [HIDDEN_CHARACTER_MESSAGE], field.name


@pytest.mark.parametrize("character", ["\t", "\n", "\r\n"], ids=repr)
def test_tabs_and_line_breaks_are_refused_outside_a_textarea(app, character):
    with app.test_request_context(method="POST"):
        form = _submit(TransferNoticeForm, f"サンプル{character}銀行")
        assert form.bank_name.errors == [HIDDEN_CHARACTER_MESSAGE]


def test_a_textarea_keeps_tabs_and_line_breaks_but_not_other_controls(app):
    class NoteForm(PanelForm):
        note = TextAreaField("メモ")

    with app.test_request_context(method="POST"):
        kept = NoteForm(formdata=MultiDict({"note": "一行目\r\n\t二行目"}), meta={"csrf": False})
        refused = NoteForm(formdata=MultiDict({"note": "一行目\x00"}), meta={"csrf": False})
        assert kept.validate() and not refused.validate()
        assert refused.note.errors == [HIDDEN_CHARACTER_MESSAGE]


# Whole yen


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("12540", 12540), ("１２５４０", 12540), ("12,540", 12540), ("１２，５４０円", 12540)],
)
def test_yen_typed_in_half_or_full_width_digits_are_accepted(app, typed, amount):
    with app.test_request_context(method="POST"):
        form = TransferNoticeForm(formdata=MultiDict({"amount": typed}), meta={"csrf": False})
        form.validate()
        assert (form.amount.data, form.amount.errors) == (amount, [])


@pytest.mark.parametrize("typed", ["²", "1²", "①", "١٢", "12.5", "-1", "1" * 10, "½"])
def test_yen_in_other_digits_are_refused_in_japanese(app, typed):
    with app.test_request_context(method="POST"):
        form = TransferNoticeForm(formdata=MultiDict({"amount": typed}), meta={"csrf": False})
        form.validate()
        assert form.amount.data is None
        assert form.amount.errors == ["金額は半角数字で入力してください(例: 12540)。"]


# The renewal form, read by hand


@pytest.mark.parametrize("number", ["²", "①", "١٢", "1" * 10, "-1", " 1", ""])
def test_the_renewal_form_ignores_what_is_not_a_whole_number(number):
    form = RenewalForm.read(
        MultiDict(
            [("renew", number), ("renew", "7"), (f"months-{number}", "12"), ("months-7", number)]
        )
    )
    assert form.ticked == frozenset({7})
    assert form.months == {}


@pytest.mark.parametrize("character", HIDDEN_CHARACTERS, ids=repr)
def test_the_renewal_form_refuses_hidden_characters(app, character):
    with app.test_request_context(), pytest.raises(BadRequest) as refusal:
        RenewalForm.read(MultiDict({"application_token": f"token{character}"}))
    assert refusal.value.description == HIDDEN_CHARACTER_MESSAGE
