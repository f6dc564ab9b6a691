"""Raw Locust, for comparison: FastHttpUser, no listener of ours. Prints requests/s as JSON.

Usage: python bench/raw_locust.py URL DURATION USERS [--master N | --worker HOST PORT]
"""

from __future__ import annotations

import json
import sys
import time

import gevent
from locust import FastHttpUser, constant, task
from locust.env import Environment

URL = sys.argv[1]
DURATION = float(sys.argv[2])
USERS = int(sys.argv[3])


class Raw(FastHttpUser):
    host = URL
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/")


def main() -> None:
    env = Environment(user_classes=[Raw])
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        runner = env.create_worker_runner(sys.argv[i + 1], int(sys.argv[i + 2]))
        runner.greenlet.join()
        return
    if "--master" in sys.argv:
        n = int(sys.argv[sys.argv.index("--master") + 1])
        port = int(sys.argv[sys.argv.index("--master") + 2])
        runner = env.create_master_runner("127.0.0.1", port)
        while runner.worker_count < n:
            gevent.sleep(0.1)
    else:
        runner = env.create_local_runner()
    runner.start(USERS, spawn_rate=1000)
    gevent.sleep(1.0)  # ramp and first connections excluded, as for the harness run
    start_count = env.stats.total.num_requests
    t0 = time.time()
    gevent.sleep(DURATION)
    count = env.stats.total.num_requests - start_count
    elapsed = time.time() - t0
    runner.quit()
    print(json.dumps({"rps": count / elapsed, "requests": count}))


main()
