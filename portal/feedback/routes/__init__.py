"""The resident's phone pages, photos and the public survey page (resident.py); the security team's pages (staff.py)."""
