"""Test data from files: each virtual user logs in as its own account from a CSV file.

    perflab run examples/feeder_journey.py --base-url http://127.0.0.1:8000

``users.csv`` is read in ``unique`` mode, so no two users share an account; with more users
than rows the run ends cleanly and says the feeder ran out. Search terms come from a
JSON-lines file, a random one per iteration.
"""

from perflab.scenario import User, checks, csv_feeder, exponential, jsonl_feeder, task

accounts = csv_feeder("data/users.csv", mode="unique")
searches = jsonl_feeder("data/searches.jsonl", mode="random")

options = {
    "vus": 20,
    "duration": "30s",
    "thresholds": ["checks>99%", "GET /search: p99<2s", "error_rate<1%"],
}


class Customer(User):
    think_time = exponential(0.1)

    async def on_start(self, s):
        self.account = accounts.next()  # one row per user, never shared
        r = await s.post(
            "/login",
            data={"username": self.account["username"], "password": self.account["password"]},
            checks=[checks.status(200)],
        )
        s.headers["Authorization"] = "Bearer " + r.json_path("$.token")

    @task(4)
    async def search(self, s):
        term = searches.next()["q"]  # a row per iteration
        await s.get(
            "/search",
            params={"q": term},
            checks=[checks.status(200), checks.json_path("$.query", equals=term)],
        )

    @task(1)
    async def look_at_cart(self, s):
        await s.get(
            "/cart", checks=[checks.status(200), checks.header("content-type", contains="json")]
        )
