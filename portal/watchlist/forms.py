"""The watchlist form reads into the same values the API takes."""

from portal.desk.forms import watchlist_data

__all__ = ["watchlist_data"]
