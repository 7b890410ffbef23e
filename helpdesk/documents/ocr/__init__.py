"""OCR of scanned pages in the document worker (CONTRACT section 11).

One module per step, in the order a page takes them, as OCRmyPDF does:
rasterise.py (the page as an image), orient.py (which way up), clean.py
(crop, deskew, even the contrast), recognise.py (Tesseract's words, boxes
and confidences), ink.py (the signature area's ink); read.py runs them
for a document and returns a ``ScanReading`` (documents/reading.py);
engine.py finds Tesseract and its Spanish data once per process.
"""
