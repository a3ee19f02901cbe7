"""Recognising a command in prose or in an untagged block by the tool it starts with.

This is recognition, not judgment: `looks_like_command` says whether a line reads as a command
a runbook asks for (so that it becomes a step at all); what that command does is
`engine.effects.classify`'s call.
"""

from __future__ import annotations

# Tools whose first word is enough to recognise a command in prose or untagged blocks.
KNOWN_CLIS = frozenset("""
kubectl oc virtctl systemctl journalctl curl wget gitlab-ctl gitlab-rake gitlab-rails gitlab-psql
gitlab-redis-cli redis-cli psql sudo ssh cat grep egrep zgrep tail head ls df du ps top free dmesg
docker crictl gcloud gsutil aws knife chef-client consul vault etcdctl helm git jq yq dig nslookup
ping traceroute mtr openssl netstat ss ip lsof iostat vmstat find rm kill pkill killall mv cp chmod
chown mkdir tar zcat awk sed sort uniq wc echo export promtool amtool nc mount umount lsblk
terraform ansible service apt apt-get yum dnf pip bundle thanos uptime hostname uname date
reboot shutdown cd chroot exit watch less more vi vim nano tee xargs env printenv stat file
systemd-analyze iptables nft tcpdump strace gdb pgrep pidof top htop iotop sv gitaly praefect
mysql kubeadm crio containerd ctr podman sar nvidia-smi ethtool hdparm smartctl mdadm
kafka-topics kafka-topics.sh kafka-consumer-groups kafka-consumer-groups.sh kafka-configs
kafka-configs.sh rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins
dd dpkg rpm az
ros2 rostopic rosnode rosservice rosparam rosbag rosmsg rossrv rospack roswtf rosversion
roslaunch rosrun catkin colcon mosquitto_sub mosquitto_pub nats uaread uals uawrite uacall
uahistoryread uadiscover uasubscribe candump cansend cangen mbpoll
patronictl gitlab-patronictl etcdutl cockroach linkerd linkerd-buoyant iscsiadm
argocd istioctl pg_isready supervisorctl pm2 rc-service rc-status varnishstat varnishadm apachectl
apache2ctl named-checkconf named-checkzone postconf mailq ipvsadm conntrack zpool zfs multipath
mysqladmin openstack nova logcli postqueue postsuper qshape sinfo squeue scontrol sacct dcgmi
clickhouse-client k9s btop glances nmon iftop nethogs sqlcmd scp rsync
airflow dbt kcat kafkacat spark-submit beeline trino snowsql dagster prefect
""".split())

# Known tools that are a whole command on their own (`uptime`, `df`); others need arguments.
_ALONE = frozenset("""
cat grep egrep zgrep head ls df du ps free dmesg jq yq dig nslookup ping traceroute mtr netstat ss
lsof iostat vmstat awk sort uniq wc echo uptime hostname uname date printenv stat file
systemd-analyze pgrep pidof sar nvidia-smi zcat lsblk ethtool roswtf rosversion
top htop iotop atop btop glances nmon k9s
""".split())


def looks_like_command(text: str) -> bool:
    """Whether a line of prose or an untagged block starts with a known command-line tool."""
    words = text.strip().split()
    if not words:
        return False
    first = words[0].rsplit("/", 1)[-1] if words[0].startswith("/") else words[0]
    if first == "sudo" and len(words) > 1:
        return looks_like_command(" ".join(words[1:]))
    return first in KNOWN_CLIS and (len(words) > 1 or first in _ALONE)

