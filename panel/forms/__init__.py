"""Forms, one module per area; every form derives from `PanelForm`."""

import re

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import StopValidation

HIDDEN_CHARACTER_MESSAGE = "使用できない文字(制御文字や文字の向きを変える記号)が含まれています。"

#: C0 and C1 control characters and DEL, and the bidi controls (Unicode's Bidi_Control: ALM,
#: LRM, RLM, LRE to RLO, LRI to PDI). None of them is ever typed on purpose; a NUL breaks
#: PostgreSQL, and a right-to-left override turned デモ into モデ on an invoice.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_BREAKS_AND_TAB = "\t\n\r"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_HIDDEN = re.compile(f"[{_CONTROL}{_LINE_BREAKS_AND_TAB}{_BIDI}]")
_HIDDEN_IN_TEXT = re.compile(f"[{_CONTROL}{_BIDI}]")


def has_hidden_character(text: str, *, multiline: bool = False) -> bool:
    """Does `text` hold a control or bidi character? `multiline` text (a textarea) may hold
    tabs and line breaks."""
    return (_HIDDEN_IN_TEXT if multiline else _HIDDEN).search(text) is not None


def refuse_hidden_characters(form, field) -> None:
    """Runs first on every field of every panel form, on what the browser sent."""
    multiline = isinstance(field, TextAreaField)
    if any(
        isinstance(value, str) and has_hidden_character(value, multiline=multiline)
        for value in field.raw_data or ()
    ):
        # The one thing to fix: other complaints about the same text would only confuse.
        field.errors.clear()
        raise StopValidation(HIDDEN_CHARACTER_MESSAGE)


class PanelForm(FlaskForm):
    """The base of every form: control and bidi characters are refused in every field, before
    any other check, so they never reach a service or the database."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            field.validators = [refuse_hidden_characters, *field.validators]
            return field
