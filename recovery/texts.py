"""Stored messages that each reader sees in their own language.

A worker writes "Rebasing failed: …" once, while the operator reads it in English and a
colleague in Chinese. So a message the console writes for people to read later (a recovery's
step, its failure and advice, its waiting reason, its events) is a `Text`: the English
sentence, which is what the column holds (searches, exports, webhooks and old rows keep working),
plus the catalogue's msgid and its parameters, kept beside it in the row's `texts` JSON.
Rendered (str(), a template), a Text speaks the active language; everything else a str does
(compare, slice, search, len) it does with the English sentence.

Parameters stay as given: a platform's own message is shown as the platform wrote it. A
parameter that is itself a Text or a lazy translation (a status label) is translated too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext

if TYPE_CHECKING:
    from platforms.clients import PlatformError

Param = str | int | float


class Text(str):
    """An English sentence that knows its msgid; str() gives it in the active language."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Self:
        with translation.override(None):  # the stored sentence is always the msgid's English
            english = _format(msgid, params)
        text = super().__new__(cls, english)
        text.msgid = msgid
        text.params = params
        return text

    @classmethod
    def label(cls, label: Any) -> Text:
        """A lazy label (a status's) as a stored Text: its English is its msgid."""
        with translation.override(None):
            return cls(str(label))

    def __str__(self) -> str:
        language = translation.get_language()
        if language is None or language.startswith("en"):
            return str.__str__(self)
        return _format(gettext(self.msgid), self.params)

    def __format__(self, spec: str) -> str:
        # f"{text}" composes a stored sentence: keep it English, like the column.
        return str.__format__(str.__str__(self), spec)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.msgid, self.params))

    def stored(self) -> list[Any]:
        return [self.msgid, {key: _encode(value) for key, value in self.params.items()}]

    @classmethod
    def decode(cls, raw: Any, english: str | None = None) -> Text | None:
        """The Text stored as `raw`; None when it is not one, or (given `english`) when the
        column no longer holds the sentence it renders (the column was changed since)."""
        try:
            msgid, params = raw
            text = cls(str(msgid), **{str(k): _decode(v) for k, v in dict(params).items()})
        except (TypeError, ValueError, KeyError):
            return None
        if english is not None and str.__str__(text) != english:
            return None
        return text


def joined(texts: Iterable[Text]) -> Text:
    """Texts with "; " between them, each kept a Text (a stored list reads translated)."""
    items = list(texts)
    text = items[0]
    for later in items[1:]:
        text = Text("%(earlier)s; %(later)s", earlier=text, later=later)
    return text


def english(value: object) -> str:
    """The stored sentence of a Text (whatever language is active), str() of anything else."""
    return str.__str__(value) if isinstance(value, str) else str(value)


def platform_text(error: PlatformError, *, where: bool = False) -> Text:
    """A platform client's error in the reader's language, to show now or to store.

    platforms words it in English (it never imports recovery) and keeps its msgid and
    parameters; the platform's own words among them stay as the platform wrote them. `where`
    adds the call that failed, as str(error) does."""
    text = Text(error.msgid, **error.params)
    if where and error.method:
        return Text(
            "%(message)s (%(method)s %(path)s)", message=text, method=error.method, path=error.path
        )
    return text


def _rebuild(msgid: str, params: dict[str, Any]) -> Text:
    return Text(msgid, **params)


def _format(template: str, params: Mapping[str, Any]) -> str:
    if not params:
        return template
    try:
        return template % {key: str(value) for key, value in params.items()}
    except (KeyError, ValueError, TypeError):
        # A catalogue entry that does not fit its parameters must not hide the message.
        return template


def _encode(value: Any) -> Any:
    if isinstance(value, Text):
        return {"text": value.stored()}
    if isinstance(value, Promise):
        # A lazy label (gettext_lazy): its English rendering is its msgid.
        with translation.override(None):
            return {"text": [str(value), {}]}
    if isinstance(value, bool | int | float):
        return value
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "text" in value:
        return Text.decode(value["text"]) or ""
    return value


class TranslatedTexts(models.Model):
    """A model whose TRANSLATED columns may hold Texts (their msgids are kept in `texts`)."""

    TRANSLATED: tuple[str, ...] = ()
    texts = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.collect_texts()
        update_fields: Iterable[str] | None = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(self.TRANSLATED):
            kwargs["update_fields"] = {*update_fields, "texts"}
        super().save(*args, **kwargs)

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Collection[str],
        values: Collection[Any],
        **kwargs: Any,
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        stored = instance.__dict__.get("texts")
        if stored:
            for name in cls.TRANSLATED:
                english = instance.__dict__.get(name)
                if name in stored and isinstance(english, str):
                    text = Text.decode(stored[name], english)
                    if text is not None:
                        instance.__dict__[name] = text
        return instance

    def collect_texts(self) -> None:
        """Record the msgid of each TRANSLATED column that holds a Text; forget the others."""
        texts = {}
        for name in self.TRANSLATED:
            value = self.__dict__.get(name)
            if isinstance(value, Text):
                texts[name] = value.stored()
        self.texts = texts
