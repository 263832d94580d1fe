"""Hypothesis profiles. ``ci`` (the default): derandomized, a bounded number of examples, so
every run checks the same cases in bounded time. ``thorough``: many random examples for long
campaigns, across cores with pytest-xdist:

    python -m pytest tests/property --hypothesis-profile=thorough -n auto

docs/how-to/property-tests.md gives the example counts; tests/test_testing.py checks them.
"""

from hypothesis import HealthCheck, Phase, settings

CI_EXAMPLES = 20
THOROUGH_EXAMPLES = 1_000

# No explain phase in CI: it traces coverage, which makes a failing run minutes long.
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow],
                          phases=[Phase.explicit, Phase.generate, Phase.shrink])
settings.register_profile("thorough", max_examples=THOROUGH_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
