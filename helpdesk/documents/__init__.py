"""Reading attachments safely: sniff, archive, pdf, excel, examine, worker.

Each reason a file cannot be read is written for the entity and ends with
what to do about it: the correction email quotes it as it is.
"""

# What a file too large to read calls for: most are scans made at 600 ppp
# in colour, which a lower resolution fixes (sending "the right format"
# would not).
RESCAN_SMALLER = "escanee el documento de nuevo a menor resolución (150 a 200 ppp bastan) o en escala de grises"
SEND_ANOTHER_COPY = "envíe otra copia del documento"
