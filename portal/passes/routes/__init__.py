"""The visitor's pass page (visitor.py) and the resident's phone pages (resident.py)."""
