"""Two workloads in one run, like k6 scenarios: browsing users plus a steady checkout rate.

    perflab run examples/mixed_scenarios.py --base-url http://127.0.0.1:8000

``browse`` is a closed model (20 users looping with think time); ``checkout`` is an open
model (10 journeys per second whatever the server does, started 2 s into the run), so a
slow server shows up as latency, not as fewer checkouts.
"""

from perflab.scenario import Scenario, User, checks, task, uniform


class Browser(User):
    think_time = uniform(0.1, 0.5)

    @task(5)
    async def catalogue(self, s):
        await s.get("/items", params={"per_page": 5}, checks=[checks.status(200)])

    @task(1)
    async def recommendations(self, s):
        # fails ~2 % of the time on purpose (503): counted, within the threshold below
        await s.get("/recommendations", checks=[checks.status(200)])


class Buyer(User):
    async def on_start(self, s):
        r = await s.post(
            "/login", json={"username": f"user{self.number % 100 + 1}", "password": "secret"}
        )
        s.headers["Authorization"] = f"Bearer {r.json_path('$.token')}"

    async def flow(self, s):
        with s.transaction("checkout journey"):
            await s.post(
                "/cart", json={"item_id": 1 + self.number % 50}, checks=[checks.status(201)]
            )
            await s.post("/checkout", checks=[checks.status(201)])


scenarios = [
    Scenario("browse", users=Browser, vus=20, duration="20s"),
    Scenario("checkout", users=Buyer, rate="10/s", duration="18s", start="2s"),
]

options = {
    "thresholds": [
        "checkout journey: p95<500ms",
        "checkout journey: error_rate<1%",
        "GET /items: p99<500ms",
        "error_rate<5%",
        "checks>95%",
    ],
}
