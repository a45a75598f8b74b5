"""Link secrets out of logs: a pass, approval or survey link shows what its holder may see to whoever has it."""

import re

# Bearer secrets in links are long url-safe runs (pass tokens, approval and survey tokens).
SECRETISH = re.compile(r"[A-Za-z0-9_\-]{16,}")


def mask(text):
    """text with every long url-safe run cut to its first 4 characters."""
    return SECRETISH.sub(lambda m: m.group(0)[:4] + "…", text or "")
