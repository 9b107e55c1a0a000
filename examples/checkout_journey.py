"""Log in, browse, fill a cart and check out: the journey most shop load tests start with.

Run it against the demo target:

    perflab demo --serve --port 8000 &
    perflab run examples/checkout_journey.py --base-url http://127.0.0.1:8000

The token from /login is pulled out of the JSON response (correlation) and sent as a bearer
token on every later request of the same user; item ids come from the catalogue response.
"""

from perflab.scenario import User, checks, task, uniform

options = {
    "vus": 10,
    "duration": "30s",
    "thresholds": [
        "checks>99%",
        "error_rate<1%",
        "checkout: p95<500ms",
        "GET /items/{id}: p99<300ms",
    ],
}


class Shopper(User):
    think_time = uniform(0.05, 0.2)

    async def on_start(self, s):
        # demo users are user1..user100, password "secret"
        r = await s.post(
            "/login",
            json={"username": f"user{self.number % 100 + 1}", "password": "secret"},
            checks=[checks.status(200), checks.json_path("$.token")],
        )
        s.headers["Authorization"] = f"Bearer {r.json_path('$.token')}"

    @task(3)
    async def browse(self, s):
        r = await s.get("/items", params={"page": 1, "per_page": 10}, checks=[checks.status(200)])
        self.item_ids = r.json_paths("$.items[*].id")
        item = self.item_ids[self.number % len(self.item_ids)]
        await s.get(
            f"/items/{item}",
            name="GET /items/{id}",
            checks=[checks.status(200), checks.json_path("$.id", equals=item)],
        )

    @task(1)
    async def buy(self, s):
        ids = getattr(self, "item_ids", [1, 2, 3])
        with s.transaction("checkout"):
            await s.post(
                "/cart",
                json={"item_id": ids[0], "qty": 2},
                checks=[checks.status(201)],
            )
            r = await s.get("/cart", checks=[checks.status(200)])
            await s.post(
                "/checkout",
                checks=[checks.status(201), checks.latency_under("500ms")],
                name="POST /checkout",
            )
            self.cart_lines = len(r.json_paths("$.items[*]"))
