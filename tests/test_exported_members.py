"""The public API is exactly what ``nantrace.__all__`` says (httpx's drift test)."""

import nantrace


def test_all_names_resolve():
    for name in nantrace.__all__:
        assert getattr(nantrace, name) is not None


def test_all_matches_public_api():
    expected = {
        "watch",
        "Watched",
        "NantraceError",
        "NonFiniteError",
        "NonFiniteWarning",
        "Cause",
        "Fix",
        "Health",
        "Origin",
        "Report",
        "Trip",
        "__version__",
    }
    assert set(nantrace.__all__) == expected
