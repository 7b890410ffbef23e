"""The shipped email templates, installed as the package data ``helpdesk.shipped_templates``.

Only a marker: it lets an editable install (``pip install -e .``) map this
top-level folder to a sub-package of helpdesk, as a wheel does. The
templates are the ``.j2`` files beside it; ``[replies] templates`` in
config.toml points to your own copy instead.
"""
