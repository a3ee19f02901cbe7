"""Read-only rows for robot software: the ROS 2 command line (`ros2`) and ROS 1's tools.

A robot cell's recovery playbook reads the cell through these: which nodes and controllers are
up, a topic's last message, a parameter's value, a bag's contents. What publishes, calls a
service, sends an action goal, sets a parameter, switches a controller or changes a lifecycle
state moves or reconfigures the robot and is gated, whatever the guide calls it. A topic echo
or a rate measurement that runs until someone stops it (`ros2 topic echo` without `--once`,
`ros2 topic hz`) is a person's step, as `tail -f` is.

The cell's own buses have command-line clients too: MQTT's `mosquitto_sub` reads a bounded
number of messages (`-C N`, `-W SECONDS`, `--retained-only`) and streams otherwise, while
`mosquitto_pub` and `--remove-retained` change what the broker holds; NATS's `nats` lists and
reads streams, consumers and key-value buckets; asyncua's OPC UA tools (`uaread`, `uals`,
`uahistoryread`, `uadiscover`) read nodes while `uawrite` and `uacall` act on the cell; SocketCAN's
`candump -n N` reads frames and `cansend`/`cangen` put them on the bus; Modbus's `mbpoll -1`
reads registers, and writes the values given after the device. The plugins that talk to
the cell (OPC UA, MQTT) are judged by their own declarations, not here.
"""

from __future__ import annotations

from engine.effects.credentials import secret_key
from engine.effects.options import Flags, NotRead, Parsed
from engine.effects.rules import UNTIL_STOPPED, Rule, Tool, bounded, judge, rows

F = Flags.of
NONE = Tool()

# -- ROS 2: `ros2 VERB SUBVERB ...` (argparse: flags may stand anywhere after the verb) --------

_SPIN = "spin-time= use-sim-time no-daemon"  # the daemon-backed listing verbs
_QOS = "qos-profile= qos-depth= qos-history= qos-reliability= qos-durability= qos-liveliness= " \
    "qos-liveliness-lease-duration-seconds="


_LIVE = Tool(live=True)

_ROS2_TOPIC = {
    "list": Tool(F("atcv", f"include-hidden-topics show-types count-topics verbose {_SPIN}")),
    "info": Tool(F("v", f"verbose include-hidden-topics {_SPIN}")),
    "type": Tool(F("", f"include-hidden-topics {_SPIN}")),
    "find": Tool(F("ac", f"include-hidden-topics count-topics {_SPIN}")),
    "echo": Tool(F("fl:", f"once times= timeout= csv field= full-length truncate-length= "
                   f"no-arr no-str flow-style lost-messages no-lost-messages raw filter= "
                   f"include-message-info clear {_QOS} {_SPIN}"),
                 check=bounded("--once", "--times")),
    **rows("hz bw delay", _LIVE),
}
_ROS2_SUBS: dict[str, Tool] = {
    "topic": Tool(subcommands=_ROS2_TOPIC),
    "node": Tool(subcommands={
        "list": Tool(F("ac", f"all count-nodes {_SPIN}")),
        "info": Tool(F("", f"include-hidden {_SPIN}"))}),
    "service": Tool(subcommands={
        "list": Tool(F("tc", f"show-types count-services include-hidden-services {_SPIN}")),
        "type": Tool(F("", f"include-hidden-services {_SPIN}")),
        "find": Tool(F("c", f"count-services include-hidden-services {_SPIN}")),
        "info": Tool(F("v", f"verbose {_SPIN}")),
        "echo": _LIVE}),
    "action": Tool(subcommands={
        "list": Tool(F("tc", f"show-types count-actions {_SPIN}")),
        "info": Tool(F("tc", f"show-types count {_SPIN}")),
        "type": Tool(F("", _SPIN))}),
    "param": Tool(subcommands={
        "list": Tool(F("", f"param-prefixes= param-type include-hidden-nodes filter= {_SPIN}")),
        "get": Tool(F("", f"hide-type include-hidden-nodes {_SPIN}")),
        "describe": Tool(F("", f"include-hidden-nodes {_SPIN}")),
        # `dump` prints the node's parameters; `--output-dir` (older releases) writes a file
        "dump": Tool(F("", f"print include-hidden-nodes {_SPIN}", why={
            "--output-dir": "writes the parameters to a file"}))}),
    "lifecycle": Tool(subcommands={
        "list": Tool(F("a", f"all include-hidden-nodes {_SPIN}")),
        "get": Tool(F("", f"include-hidden-nodes {_SPIN}")),
        "nodes": Tool(F("a", f"all include-hidden-nodes {_SPIN}"))}),
    "control": Tool(subcommands={
        **rows("""list_controllers list_hardware_interfaces list_hardware_components
            list_controller_types""", Tool(F("c:v", f"controller-manager= verbose "
                                                   f"include-hidden-nodes {_SPIN}")))}),
    "interface": Tool(subcommands=rows("list show package packages proto", Tool(
        F("msa", "only-msgs only-srvs only-actions all-comments no-comments")))),
    "pkg": Tool(subcommands={
        "list": NONE, "prefix": Tool(F("", "share")), "executables": Tool(F("", "full-path")),
        "xml": Tool(F("t:", "tag="))}),
    "bag": Tool(subcommands={"info": Tool(F("s:v", "storage= verbose"))}),
    "doctor": Tool(F("rif", "report report-failed include-warnings"), max_operands=0),
    "wtf": Tool(F("rif", "report report-failed include-warnings"), max_operands=0),
    "daemon": Tool(subcommands={"status": NONE}),
    "component": Tool(subcommands={"list": Tool(F("c", f"containers-only {_SPIN}")),
                                   "types": NONE}),
    "multicast": Tool(subcommands={"receive": _LIVE}),
}

# -- ROS 1: one tool per noun ---------------------------------------------------------------


_ROSTOPIC = {
    "list": Tool(F("bpsv", "bag= host publishers subscribers verbose")),
    "info": NONE, "type": NONE, "find": NONE,
    "echo": Tool(F("pcb:n:w:a", "nostr noarr offset filter= bag= wallclock"),
                 check=bounded("-n")),
    **rows("hz bw delay", _LIVE),
}

# -- the cell's buses: MQTT, NATS, OPC UA, CAN ----------------------------------------------


# (not -i/--id: a broker disconnects the client already connected with that id, the cell's
# own controller or bridge among them; -I adds a random suffix to its prefix)
_MOSQUITTO_SUB = Tool(F("h:p:t:T:C:W:q:I:k:u:P:L:F:V:vdNR", """host= port= topic=
    filter-out= count= timeout= qos= id-prefix= keepalive= username= pw= url= format=
    verbose debug retained-only quiet cafile= capath= cert= key= insecure tls-version=
    tls-use-os-certs protocol-version= pretty unix= proxy=""", why={
        "--remove-retained": "deletes the retained messages it sees from the broker",
        "-i": "connects with a fixed client id, and a broker disconnects the client already "
        "connected with it",
        "--id": "connects with a fixed client id, and a broker disconnects the client already "
        "connected with it",
        "-c": "leaves a persistent session on the broker",
        "--disable-clean-session": "leaves a persistent session on the broker",
        "-x": "leaves a session on the broker", "--will-topic": "leaves a last-will message "
        "on the broker"}),
    check=bounded("-C", "--count", "-W", "--timeout", "-R", "--retained-only"))

_NATS_CONN = F("s:", """server= user= password= creds= nkey= tlscert= tlskey= tlsca= context=
    timeout= socks-proxy= js-domain= js-api-prefix= json""")
def _kv_secret_key(p: Parsed, name: str) -> None:
    """`nats kv get BUCKET KEY` of a key (or bucket) named for a secret prints it, as `consul
    kv get` of one does (`engine.effects.credentials.secret_key`)."""
    for word in p.operands[:2]:
        if secret_key(word):
            raise NotRead(f"{name} {' '.join(p.operands[:2])} prints the value of a key named "
                          "for a secret (a password, a token, a key): not a read to keep",
                          cause="operand")


_NATS_SUBS: dict[str, Tool] = {
    **rows("stream str", Tool(subcommands=rows("ls list info report state subjects", Tool(
        F("a", "all names subjects json"))))),
    **rows("consumer con", Tool(subcommands=rows("ls list info report", Tool(
        F("a", "all names json"))))),
    "kv": Tool(subcommands={**rows("ls list status history", Tool(F("", "raw revision="))),
                            "get": Tool(F("", "raw revision="), check=_kv_secret_key)}),
    "account": Tool(subcommands=rows("info report", NONE)),
    "server": Tool(subcommands=rows("ping info list check", Tool(F("", "count= expect=")))),
    "rtt": NONE,
    "sub": Tool(F("", "count= raw headers-only queue= subject= jetstream"),
                check=bounded("--count")),
}

_UA = F("u:n:p:v:i:t:a:d:l", """url= nodeid= path= verbose= namespace= datatype= attribute=
    timeout= security= user= password= depth= long""")

def rosrun(name: str, args: list[str]) -> None:
    """`rosrun PKG NODE`: a node of any package, which may do anything; tf's `tf_echo` (and
    `tf_monitor`) print transforms until someone stops them: a person's step, never read."""
    if args[:2] in (["tf", "tf_echo"], ["tf", "tf_monitor"], ["tf2_ros", "tf2_echo"],
                    ["tf2_tools", "echo.py"]):
        raise NotRead(f"{name} {args[0]} {args[1]} prints transforms {UNTIL_STOPPED}: a "
                      "person's job", cause="interactive", effect="interactive")
    said = " ".join(args[:2]) or "(no node)"
    raise NotRead(f"`{name} {said}` runs a node, which may move or reconfigure the robot",
                  cause="subcommand")


def _until_stopped(what: str) -> NotRead:
    return NotRead(f"{what} {UNTIL_STOPPED}: a person's job, at the cell",
                   cause="interactive", effect="interactive")


_ROS2 = Tool(subcommands=_ROS2_SUBS)
_ROSTOPIC_TOOL = Tool(subcommands=_ROSTOPIC)


def ros2(name: str, args: list[str]) -> None:
    """`ros2 VERB ...` by its row; what never ends by itself is a person's, not a step the
    plan waits on while the robot moves: `ros2 topic pub` without `--once`/`--times`
    publishes (a velocity, a goal) once a second for ever, `ros2 launch`/`run` run nodes and
    `ros2 bag record` records until someone presses Ctrl-C."""
    words = [a for a in args if not a.startswith("-")]
    if words[:2] == ["topic", "pub"] and not any(
            a in ("-1", "--once", "-t", "--times") or a.startswith("--times=") for a in args):
        raise _until_stopped(f"{name} topic pub publishes")
    if words[:1] in (["launch"], ["run"]):
        raise _until_stopped(f"{name} {words[0]} runs nodes")
    if words[:2] == ["bag", "record"]:
        raise _until_stopped(f"{name} bag record records")
    judge(name, _ROS2, args)


def rostopic(name: str, args: list[str]) -> None:
    """ROS 1's `rostopic pub` without `-1`/`--once` latches its message, or repeats it at
    `-r RATE`, until someone stops it."""
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["pub"] and not any(a in ("-1", "--once") for a in args):
        raise _until_stopped(f"{name} pub publishes")
    judge(name, _ROSTOPIC_TOOL, args)


def cangen(name: str, args: list[str]) -> None:
    """`cangen IFACE` puts generated frames on the CAN bus until someone stops it, unless
    `-n COUNT` ends it: either way it writes to the bus."""
    if not any(a == "-n" or a.startswith("-n") and a[2:].isdigit() for a in args):
        raise _until_stopped(f"{name} puts frames on the bus")
    raise NotRead(f"{name} puts frames on the bus", cause="tool")


def roslaunch(name: str, args: list[str]) -> None:
    """`roslaunch PKG FILE` starts nodes (and a master) that run until someone stops them."""
    raise _until_stopped(f"{name} runs nodes")


ROBOT: dict[str, Rule] = {
    "rosrun": rosrun,
    "ros2": ros2,
    "rostopic": rostopic,
    "roslaunch": roslaunch,
    "cangen": cangen,
    "rosnode": Tool(subcommands={
        "list": Tool(F("uaq", "all quiet")), "info": Tool(F("q", "quiet")),
        "machine": NONE,
        "ping": Tool(F("ac:", "all count="), check=bounded("-c", "--count"))}),
    "rosservice": Tool(subcommands=rows("list info type uri find args", NONE)),
    "rosparam": Tool(subcommands={"list": NONE, "get": Tool(F("pv"))}),
    "rosbag": Tool(subcommands={"info": Tool(F("yk:", "yaml key= freq"))}),
    **rows("rosmsg rossrv", Tool(subcommands=rows("show info list md5 package packages",
                                                  Tool(F("rsb:", "raw bag="))))),
    "rospack": Tool(subcommands=rows("list find depends depends1 depends-on export "
                                     "list-names profile langs plugins", Tool(F("q")))),
    "roswtf": Tool(F("", "all no-plugins offline"), max_operands=1),
    "rosversion": Tool(F("d", "distro")),
    "mosquitto_sub": _MOSQUITTO_SUB,
    "nats": Tool(_NATS_CONN, inherit=True, subcommands=_NATS_SUBS),
    **rows("uaread uals uahistoryread uadiscover", Tool(_UA)),
    "uasubscribe": Tool(live=True),
    # Modbus: `mbpoll [OPTIONS] DEVICE|HOST [VALUE...]` reads the registers it names, or writes
    # the values after the device into them; it polls every second unless `-1` polls once
    "mbpoll": Tool(F("m:a:r:c:t:l:o:p:b:d:s:P:4:R::uifeW01qhVvBF"), max_operands=1,
                   too_many="writes the values after the device into the slave's registers or "
                   "coils", check=bounded("-1")),
    "candump": Tool(F("n:t:caxedLr:DS", "", why={"-l": "logs the frames to a file",
                                                "-f": "logs the frames to a file"}),
                    check=bounded("-n")),
}
"""Everything else these tools do changes the robot or its software: `ros2 topic pub`,
`ros2 service call`, `ros2 action send_goal`, `ros2 param set|load|delete`, `ros2 lifecycle
set`, `ros2 control switch_controllers|load_controller|set_controller_state`, `ros2 topic pub
--once`, `ros2 bag play`, `rosservice call`, `rosnode kill`, `rosparam set`,
`mosquitto_pub`, `nats pub|req`, `nats stream rm|purge`, `uawrite`, `uacall`, `cansend`..."""
