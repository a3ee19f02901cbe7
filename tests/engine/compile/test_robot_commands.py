"""A robot cell's playbook written with ROS 2's command line: what reads the cell runs by
itself, what moves or reconfigures the robot waits for a person's approval, and a live topic
stream is a person's step (tests/fixtures/styles/ros2-cell-recovery.md)."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_style, gated, guards_of, runs, step_running


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
