"""marshmallow 4 schemas: separate load (…In / …Args) and dump (…Out) schemas per domain."""
