"""URL rules write their builders on first use (portal.core.routing) and build exactly what werkzeug's would."""

from werkzeug.routing import Map, Rule

from portal.core.routing import LazyRule

RULES = [
    ("/p/<token>/qr.png", "qr", None),
    ("/units/<int:unit_id>/residents", "residents", None),
    ("/reports/<int:year>", "report", None),
    ("/board", "board", {"view": "alerts"}),
    ("/desk", "desk", None),
]
CALLS = [
    ("qr", {"token": "abc"}),
    ("qr", {"token": "a b/ç"}),
    ("residents", {"unit_id": 7, "page": 2, "q": "王"}),  # unknown values become the query string
    ("report", {"year": 2026}),
    ("report", {"year": 2026, "month": 12}),
    ("board", {}),
    ("desk", {}),
    ("desk", {"lang": "zh"}),
]


def _adapter(rule_class):
    rules = [rule_class(path, endpoint=endpoint, defaults=defaults) for path, endpoint, defaults in RULES]
    return Map(rules).bind("portal.test"), rules


def test_lazy_rules_build_what_werkzeugs_rules_build():
    lazy, _ = _adapter(LazyRule)
    plain, _ = _adapter(Rule)
    for endpoint, values in CALLS:
        assert lazy.build(endpoint, dict(values)) == plain.build(endpoint, dict(values))
        assert lazy.build(endpoint, dict(values), force_external=True) == plain.build(endpoint, dict(values), force_external=True)


def test_a_rules_builder_is_written_once_when_first_needed():
    adapter, rules = _adapter(LazyRule)
    qr = rules[0]
    assert qr._build.__name__ == "build" and qr._build_unknown.__name__ == "build"  # nothing compiled yet
    assert adapter.build("qr", {"token": "abc"}) == "/p/abc/qr.png"
    written = qr._build_unknown
    assert written.__name__ != "build"  # replaced by werkzeug's own builder
    assert adapter.build("qr", {"token": "xyz", "n": 1}) == "/p/xyz/qr.png?n=1"
    assert qr._build_unknown is written  # and kept


def test_the_portal_uses_lazy_rules(app):
    assert all(isinstance(rule, LazyRule) for rule in app.url_map.iter_rules())
