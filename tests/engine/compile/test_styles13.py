"""Runbook styles the earlier sweeps did not try: an OpenStack guide in bold numbered titles, a
Slurm GPU node's "Step 1 —" labels, a ROS 1 AGV, Loki's logcli, ClickHouse's `:)` console,
Redis Cluster, a Ceph "**1. Symptoms**" guide, a Postfix relay's one-line steps
(tests/fixtures/styles13 holds the guides tried). Each test is one rule a guide author would
recognise."""

from __future__ import annotations

from pathlib import Path

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, guards_of, manual_scripts, runs

STYLES13 = Path(__file__).resolve().parents[2] / "fixtures" / "styles13"


# -- "go to step 5" and a bold numbered title ---------------------------------------------------

BOLD_TITLES = """# Instance in ERROR

## Diagnosis

**1. Find the host**

```bash
openstack server show web-1 -c OS-EXT-SRV-ATTR:host -f value
```

**2. Check the compute service**

```bash
openstack compute service list --service nova-compute
```

If the `State` column reads `down`, go to step 4.

## Resolution

**3. Hard-reboot**

```bash
openstack server reboot --hard web-1
```

**4. Evacuate**

```bash
nova evacuate web-1
```
"""


def test_go_to_step_n_lands_on_a_bold_title_numbered_n():
    # a guide whose steps are titled by bold numbered lines ("**4. Evacuate**"), not headings:
    # "go to step 4" failed the compile ("this list has 0 steps")
    plan = compile_text(BOLD_TITLES)
    evacuate = next(s for s in runs(plan) if s.params["pipeline"][0][0] == "nova")
    (approve,) = [e.source for _, e in plan.incoming(evacuate.id)]
    assert "If the `State` column reads `down`" in guards_of(plan, approve)
    # a bold line that is no title (a full stop) is no step 4
    text = BOLD_TITLES.replace("**4. Evacuate**", "**4. Evacuate.** Then wait.")
    try:
        compile_text(text)
    except Exception as e:  # noqa: BLE001
        assert "step 4" in str(e)
    else:
        raise AssertionError("a bold sentence is no step title")
