"""The served side: the Datasette plugin of `nianbao serve` (pages built from storage's reads and
monitor's statuses and wording) and the page images of OCR-read reports.

It lives in the application because it joins both: storage must not import monitor (data flows
one way), while a page shows what is stored next to what the checks make of it.  Its SQL stays in
storage (``storage.report_page``, ``storage.desk``); its templates and stylesheet are storage's
Datasette files (``storage/templates``, ``storage/static``).
"""
