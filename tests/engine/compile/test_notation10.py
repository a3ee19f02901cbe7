"""Command notations of guides in styles the earlier passes had not met: shells entered in a
namespace, a container or a VM by tools other than ssh/kubectl/docker (`nsenter -t PID -n`,
`ip netns exec NS bash`, `lxc exec C -- bash`, `docker compose exec web sh`, `vagrant ssh`,
`virsh console vm`), a stream the reader stops before going on (`tail -f`, `watch`), a
console's continuation prompts (`    -> ` under `mysql> `, `... ` under `>>> `), cmd's `^`
continuation with its `More? ` prompt, and commands written in HTML `<code>` spans."""

from __future__ import annotations

from engine.compile.lint import lint_guide
from engine.guide import parse_guide
from tests.support.compiling import compile_text, gated, manual_scripts, runs, step_running

# -- shells entered elsewhere --------------------------------------------------------------


def _session(opener: str) -> str:
    return (f"# Pod DNS broken\n\n## Check from inside\n\n```bash\n{opener}\n"
            "ip addr show eth0\nsystemctl restart app\n```\n")


def test_lines_after_nsenter_without_a_program_run_in_its_namespaces():
    # `ip addr show eth0` ran on the operator's machine, ungated: the interfaces it showed
    # were the laptop's, not the pod's network namespace the guide entered
    plan = compile_text(_session("nsenter -t 4242 -n"))
    show = step_running(plan, ["nsenter", "-t", "4242", "-n", "ip", "addr", "show", "eth0"])
    restart = step_running(plan, ["nsenter", "-t", "4242", "-n", "systemctl", "restart", "app"])
    assert gated(plan, show) and gated(plan, restart)  # nsenter is not on the read-only list
    assert [s.params["pipeline"][0][0] for s in runs(plan)] == ["nsenter", "nsenter"]


def test_a_shell_in_a_network_namespace_or_a_container_is_that_session():
    plan = compile_text(_session("ip netns exec blue bash"))
    step_running(plan, ["ip", "netns", "exec", "blue", "ip", "addr", "show", "eth0"])
    plan = compile_text(_session("lxc exec web-1 -- bash"))
    step_running(plan, ["lxc", "exec", "web-1", "--", "systemctl", "restart", "app"])
    plan = compile_text(_session("nsenter -t 1 -m -n -- sh"))
    step_running(plan, ["nsenter", "-t", "1", "-m", "-n", "--", "ip", "addr", "show", "eth0"])


def test_a_shell_on_a_vm_or_a_compose_service_is_a_persons_session():
    # `systemctl restart app` ran (after approval) on the operator's machine instead of the VM
    for opener in ("docker compose exec web sh", "docker-compose exec -it web bash",
                   "vagrant ssh", "virsh console build-vm-07", "tsh ssh root@node-1",
                   "mosh ops@bastion", "multipass shell vm1", "incus shell web-1"):
        plan = compile_text(_session(opener))
        assert not runs(plan), opener
        assert manual_scripts(plan) == [f"{opener}\nip addr show eth0\nsystemctl restart app"]


def test_those_tools_given_their_command_open_no_session():
    plan = compile_text(_session("vagrant ssh web -c uptime"))
    step_running(plan, ["vagrant", "ssh", "web", "-c", "uptime"])
    step_running(plan, ["ip", "addr", "show", "eth0"])
    plan = compile_text(_session("nsenter -t 4242 -n ip route"))
    step_running(plan, ["nsenter", "-t", "4242", "-n", "ip", "route"])
    step_running(plan, ["ip", "addr", "show", "eth0"])


# -- a stream the reader stops, then goes on -------------------------------------------------

ARM = ("# Arm stops mid-pick\n\n## Check the cell\n\n```bash\nros2 topic list\n"
       "ros2 topic hz /camera/color/image_raw\nrobotctl status --cell 3\n"
       "robotctl estop release --cell 3\n```\n")


def test_lines_after_a_stream_the_reader_stops_are_steps_of_their_own():
    # everything after `ros2 topic hz` (it runs until stopped) was one person's step holding
    # `robotctl estop release` as if typed into the stream: the release was never its own,
    # gated step, and the status read never ran
    plan = compile_text(ARM)
    assert manual_scripts(plan) == ["ros2 topic hz /camera/color/image_raw"]
    status = step_running(plan, ["robotctl", "status", "--cell", "3"])
    release = step_running(plan, ["robotctl", "estop", "release", "--cell", "3"])
    assert gated(plan, release) and gated(plan, status)  # robotctl is not on the list
    for stream in ("tail -f /var/log/app.log", "watch -n 5 kubectl get pods", "top",
                   "kubectl logs -f deploy/web", "journalctl -fu kubelet"):
        plan = compile_text(f"## Check\n\n```bash\n{stream}\nkubectl get pods -n web\n```\n")
        assert manual_scripts(plan) == [stream], stream
        step_running(plan, ["kubectl", "get", "pods", "-n", "web"])


def test_a_tunnel_or_a_connection_still_holds_the_lines_after_it():
    # the lines after a port-forward use it, and lines after telnet are typed into it
    for opener in ("kubectl -n web port-forward svc/web 8080:80", "telnet cache-1 11211"):
        plan = compile_text(f"## Check\n\n```bash\n{opener}\ncurl -s localhost:8080/metrics\n"
                            "```\n")
        assert manual_scripts(plan) == [f"{opener}\ncurl -s localhost:8080/metrics"], opener
        assert not runs(plan)


# -- a console's continuation prompts --------------------------------------------------------

MYSQL = ("# Slow queries\n\n## Find them\n\n```\nmysql> SELECT id, user, time\n"
         "    -> FROM information_schema.processlist\n    -> WHERE time > 60;\n"
         "+----+------+------+\n| id | user | time |\n+----+------+------+\n"
         "mysql> KILL 4211;\n```\n")


def test_lines_after_mysqls_continuation_prompt_are_part_of_the_statement():
    # the person's step said `SELECT id, user, time` then `KILL 4211;`: the FROM and WHERE
    # typed after `    -> ` were read as output and dropped
    plan = compile_text(MYSQL)
    assert manual_scripts(plan) == [
        "SELECT id, user, time\nFROM information_schema.processlist\nWHERE time > 60;\n"
        "KILL 4211;"]
    # and with the console opened in the guide, each statement runs whole with -e
    opened = MYSQL.replace("```\nmysql> SELECT", "```\n$ mysql -h db-1 -u monitor\nmysql> SELECT")
    plan = compile_text(opened)
    step_running(plan, ["mysql", "-h", "db-1", "-u", "monitor", "-e",
                        "SELECT id, user, time\nFROM information_schema.processlist\n"
                        "WHERE time > 60;"])


def test_a_python_repls_continuation_lines_keep_their_indentation():
    # `...     print(k)` was dropped: the person's loop had no body
    plan = compile_text("# Flags\n\n## Check\n\n```\n>>> import redis\n"
                        ">>> r = redis.Redis(host='flags-cache')\n"
                        ">>> for k in r.scan_iter('flags:*'):\n...     print(k)\n...\n"
                        "b'flags:v2'\n```\n")
    assert manual_scripts(plan) == ["import redis\nr = redis.Redis(host='flags-cache')\n"
                                    "for k in r.scan_iter('flags:*'):\n    print(k)"]


def test_dots_or_an_arrow_in_a_shells_output_are_not_typed_lines():
    plan = compile_text("## Check\n\n```console\n$ kubectl get pods -n web\n"
                        "NAME    READY\n... 40 more\n-> web-0 restarted\n```\n")
    assert not manual_scripts(plan)
    step_running(plan, ["kubectl", "get", "pods", "-n", "web"])


# -- commands in HTML code spans -------------------------------------------------------------


def test_a_command_in_an_html_code_span_is_a_code_span():
    # a guide exported from a wiki writes `<code>` where Markdown writes backticks: the
    # describe never ran and the scale-up was dropped as prose
    plan = compile_text("# Checkout latency\n\n## Quick look\n\n"
                        "Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to stop the watch, then run "
                        "<code>kubectl -n shop describe hpa checkout</code>.\n\n"
                        "Scale up with <code class=\"bash\">kubectl -n shop scale "
                        "deploy/checkout --replicas=6</code>.\n")
    step_running(plan, ["kubectl", "-n", "shop", "describe", "hpa", "checkout"])
    scale = step_running(plan, ["kubectl", "-n", "shop", "scale", "deploy/checkout",
                                "--replicas=6"])
    assert gated(plan, scale)
    assert len(runs(plan)) == 2  # `Ctrl` and `C` are keys, no commands


# -- cmd's `^` continuation ------------------------------------------------------------------


def test_a_cmd_line_continued_with_a_caret_keeps_its_next_line():
    # `More? /timeout:60` (cmd's prompt for the rest of a `^` line) was read as output: the
    # person's step said `iisreset /restart ^` and stopped there
    for block in ("```bat\nC:\\> sc query W3SVC\nC:\\> iisreset /restart ^\nMore? /timeout:60\n```",
                  "```cmd\nsc query W3SVC\niisreset /restart ^\n  /timeout:60\n```"):
        plan = compile_text(f"# IIS\n\n## Restart\n\n{block}\n")
        script = manual_scripts(plan)[0]
        assert script.startswith("sc query W3SVC\niisreset /restart ^\n"), block
        assert script.endswith("/timeout:60"), block


# -- fish's prompt ---------------------------------------------------------------------------


def test_a_fish_prompt_marks_the_commands_of_a_transcript():
    # the block was read as sample output: the delete was lost and the get never ran
    plan = compile_text("# Web pod stuck\n\n## Fix\n\n```console\nops@laptop ~> kubectl get pods "
                        "-n web\nNAME    READY   STATUS\nweb-0   0/1     CrashLoopBackOff\n"
                        "ops@laptop ~/deploy> kubectl -n web delete pod web-0\n"
                        "pod \"web-0\" deleted\n```\n")
    step_running(plan, ["kubectl", "get", "pods", "-n", "web"])
    assert gated(plan, step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"]))
    assert len(runs(plan)) == 2


# -- busybox's and git-aware prompts ---------------------------------------------------------


def test_busybox_root_prompt_in_a_pod_shell_runs_its_lines_in_the_pod():
    # after `exec -it web-0 -- sh`, alpine's `/ # ` lines were read as output: the person's
    # step said only the exec, and the checks it opened the shell for were lost
    plan = compile_text("# Pod DNS\n\n## Check\n\n```console\n$ kubectl -n web exec -it web-0 -- sh"
                        "\n/ # cat /etc/resolv.conf\nnameserver 10.96.0.10\n"
                        "/ # nslookup kubernetes.default\n/ # exit\n```\n")
    step_running(plan, ["kubectl", "-n", "web", "exec", "web-0", "--", "cat", "/etc/resolv.conf"])
    step_running(plan, ["kubectl", "-n", "web", "exec", "web-0", "--", "nslookup",
                        "kubernetes.default"])
    assert not manual_scripts(plan)


def test_a_prompt_showing_the_git_branch_is_still_a_prompt():
    # `make deploy` after `~/src/app (main) $ ` was read as output and lost
    plan = compile_text("## Deploy\n\n```console\nops@host:~/src/app (main)$ git log -1 --oneline\n"
                        "3f2a1c9 Fix the health check\n~/src/app (main) $ make deploy\n```\n")
    step_running(plan, ["git", "log", "-1", "--oneline"])
    assert gated(plan, step_running(plan, ["make", "deploy"]))


def test_a_comment_under_a_path_is_not_a_busybox_prompt():
    plan = compile_text("## Check\n\n```bash\nls /var/log/app\n/ # the root, for reference\n```\n")
    assert [s.params["pipeline"] for s in runs(plan)] == [[["ls", "/var/log/app"]]]


# -- samplers and pings that never end -------------------------------------------------------

CHECKLIST = ("# Host slow\n\n## First minute\n\n```bash\nuptime\nvmstat 1\nmpstat -P ALL 1\n"
             "iostat -xz 1 3\nping 10.0.0.1\nping -c 3 10.0.0.1\nfree -m\n```\n")


def test_a_sampler_given_an_interval_and_no_count_is_watched_by_a_person():
    # `vmstat 1`, `mpstat -P ALL 1` and `ping HOST` ran unattended and never ended: the run
    # hung on the second line until its timeout
    plan = compile_text(CHECKLIST)
    assert manual_scripts(plan) == ["vmstat 1\nmpstat -P ALL 1", "ping 10.0.0.1"]
    assert [s.params["pipeline"][0] for s in runs(plan)] == [
        ["uptime"], ["iostat", "-xz", "1", "3"], ["ping", "-c", "3", "10.0.0.1"], ["free", "-m"]]
    assert not any(gated(plan, s.id) for s in runs(plan))


def test_a_new_container_or_pod_attached_without_a_command_is_a_persons_session():
    # `docker run -it --rm nicolaka/netshoot` gives a shell in the image: the checks after it
    # ran on the operator's machine (and `systemctl restart app` there, after approval)
    for opener in ("docker run -it --rm --net host nicolaka/netshoot",
                   "kubectl run tmp --rm -it --image=nicolaka/netshoot",
                   "kubectl node-shell worker-3", "runuser -l postgres",
                   "heroku run bash -a shop", "fly ssh console -a shop", "cf ssh shop"):
        plan = compile_text(_session(opener))
        assert not runs(plan), opener
        assert manual_scripts(plan) == [f"{opener}\nip addr show eth0\nsystemctl restart app"]
    for given in ("docker run --rm -it alpine cat /etc/os-release",
                  "docker run --rm -it -p 5000:5000 flamescope",  # a server, used from here
                  "kubectl run tmp --rm -it --image=busybox -- wget -qO- web",
                  "heroku run rake db:migrate -a shop"):
        plan = compile_text(_session(given))
        step_running(plan, ["ip", "addr", "show", "eth0"])


# -- a diff to apply -------------------------------------------------------------------------


def test_a_diff_under_an_instruction_to_apply_it_is_a_persons_edit():
    # the diff was ignored as configuration: the plan reloaded nginx without the change
    for intro, block in (("Apply this change to `/etc/nginx/nginx.conf`:", "diff"),
                         ("Then edit `/etc/nginx/nginx.conf`:", ""),
                         ("1. Make the following change:", "patch")):
        plan = compile_text(f"# Nginx\n\n## Fix\n\n{intro}\n\n```{block}\n"
                            "-worker_connections 1024;\n+worker_connections 4096;\n```\n\n"
                            "Then reload:\n\n```bash\nsudo systemctl reload nginx\n```\n")
        assert manual_scripts(plan) == ["-worker_connections 1024;\n+worker_connections 4096;"], \
            intro
        step_running(plan, ["sudo", "systemctl", "reload", "nginx"])


def test_a_diff_shown_as_what_changed_stays_an_illustration():
    plan = compile_text("# Nginx\n\n## Background\n\nThe change looks like this:\n\n```diff\n"
                        "-worker_connections 1024;\n+worker_connections 4096;\n```\n")
    assert not any("worker_connections" in script for script in manual_scripts(plan))
    assert not runs(plan)


def test_a_line_typed_in_kbd_is_a_code_span_and_a_key_is_not():
    plan = compile_text("# Queue\n\n## Check\n\n1. Type <kbd>kubectl -n mq logs deploy/consumer "
                        "--tail=50</kbd> and read the errors.\n2. Press <kbd>Ctrl</kbd>+"
                        "<kbd>C</kbd> or <kbd>Page Down</kbd> to page.\n")
    step_running(plan, ["kubectl", "-n", "mq", "logs", "deploy/consumer", "--tail=50"])
    assert len(runs(plan)) == 1


# -- prompts inside what a command printed ---------------------------------------------------


def test_a_prompt_inside_printed_yaml_is_output():
    # the ConfigMap's script lines `$ echo starting` and `# rm -rf /var/cache/app` ran as the
    # guide's own commands (the rm after approval, on the operator's machine)
    plan = compile_text("## Check\n\n```console\n$ kubectl get cm app -o yaml\napiVersion: v1\n"
                        "data:\n  start.sh: |\n    #!/bin/sh\n    $ echo starting\n"
                        "    # rm -rf /var/cache/app\nkind: ConfigMap\n$ kubectl get pods\n```\n")
    assert [s.params["pipeline"][0] for s in runs(plan)] == [
        ["kubectl", "get", "cm", "app", "-o", "yaml"], ["kubectl", "get", "pods"]]
    assert not manual_scripts(plan)


def test_a_command_shaped_comment_in_a_printed_file_never_runs():
    # `# systemctl daemon-reload` in the fstab `cat` printed, and a commented-out crontab
    # entry under `crontab -l`, ran as commands typed at a root prompt
    plan = compile_text("## Check\n\n```console\n$ cat /etc/fstab\n# /etc/fstab: static file "
                        "system information.\nUUID=1234 / ext4 defaults 0 1\n"
                        "# systemctl daemon-reload\n$ grep -c nfs /proc/mounts\n0\n```\n\n"
                        "```console\n# crontab -l\n# m h  dom mon dow   command\n"
                        "*/5 * * * * /usr/local/bin/backup.sh\n# rm -f /tmp/old.log\n"
                        "# rm -f /tmp/older.log\n```\n")
    assert [s.params["pipeline"][0][0] for s in runs(plan)] == ["cat", "grep", "crontab"]
    # the file's comment, or the next command at a root prompt: a person tells which
    assert manual_scripts(plan) == ["systemctl daemon-reload",
                                    "rm -f /tmp/old.log\nrm -f /tmp/older.log"]


def test_a_root_prompt_after_a_command_that_prints_no_file_still_runs():
    plan = compile_text("## Fix\n\n```console\n# systemctl status app\n"
                        "● app.service - App\n   Active: failed\n# systemctl restart app\n```\n")
    assert gated(plan, step_running(plan, ["systemctl", "restart", "app"]))


# -- a conversation with a server in a transcript ---------------------------------------------


def test_a_connection_opened_at_a_prompt_is_a_persons_conversation():
    # `nc ur-cell3 29999` ran alone (it would sit on the socket) and `power on` / `brake
    # release`, typed into the robot's dashboard server, were dropped as output
    plan = compile_text("# Cell 3\n\n## Power on\n\n```\n$ nc ur-cell3 29999\n"
                        "Connected: Universal Robots Dashboard Server\npower on\nPowering on\n"
                        "brake release\nBrake releasing\n\n$ ping -c 1 ur-cell3\n```\n")
    assert manual_scripts(plan) == [
        "nc ur-cell3 29999\nConnected: Universal Robots Dashboard Server\npower on\n"
        "Powering on\nbrake release\nBrake releasing"]
    assert [s.params["pipeline"] for s in runs(plan)] == [[["ping", "-c", "1", "ur-cell3"]]]
    plan = compile_text("## Probe\n\n```\n$ nc -zv ur-cell3 29999\nsucceeded!\n```\n")
    step_running(plan, ["nc", "-zv", "ur-cell3", "29999"])  # a probe: no conversation


def test_lint_does_not_ask_for_prompts_a_console_block_already_shows():
    for block in ("[root@web-3 ~]# systemctl restart nginx", "ops@laptop ~> kubectl get pods",
                  "/ # cat /etc/resolv.conf"):
        text = f"# T\n\n## Fix\n\n```console\n{block}\n```\n"
        codes = [f.rule for f in lint_guide(parse_guide(text, path="guide.md"))]
        assert "MF509" not in codes, block
