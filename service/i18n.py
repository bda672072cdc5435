"""Text in both languages, for messages decided before anyone knows who will read them.

A service raises or reports a message without a request (tests, CLI commands and jobs call it too), so it
cannot know the reader's language. It gives both texts instead: ``Text(zh, en)``. ``Text`` is a ``str``
whose value is the Chinese text (the default language), so it travels unchanged through marshmallow's
error dicts, lists and JSON; the one place that writes an answer (``api.messages.localize``) picks the
text in the reader's language.
"""
from __future__ import annotations


class Text(str):
    """A message in Chinese and English; as a ``str`` it is the Chinese one."""

    en: str

    def __new__(cls, zh: str, en: str) -> Text:
        text = super().__new__(cls, zh)
        text.en = en
        return text

    @property
    def zh(self) -> str:
        return str.__str__(self)

    def in_(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def __getnewargs__(self) -> tuple[str, str]:  # copy, deepcopy and pickle keep both texts
        return self.zh, self.en

    def __repr__(self) -> str:
        return f"Text({self.zh!r}, {self.en!r})"
