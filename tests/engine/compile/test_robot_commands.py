"""A robot cell's playbook written with ROS 2's command line: what reads the cell runs by
itself, what moves or reconfigures the robot waits for a person's approval, and a live topic
stream is a person's step (tests/fixtures/styles/ros2-cell-recovery.md)."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import (
    commands_by_argv,
    compile_style,
    compile_text,
    gated,
    guards_of,
    runs,
    step_running,
)


def test_ros2_reads_run_and_robot_changes_are_gated():
    plan = compile_style("ros2-cell-recovery.md")
    reads = [["ros2", "node", "list"],
             ["ros2", "control", "list_controllers", "-c", "/controller_manager"],
             ["ros2", "topic", "echo", "/io_and_status_controller/robot_mode", "--once"],
             ["ros2", "topic", "echo", "/io_and_status_controller/safety_mode", "--once"]]
    for argv in reads:
        sid = step_running(plan, argv)
        assert not plan.step(sid).mutating and not gated(plan, sid), argv
    changes = [["ros2", "service", "call", "/dashboard_client/unlock_protective_stop",
                "std_srvs/srv/Trigger"],
               ["ros2", "control", "switch_controllers", "--deactivate",
                "scaled_joint_trajectory_controller"],
               ["ros2", "param", "set", "/ur_ros2_control_node", "speed_scaling", "0.3"]]
    for argv in changes:
        sid = step_running(plan, argv)
        assert plan.step(sid).mutating and gated(plan, sid), argv


def test_a_live_topic_stream_is_a_persons_step_not_run_or_lost():
    plan = compile_style("ros2-cell-recovery.md")
    assert not any(s.params.get("pipeline") == [["ros2", "topic", "echo", "/joint_states"]]
                   for s in runs(plan))
    (watch,) = [s for s in plan.steps if s.kind == StepKind.MANUAL
                and "ros2 topic echo /joint_states" in str(s.params)]
    assert watch.params


def test_the_unlock_waits_on_the_safety_mode_guard():
    plan = compile_style("ros2-cell-recovery.md")
    unlock = step_running(plan, ["ros2", "service", "call",
                                 "/dashboard_client/unlock_protective_stop",
                                 "std_srvs/srv/Trigger"])
    assert any("PROTECTIVE_STOP" in g for g in guards_of(plan, unlock))


def test_cell_bus_clients_read_a_bounded_sample_and_anything_sent_is_gated():
    """MQTT, NATS, OPC UA and CAN clients in a playbook: one message read runs by itself, a
    subscription with no end is a person's, and what is published or written is gated."""
    plan = compile_text(
        "# Conveyor jam\n\n## Diagnosis\n\n1. Read the cell's state: "
        "`mosquitto_sub -h broker -t cell/7/state -C 1`\n2. Read the PLC's fault word: "
        "`uaread -u opc.tcp://plc7:4840 -n 'ns=3;s=Fault'`\n3. Watch the faults as they come: "
        "`mosquitto_sub -h broker -t 'cell/7/fault/#'`\n4. Dump ten frames of the drive bus:"
        "\n\n   ```\n   candump can0 -n 10\n   ```\n\n## Mitigation\n\n1. Stop the conveyor:"
        "\n\n   ```\n   mosquitto_pub -h broker -t cell/7/cmd -m stop\n   ```\n\n"
        "2. Clear the fault: `uawrite -u opc.tcp://plc7:4840 -n 'ns=3;s=Reset' true`\n")
    ran = commands_by_argv(plan)
    for argv in [("mosquitto_sub", "-h", "broker", "-t", "cell/7/state", "-C", "1"),
                 ("uaread", "-u", "opc.tcp://plc7:4840", "-n", "ns=3;s=Fault"),
                 ("candump", "can0", "-n", "10")]:
        assert not ran[argv].mutating and not gated(plan, ran[argv].id), argv
    for argv in [("mosquitto_pub", "-h", "broker", "-t", "cell/7/cmd", "-m", "stop"),
                 ("uawrite", "-u", "opc.tcp://plc7:4840", "-n", "ns=3;s=Reset", "true")]:
        assert ran[argv].mutating and gated(plan, ran[argv].id), argv
    assert not any("cell/7/fault/#" in s.params["pipeline"][0] for s in runs(plan))
    assert any("cell/7/fault/#" in str(s.params) for s in plan.steps
               if s.kind == StepKind.MANUAL)
