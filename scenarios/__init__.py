"""Demo traffic, written against the small ``Driver`` protocol so no scenario imports Locust.

``harness.loadrun`` (the one module that imports Locust) turns each scenario into a Locust user class and
gives it a driver backed by Locust's FastHttpSession. The same scenarios therefore run against the bundled demo
backend or any team's API, configured only by the plan file.
"""

from scenarios.base import CallResult, Driver, Scenario
from scenarios.demo_session import DemoSessionScenario
from scenarios.repeated_logins import RepeatedLoginsScenario
from scenarios.steady import OpenSchedule, SteadyScenario
from scenarios.three_prospects import ThreeProspectsScenario

__all__ = [
    "CallResult",
    "DemoSessionScenario",
    "Driver",
    "OpenSchedule",
    "RepeatedLoginsScenario",
    "Scenario",
    "SteadyScenario",
    "ThreeProspectsScenario",
]
