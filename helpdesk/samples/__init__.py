"""Sample requests drawn as entities send them, for trying the desk.

An entity prints the request form, fills it in, signs it and scans it,
fills in the same form in Excel and scans its acta de posesión. This
package draws those documents with Pillow (``page``: an A4 sheet in
inches and points, a handwritten-like signature, a stamp; ``documents``:
the form, the acta and other pages; ``capture``: the scanner or the phone
that turns a page into a file), fills the official Excel template
(``excel``) and puts a whole request, or one with a named flaw, in an
email (``request``) for ``helpdesk sample-request``.

The tests draw their varied scans with the same code (tests/scans.py).
"""
