"""The visitor and access portal."""
