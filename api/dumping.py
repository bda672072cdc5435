"""Answers dumped by their response schema, compiled once into a plain function.

marshmallow dumps a value field by field through several layers of calls (``Field.serialize`` →
``get_value`` → the accessor → ``_serialize``): about 800 field dumps for a page of 20 meal bookings, a
quarter of that request's time. ``compile_dump(schema)`` reads the schema's dump fields once and returns a
function with the same result: a value already of a field's own type (a ``str`` for a String, an ``int``
for an Integer, a ``bool``, a ``float``, ``None``) is taken as it is, nested schemas and lists of them
are compiled in turn, and every other field is dumped by its own ``_serialize`` (labels, Shanghai
timestamps, money, dates: the same code as before). Missing keys, defaults, dotted attributes, fields
that read no attribute and schemas with dump hooks or their own accessor go through marshmallow. The
function is written out for each schema (``_generated``): the fields are read inline, one after the other,
with no call for a value that dumps as itself.

The schemas stay the contract: the API document is built from them, and under test every compiled dump
is compared with ``schema.dump`` of the same value, so a difference fails the test that produced it.
"""
from __future__ import annotations

import contextvars
import types
from typing import Any, Callable

import marshmallow as ma
from flask import current_app
from marshmallow.schema import POST_DUMP, PRE_DUMP
from marshmallow.utils import get_value, missing

from api.messages import language
from api.schemas.common import Label, Labels

_String, _Integer, _Float, _Boolean = (ma.fields.String._serialize, ma.fields.Integer._serialize,
                                       ma.fields.Float._serialize, ma.fields.Boolean._serialize)
_KEPT = {_String: str, _Integer: int, _Float: float, _Boolean: bool}   # a value of this type dumps as itself
_NONE_IS_NONE = frozenset({_String, _Integer, _Float, _Boolean, ma.fields.Date._serialize,
                           ma.fields.DateTime._serialize, ma.fields.Nested._serialize, ma.fields.List._serialize,
                           ma.fields.Dict._serialize})


def _plain(schema: ma.Schema) -> bool:
    """Whether the schema dumps as the sum of its fields (no hooks, the default accessor)."""
    return (not schema._hooks[PRE_DUMP] and not schema._hooks[POST_DUMP]
            and type(schema).get_attribute is ma.Schema.get_attribute)


class _Step:
    """One field's dump: ``run(obj, out)`` puts it into ``out`` as Schema._serialize would. A field read by plain
    attribute (``fast``) also says how, so that ``compile_dump`` can write its reading inline: where it reads
    from (``attribute``), under which key it goes (``key``), the type kept as it is, whether ``None`` stays
    ``None``, and the conversion of any other value; ``run`` handles what the inline reading does not (a key
    missing from a dict, a default)."""

    __slots__ = ("run", "fast", "name", "key", "attribute", "kept", "none_is_none", "convert")

    def __init__(self, run, fast=False, name=None, key=None, attribute=None, kept=None, none_is_none=False,
                 convert=None):
        self.run, self.fast, self.name, self.key, self.attribute = run, fast, name, key, attribute
        self.kept, self.none_is_none, self.convert = kept, none_is_none, convert


def _field_step(name: str, field: ma.fields.Field, schema: ma.Schema) -> _Step:
    """This field's dump of an object (``_Step``), as Schema._serialize would."""
    key = field.data_key if field.data_key is not None else name
    attribute = field.attribute if field.attribute is not None else name
    accessor = schema.get_attribute

    def by_marshmallow(obj, out):
        value = field.serialize(name, obj, accessor=accessor)
        if value is not missing:
            out[key] = value

    if not field._CHECK_ATTRIBUTE or "." in attribute or type(field).get_value is not ma.fields.Field.get_value:
        return _Step(by_marshmallow)
    serialize = type(field)._serialize
    convert = _converter(field)
    kept = _KEPT.get(serialize) if not getattr(field, "as_string", False) else None
    none_is_none = serialize in _NONE_IS_NONE

    def step(obj, out):
        if type(obj) is dict:
            value = obj.get(attribute, missing)
            if value is missing and attribute not in obj:
                value = get_value(obj, attribute)    # what marshmallow falls back to (an attribute of dict)
        else:
            value = getattr(obj, attribute, missing)
        if value is missing:
            by_marshmallow(obj, out)                 # a default, or the key left out
        elif value is None and none_is_none:
            out[key] = None
        elif kept is not None and type(value) is kept:
            out[key] = value
        else:
            out[key] = convert(value, name, obj)

    return _Step(step, True, name, key, attribute, kept, none_is_none, convert)


def _generated(steps: list[_Step]) -> Callable[[Any], dict]:
    """``one(obj)``: every step's dump of ``obj`` in a function written for this schema, the fast fields read
    inline (a dict by ``get``, anything else by ``getattr``): no call per field for a value that dumps as itself
    or as ``None``. Any value the inline reading cannot place goes through the step's own ``run``."""
    names: dict[str, Any] = {"M": missing}
    lines_dict, lines_attr = [], []
    for i, st in enumerate(steps):
        names[f"s{i}"] = st.run
        if not st.fast:
            lines_dict.append(f"        s{i}(obj, out)")
            lines_attr.append(f"        s{i}(obj, out)")
            continue
        names[f"c{i}"] = st.convert
        if st.kept is not None:
            names[f"k{i}"] = st.kept
        reads = ((lines_dict, f"get({st.attribute!r}, M)"), (lines_attr, f"getattr(obj, {st.attribute!r}, M)"))
        for lines, read in reads:
            lines.append(f"        v = {read}")
            lines.append(f"        if v is M: s{i}(obj, out)")
            if st.none_is_none:
                lines.append(f"        elif v is None: out[{st.key!r}] = None")
            if st.kept is not None:
                lines.append(f"        elif type(v) is k{i}: out[{st.key!r}] = v")
            lines.append(f"        else: out[{st.key!r}] = c{i}(v, {st.name!r}, obj)")
    source = "\n".join(["def one(obj):", "    out = {}", "    if type(obj) is dict:", "        get = obj.get",
                        *(lines_dict or ["        pass"]), "    else:", *(lines_attr or ["        pass"]),
                        "    return out"])
    exec(compile(source, "<api.dumping>", "exec"), names)   # noqa: S102 - written here from the schema's fields
    return names["one"]


# The reader's language, looked up once per answer rather than once per label.
_LANGUAGE: contextvars.ContextVar[str | None] = contextvars.ContextVar("linli.dump_language", default=None)


def _language() -> str:
    return _LANGUAGE.get() or language()


def _converter(field: ma.fields.Field) -> Callable[[Any, str, Any], Any]:
    """``(value, name, obj)`` → the field's dump of a value that is present and not ``None``."""
    if type(field)._serialize is Label._serialize:
        lookup = field.lookup
        return lambda value, name, obj: lookup(value, _language())
    if type(field)._serialize is Labels._serialize:
        lookup = field.lookup

        def labels(value, name, obj):
            lang = _language()
            return [lookup(code, lang) for code in value]

        return labels
    if isinstance(field, ma.fields.Nested) and type(field)._serialize is ma.fields.Nested._serialize:
        schema = field.schema
        if _plain(schema):
            dump = compile_dump(schema, check=False)
            many = schema.many or field.many
            if many:
                return lambda value, name, obj: [dump(item) for item in value]
            return lambda value, name, obj: dump(value)
    if (isinstance(field, ma.fields.List) and type(field)._serialize is ma.fields.List._serialize
            and isinstance(field.inner, ma.fields.Nested)
            and type(field.inner)._serialize is ma.fields.Nested._serialize):
        inner = field.inner
        schema = inner.schema
        if _plain(schema) and not (schema.many or inner.many):
            dump = compile_dump(schema, check=False)
            return lambda value, name, obj: [None if item is None else dump(item) for item in value]
    return field._serialize


def compile_dump(schema: ma.Schema, *, check: bool = True) -> Callable[[Any], Any]:
    """A function that dumps a value as ``schema.dump`` does (with the schema's ``many``). With ``check``,
    under test, each result is compared with ``schema.dump``'s."""
    reference = types.MethodType(type(schema).dump, schema)   # the class's: an instance's own dump may be this
    if not _plain(schema):
        compiled = reference
    else:
        one = _generated([_field_step(name, field, schema) for name, field in schema.dump_fields.items()])
        compiled = (lambda objs: None if objs is None else [one(obj) for obj in objs]) if schema.many else one
    if not check:
        return compiled

    def dump(obj, *, many: bool | None = None):
        if many is not None and many != schema.many:
            return reference(obj, many=many)
        token = _LANGUAGE.set(language())
        try:
            result = compiled(obj)
        finally:
            _LANGUAGE.reset(token)
        if current_app.testing:
            expected = reference(obj)
            if result != expected:
                raise AssertionError(f"{type(schema).__name__}: the compiled dump differs from marshmallow's: "
                                     f"{result!r} != {expected!r}")
        return result

    return dump


def compile_on_first_dump(schema: ma.Schema) -> None:
    """Give ``schema`` (an instance, perhaps shared by several responses) a ``dump`` that compiles itself on
    its first call: nested schemas named by string resolve only once every schema module is imported."""
    if "dump" in vars(schema):
        return

    def dump(obj, *, many=None):
        schema.dump = compile_dump(schema)
        return schema.dump(obj, many=many)

    schema.dump = dump
