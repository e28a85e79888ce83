"""Importing contacts from an xlsx or csv laid out as the export writes it (API_CONTACTS.md, 导入).

`reading` turns a file into header and rows within the service's limits, `columns` turns cells into
values, `services` validates every row and writes all of them or none.
"""
