"""The access bridge: pushes time-limited credentials to devices and brings events back.

It reads and writes the database only; it never imports the portal's web layer.
"""
