"""Shared pytest configuration."""


def pytest_configure(config):
    # Slow tests run by default; deselect them with `-m "not slow"` for a quick loop.
    config.addinivalue_line(
        "markers", "slow: solves a large scenario (tens of seconds); run by default"
    )
