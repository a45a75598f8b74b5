"""URL rules that write their URL builders on first use.

Werkzeug writes and compiles two small Python functions per rule when the rule is added (about 85 % of
create_app: some 320 rules). A process builds URLs for few of them, and a CLI command or a bridge worker
for none, so each rule writes its builders the first time url_for needs them. Matching is unchanged.
"""

from typing import Any

from werkzeug.routing import Rule


class LazyRule(Rule):
    """A Rule whose _build and _build_unknown are compiled when first called."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        name = "_build_unknown" if append_unknown else "_build"

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            real = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, name, real)  # two threads may both compile it: either result is the same function
            return real(*args, **kwargs)

        return build
