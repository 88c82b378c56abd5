"""Shared pytest configuration."""


def pytest_configure(config):
    # Slow tests run by default; deselect them with `-m "not slow"` for a quick loop.
    config.addinivalue_line(
        "markers", "slow: solves a large scenario (tens of seconds); run by default"
    )


SHIPPED_STACKS = ("dev", "staging", "prod")
_captures: dict[str, object] = {}


def stack_capture(stack: str):
    """The program's registrations for a shipped stack under the mock engine (run once per
    session: the captures are read-only data)."""
    from tools.plan.cli import capture_for

    if stack not in _captures:
        _captures[stack] = capture_for(stack)
    return _captures[stack]
