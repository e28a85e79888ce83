"""Contact exports, one way down.

`services` is the only entry point (the API, the admin action, the purge command and the benchmark):
it records each export in the history and calls, below it, `workbook` (rows in, xlsx out) and `csvfile`
(rows in, CSV out), both writing the columns `columns` defines, `storage`
(where finished files live, through Django's storage API) and `links` (signed download links). All
of them raise the exceptions of `errors`. Nothing here imports the API.
No cell value is ever logged: contacts are personal data.
"""
