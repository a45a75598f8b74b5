"""Walk-in and item pages: the desk's (staff) and the host's (resident, and the SMS link)."""
