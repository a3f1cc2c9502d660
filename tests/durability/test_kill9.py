"""kill -9 under sustained writes and audited reads: nothing acknowledged is lost.

One short round in the normal run; `make verify` sets THROUGHCARE_DURABILITY_KILLS for
more (a random moment each time).
"""

import json
import os
import random
import time
from pathlib import Path

from tests.durability.harness import Server, Workload, cli, column_values, normal_ids, own_database

KILLS = int(os.environ.get("THROUGHCARE_DURABILITY_KILLS", "1"))


def test_acknowledged_writes_and_audited_reads_survive_kill_9(tmp_path: Path) -> None:
    """Every acknowledged write and every acknowledged read's audit row survive kill -9."""
    rng = random.Random()
    with own_database(tmp_path, "kill9") as url:
        server = Server(url, tmp_path)
        server.prepare()
        server.start()
        token = server.token()
        workload = Workload(server.base, token)
        kills = 0
        try:
            for _ in range(KILLS):
                workload.start()
                time.sleep(rng.uniform(0.5, 2.0))  # a random moment under load
                server.kill()
                kills += 1
                workload.stop()
                server.start()  # restart on the same database
                workload.base = server.base
            workload.start()
            time.sleep(0.3)
            workload.stop()
            ready = __import__("httpx").get(f"{server.base}/readyz", timeout=10)
        finally:
            server.stop()

        assert kills == KILLS
        assert ready.status_code == 200, ready.text
        assert workload.acked_writes and workload.acked_reads
        stored = column_values(url, "SELECT id FROM participants")
        lost_writes = normal_ids(workload.acked_writes) - stored
        assert not lost_writes, f"{len(lost_writes)} acknowledged writes lost"
        # No partial aggregate: every participant has its lead membership and its
        # creation is in the disclosure log (same transaction).
        with_lead = column_values(
            url, "SELECT participant_id FROM care_team_members WHERE role = 'lead'"
        )
        assert stored <= with_lead
        created = column_values(
            url,
            "SELECT resource_id FROM access_events "
            "WHERE action = 'create' AND resource = 'participant'",
        )
        assert normal_ids(workload.acked_writes) <= created
        audited = column_values(url, "SELECT request_id FROM access_events")
        unaudited = set(workload.acked_reads) - audited
        assert not unaudited, f"{len(unaudited)} acknowledged reads without an audit row"
        verified = cli(server.env, "audit", "verify", "--json", check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout.strip().splitlines()[-1])["ok"] is True
        print(
            f"kills survived: {kills}; acknowledged writes: {len(workload.acked_writes)}, "
            f"lost: {len(lost_writes)}; acknowledged reads: {len(workload.acked_reads)}, "
            f"without audit row: {len(unaudited)}; unanswered requests: {workload.failures}; "
            f"statuses: {workload.statuses}"
        )
