"""The shipped rules, installed as the package data ``helpdesk.shipped_rules``.

Only a marker: it lets an editable install (``pip install -e .``) map this
top-level folder to a sub-package of helpdesk, as a wheel does. The rules
are the ``.toml`` files beside it; ``[rules] path`` in config.toml points
to your own copy instead.
"""
