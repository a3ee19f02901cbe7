"""The read-only table, one entry at a time: each tool's read forms read, and each listed way
to write (or to need a person) does not. A test asserts every row of the table has cases."""

from __future__ import annotations

import shlex

import pytest

from engine.effects import TABLE, classify

# tool -> (commands that only read, commands that do not: "!" prefix = a person's job)
CASES: dict[str, tuple[list[str], list[str]]] = {
    # -- files and text
    "cat": (["cat -n /etc/hosts", "cat -A f", "cat"], ["cat --frob f"]),
    "zcat": (["zcat -f a.gz"], ["zcat -d a.gz"]),
    "grep": (["grep -rn error /var/log", "grep -E 'a|b' -A3 f", "grep -5 x f",
              "grep --color=never -c x f"], ["grep --frob x f"]),
    "egrep": (["egrep -i 'a|b' f"], ["egrep -Z -X x f"]),
    "fgrep": (["fgrep -x a f"], ["fgrep --frob a"]),
    "zgrep": (["zgrep -h x f.gz"], ["zgrep --frob x"]),
    "ls": (["ls -lah /tmp", "ls --sort=time -1"], ["ls --frob"]),
    "head": (["head -n 20 f", "head -20 f", "head -c100 f"], ["head --frob f"]),
    "tail": (["tail -n 100 f", "tail -100 f"], ["!tail -f f", "!tail -F f", "!tail --follow f"]),
    "df": (["df -h", "df -i /var", "df --output=source,pcent"], ["df --frob"]),
    "du": (["du -sh /var/log", "du -d 1 -h /"], ["du --files0-from=F"]),
    "wc": (["wc -l f"], ["wc --files0-from=F"]),
    "cut": (["cut -d: -f1 /etc/passwd"], ["cut --frob"]),
    "tr": (["tr -d '\\r'", "tr a-z A-Z"], ["tr a b c"]),
    "column": (["column -t -s,"], ["column --frob"]),
    "base64": (["base64 -d f"], ["base64 a b"]),
    "md5sum": (["md5sum f"], ["md5sum --frob"]),
    "sha1sum": (["sha1sum -c sums"], ["sha1sum --frob"]),
    "sha224sum": (["sha224sum f"], ["sha224sum --frob"]),
    "sha256sum": (["sha256sum --check sums"], ["sha256sum --frob"]),
    "sha384sum": (["sha384sum f"], ["sha384sum --frob"]),
    "sha512sum": (["sha512sum f"], ["sha512sum --frob"]),
    "b2sum": (["b2sum f"], ["b2sum --frob"]),
    "cksum": (["cksum f"], ["cksum --frob"]),
    "sum": (["sum -r f"], ["sum --frob"]),
    "sort": (["sort -rn -k2 f", "sort -t: -k3,3n", "sort -u"],
             ["sort -o F x", "sort --output=F x", "sort --compress-program=sh x"]),
    "uniq": (["uniq -c", "uniq -c IN"], ["uniq IN OUT", "uniq -c IN OUT"]),
    "tee": (["tee", "tee -a"], ["tee F", "tee -a /etc/passwd"]),
    "date": (["date", "date +%s", "date -u +%FT%T", "date -d yesterday +%F"],
             ["date -s 2020-01-01", "date --set=2020", "date 0101", "date 010112002020"]),
    "sed": (["sed -n 1,5p f", "sed -n '/Events/,$p'", "sed 's/a/b/g' f", "sed -e p -e =",
             "sed -ne p f", "sed -E 's|x|y|'"],
            ["sed -i s/a/b/ f", "sed -ni p f", "sed --in-place=.bak s/a/b/ f",
             "sed 'w F' f", "sed 's/a/b/w F' f", "sed 's/x/id/e'", "sed 'e id'",
             "sed -f script.sed f", "sed"]),
    "awk": (["awk '{print $1}'", "awk -F: '$3 > 1000 {print $1}' /etc/passwd",
             "awk '/err|warn/ {n++} END {print n}'", "awk -v x=1 'NR==x'"],
            ["awk 'BEGIN{system(\"id\")}'", "awk '{print > \"/tmp/x\"}'",
             "awk '{print | \"sh\"}'", "awk '{\"date\" | getline d}'", "awk -f prog.awk",
             "awk '@include \"x\"'", "awk -i inplace '{print}' f"]),
    "gawk": (["gawk '{print NF}'"], ["gawk 'BEGIN{system(\"x\")}'"]),
    "mawk": (["mawk '{print}'"], ["mawk '{print >> \"f\"}'"]),
    "nawk": (["nawk '{print}'"], ["nawk '{printf(\"x\") > \"f\"}'"]),
    "jq": (["jq -r '.items[].metadata.name'", "jq --arg x y '.[$x]'"], []),
    "yq": (["yq -r .a f.yaml", "yq e '.a' f"], ["yq -i '.a=1' f", "yq --inplace x f"]),
    "echo": (["echo hello", "echo -n x"], []),
    "printf": (["printf '%s\\n' x"], []),
    "true": (["true"], []), "false": (["false"], []), "sleep": (["sleep 5"], []),
    "test": (["test -f /x"], []), "[": (["[ -f /x ]"], []), "seq": (["seq 1 10"], []),
    "getconf": (["getconf PAGESIZE"], []), "nproc": (["nproc"], []),
    "whoami": (["whoami"], []),
    "id": (["id -u"], ["id --frob"]),
    "uname": (["uname -a"], ["uname --frob"]),
    "uptime": (["uptime", "uptime -p"], ["uptime --frob"]),
    "hostname": (["hostname", "hostname -f"], ["hostname evil", "hostname -F f", "hostname -b"]),
    "free": (["free -m", "free -h -s 1 -c 3"], ["!free -s 1", "free --frob"]),
    "stat": (["stat -c %s f"], ["stat --frob"]),
    "file": (["file -b f"], ["file -C -m magic"]),
    "which": (["which kubectl"], ["which --frob"]),
    "basename": (["basename /a/b"], ["basename --frob"]),
    "dirname": (["dirname /a/b"], ["dirname --frob"]),
    "realpath": (["realpath -e f"], ["realpath --frob"]),
    "readlink": (["readlink -f /proc/1/exe"], ["readlink --frob"]),
    "tac": (["tac f"], ["tac --frob"]),
    "nl": (["nl -ba f"], ["nl --frob"]),
    "od": (["od -c f"], ["od --frob"]),
    "hexdump": (["hexdump -C f"], ["hexdump --frob"]),
    "strings": (["strings -n 8 f"], ["strings --frob"]),
    "diff": (["diff -u a b"], ["diff --frob a b"]),
    "cmp": (["cmp a b"], ["cmp --frob a b"]),
    "comm": (["comm -12 a b"], ["comm --frob a b"]),
    "printenv": (["printenv PATH"], ["printenv --frob"]),
    "env": (["env"], ["env LD_PRELOAD=x ls", "env ls"]),
    "find": (["find /var/log -name '*.log' -mtime +7 -print", "find . -type f -size +100M -ls",
              "find / -xdev -newermt 2024-01-01 -printf '%p\\n'",
              "find /x ( -name a -o -name b ) -prune"],
             ["find /x -delete", "find /x -exec rm {} ;", "find /x -execdir sh -c x ;",
              "find /x -ok rm {} ;", "find /x -fprint F", "find /x -fprintf F %p",
              "find /x -fls F", "find /x -fprint0 F", "find /x -frob"]),
    # -- processes, disks, network (no writing mode at all: any arguments)
    **{t: ([f"{t} -x anything"], []) for t in """ps pgrep pidof pstree last lastlog w who
       users lsof lsblk findmnt lscpu lsmod lspci lsusb dig nslookup host drill ping ping6
       traceroute tracepath mtr iostat vmstat mpstat pidstat getenforce sestatus
       getent""".split()},
    "netstat": (["netstat -tulpn"], ["!netstat -c", "netstat --frob"]),
    "ss": (["ss -tulpn", "ss -s"], ["ss -K dst 1.2.3.4", "ss -D F"]),
    "sar": (["sar -u 1 3", "sar -n DEV"], ["sar -o F 1 3"]),
    "top": (["top -b -n 1", "top -bn1"], ["!top", "!top -b"]),
    "dmesg": (["dmesg -T", "dmesg --level=err"],
              ["dmesg -c", "dmesg -C", "dmesg -n 1", "!dmesg -w"]),
    "sysctl": (["sysctl -a", "sysctl vm.swappiness"],
               ["sysctl -w vm.swappiness=1", "sysctl vm.swappiness=1", "sysctl -p"]),
    "mount": (["mount", "mount -l"], ["mount /dev/sda1 /mnt"]),
    "nvidia-smi": (["nvidia-smi", "nvidia-smi --query-gpu=name --format=csv"],
                   ["nvidia-smi -r", "nvidia-smi -f F", "!nvidia-smi -l 1"]),
    "ethtool": (["ethtool eth0", "ethtool -S eth0"], ["ethtool -s eth0 speed 100",
                                                      "ethtool -K eth0 tso off"]),
    "smartctl": (["smartctl -a /dev/sda", "smartctl -H /dev/sda"],
                 ["smartctl -t long /dev/sda", "smartctl -s off /dev/sda"]),
    "mdadm": (["mdadm --detail /dev/md0", "mdadm -E /dev/sda1"], ["mdadm --fail /dev/md0 sda",
                                                                  "mdadm /dev/md0"]),
    "iptables": (["iptables -L -n -v", "iptables -nvL", "iptables -t nat -S"],
                 ["iptables -A INPUT -j DROP", "iptables -F", "iptables -n"]),
    "ip6tables": (["ip6tables -L"], ["ip6tables -D INPUT 1"]),
    "iptables-save": (["iptables-save -c"], ["iptables-save -f F"]),
    "ip6tables-save": (["ip6tables-save"], ["ip6tables-save x"]),
    # -- network tools
    "ip": (["ip a", "ip addr show dev eth0", "ip -s link", "ip -br a", "ip r",
            "ip a sh eth0", "ip link ls", "ip route get 1.1.1.1", "ip -6 route show table all",
            "ip neigh", "ip netns list"],
           ["ip link set eth0 down", "ip addr add 1.2.3.4/24 dev eth0", "ip route flush all",
            "ip neigh del 1.2.3.4 dev eth0", "ip netns exec x ls", "ip -batch F",
            "ip monitor", "ip link set eth0 up", "ip l s eth0 up", "ip a s"]),
    "curl": (["curl -s http://x/health", "curl -sSfL https://x", "curl -I https://x",
              "curl -s -o /dev/null -w '%{http_code}' https://x", "curl -G --data-urlencode "
              "query=up http://prom/api/v1/query", "curl -H 'Host: x' -k https://1.2.3.4"],
             ["curl -sXDELETE http://x", "curl -X POST http://x", "curl --json '{}' http://x",
              "curl -d@f http://x", "curl -d x=1 http://x", "curl -G -d @f http://x",
              "curl -o F http://x", "curl -O http://x/f", "curl -K f http://x",
              "curl -T f http://x", "curl -F a=b http://x", "curl -c jar http://x",
              "curl -w '%output{F}' http://x", "curl gopher://127.0.0.1:6379/_FLUSHALL",
              "curl -D F http://x", "curl -X GET http://es/_search -d '{}'",
              "curl -XGET http://x --data-binary '{}'"]),
    "wget": (["wget -qO- http://x", "wget -O - http://x", "wget --spider http://x",
              "wget -nv -O- http://x"],
             ["wget http://x/f.tar.gz", "wget -O F http://x", "wget --post-data=a http://x",
              "wget -O- ftp://x/f"]),
    "openssl": (["openssl x509 -in c.pem -noout -text", "openssl s_client -connect x:443 "
                 "-servername x", "openssl version -a", "openssl verify -CAfile ca c.pem"],
                ["openssl x509 -in c -out F", "openssl req -new -key k", "openssl rand 32",
                 "openssl s_client -connect x:443 -sess_out F"]),
    # -- services
    "systemctl": (["systemctl status nginx", "systemctl --no-pager status nginx -l",
                   "systemctl list-units --failed", "systemctl", "systemctl show -p MainPID x",
                   "systemctl is-active x"],
                  ["systemctl restart nginx", "systemctl stop x", "systemctl enable x",
                   "systemctl daemon-reload", "systemctl kill x", "systemctl mask x"]),
    "journalctl": (["journalctl -u kubelet --since '1 hour ago' --no-pager",
                    "journalctl -b -1 -n 100", "journalctl -k -p err", "journalctl -n50 -u x",
                    "journalctl --disk-usage"],
                   ["journalctl --vacuum-size=1G", "journalctl --vacuum-time=1d",
                    "journalctl --vacuum-files=2", "journalctl --rotate", "journalctl --flush",
                    "journalctl --cursor-file=F", "!journalctl -f", "!journalctl -u x -f"]),
    "service": (["service nginx status", "service --status-all"],
                ["service nginx restart", "service nginx"]),
    "sv": (["sv status prometheus"], ["sv restart prometheus", "sv stop x"]),
    "gitlab-ctl": (["gitlab-ctl status"], ["gitlab-ctl restart", "gitlab-ctl reconfigure",
                                           "!gitlab-ctl tail"]),
    "docker": (["docker ps -a", "docker logs --tail 100 web", "docker inspect -f '{{.State}}' c",
                "docker stats --no-stream", "docker system df", "docker image ls",
                "docker compose ps"],
               ["docker rm c", "docker run x", "docker kill c", "!docker logs -f c",
                "!docker stats", "docker system prune", "docker -H tcp://x run y"]),
    "podman": (["podman ps", "podman info", "podman pod ps"], ["podman run x",
                                                               "podman system reset"]),
    "nerdctl": (["nerdctl ps"], ["nerdctl rm x"]),
    "crictl": (["crictl ps -a", "crictl pods --name x", "crictl inspect c", "crictl logs --tail "
                "50 c"], ["crictl rm c", "crictl stopp p", "!crictl logs -f c"]),
    "ctr": (["ctr -n k8s.io containers ls", "ctr images ls -q"], ["ctr images rm x",
                                                                  "ctr tasks kill t"]),
    "git": (["git log --oneline -n 5", "git log -5 --stat", "git status -s",
             "git diff HEAD~1 --name-only", "git show HEAD", "git branch -a", "git branch",
             "git branch --list 'f*'", "git remote -v", "git remote show origin",
             "git config --get user.name", "git config user.name", "git tag -l",
             "git -C /repo rev-parse HEAD", "git fsck", "git cat-file -p HEAD",
             "git --no-pager log"],
            ["git branch X", "git branch -D x", "git remote add a b", "git remote set-url a b",
             "git tag v1", "git config user.name x", "git fetch", "git pull", "git push",
             "git checkout x", "git reset --hard", "git log --output=F", "git diff --ext-diff",
             "git -c core.pager=sh log", "git fsck --lost-found", "git stash"]),
    "psql": (["psql -c 'SELECT 1'", "psql -h db -U u -d app -c 'select count(*) from t'",
              "psql -l", "psql -c '\\dt'", "psql -c '\\x' -c 'SELECT 1'",
              "psql -c '\\timing on' -c 'SELECT 1'"],
             ["psql -c 'DELETE FROM t'", "psql -c '\\o /tmp/x' -c 'SELECT 1'",
              "psql -c 'SELECT pg_terminate_backend(1)'",
              "psql -c '/* x */ COPY t TO PROGRAM $$id$$'", "psql -f F.sql", "psql -o F -c x",
              "psql -c '\\! id'", "!psql", "!psql -h db"]),
    "gitlab-psql": (["gitlab-psql -c 'select name, setting from pg_settings'"],
                    ["gitlab-psql -c 'SELECT pg_reload_conf();'",
                     "gitlab-psql -c \"ALTER SYSTEM SET x TO 1\""]),
    "mysql": (["mysql -e 'SELECT 1'"], ["mysql -e 'DELETE FROM t'", "!mysql",
                                        "mysql -e 'select 1 \\! id'"]),
    "redis-cli": (["redis-cli info replication", "redis-cli -h h -p 6379 CONFIG GET maxmemory",
                   "redis-cli --bigkeys", "redis-cli slowlog get 10", "redis-cli client list",
                   "redis-cli -p 26379 SENTINEL masters", "redis-cli --scan --pattern 'a*'"],
                  ["redis-cli SETEX k 1 v", "redis-cli set k v", "redis-cli del k",
                   "redis-cli flushall", "redis-cli config set x y", "redis-cli --rdb F",
                   "redis-cli --pipe", "redis-cli client kill x", "!redis-cli",
                   "!redis-cli monitor", "!redis-cli --stat"]),
    "gitlab-redis-cli": (["gitlab-redis-cli info"], ["gitlab-redis-cli flushdb"]),
    "etcdctl": (["etcdctl endpoint health --cluster", "etcdctl member list -w table",
                 "etcdctl get --prefix /registry --keys-only", "etcdctl version"],
                ["etcdctl put k v", "etcdctl del k", "etcdctl defrag", "etcdctl member remove x",
                 "etcdctl snapshot save F", "etcdctl check perf", "!etcdctl watch k"]),
    **{name: ([f"{name} --bootstrap-server b:9092 --describe --under-replicated-partitions",
               f"{name} --bootstrap-server b:9092 --list --exclude-internal"],
              [f"{name} --bootstrap-server b:9092 --delete --topic t",
               f"{name} --bootstrap-server b:9092 --alter --topic t --partitions 6",
               f"{name} --bootstrap-server b:9092"])
       for name in ("kafka-topics", "kafka-topics.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092 --describe --group g --members",
               f"{name} --bootstrap-server b:9092 --list"],
              [f"{name} --bootstrap-server b:9092 --group g --reset-offsets --to-earliest "
               "--execute --topic t", f"{name} --bootstrap-server b:9092 --delete --group g"])
       for name in ("kafka-consumer-groups", "kafka-consumer-groups.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092 --entity-type topics --entity-name t "
               "--describe"],
              [f"{name} --bootstrap-server b:9092 --entity-type topics --entity-name t --alter "
               "--add-config retention.ms=1"])
       for name in ("kafka-configs", "kafka-configs.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092 --describe --topic-list t"],
              [f"{name} --bootstrap-server b:9092 --execute"])
       for name in ("kafka-log-dirs", "kafka-log-dirs.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092 --list --topic t"],
              [f"{name} --bootstrap-server b:9092 --add --allow-principal User:x --topic t"])
       for name in ("kafka-acls", "kafka-acls.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092"], [f"{name} --bootstrap-server b:9092 --x"])
       for name in ("kafka-broker-api-versions", "kafka-broker-api-versions.sh")},
    **{name: ([f"{name} --bootstrap-server b:9092 describe --status"],
              [f"{name} --bootstrap-server b:9092 remove-controller --controller-id 1"])
       for name in ("kafka-metadata-quorum", "kafka-metadata-quorum.sh")},
    "consul": (["consul members", "consul catalog services", "consul kv get -recurse svc/",
                "consul catalog nodes -service=patroni"],
               ["consul kv put k v", "consul kv delete k", "consul maint -enable",
                "consul leave", "!consul monitor"]),
    "vault": (["vault status", "vault kv get -field=x secret/a", "vault list secret/"],
              ["vault write x a=b", "vault kv put a b=c", "!vault login", "vault read x"]),
    "ceph": (["ceph status", "ceph health detail", "ceph osd tree", "ceph osd pool ls detail",
              "ceph -f json osd df", "ceph pg dump_stuck", "ceph config get mon x",
              "ceph mgr module ls", "ceph --connect-timeout 10 versions"],
             ["ceph osd out 3", "ceph osd pool delete p p --yes-i-really-really-mean-it",
              "ceph config set global debug_ms 1", "ceph auth ls", "ceph mgr module enable x",
              "ceph --admin-daemon /var/run/ceph/x.asok config show", "ceph tell osd.* bench",
              "ceph osd pool set p size 3", "!ceph watch", "ceph"]),
    "rados": (["rados df", "rados lspools", "rados -p replicapool ls"],
              ["rados -p p rm obj", "rados purge p --yes-i-really-really-mean-it",
               "rados bench -p p 10 write"]),
    "rbd": (["rbd ls -p replicapool", "rbd info replicapool/img", "rbd status img",
             "rbd showmapped", "rbd device list"],
            ["rbd map img", "rbd rm img", "rbd snap create img@s", "rbd resize --size 1G img"]),
    "promtool": (["promtool check config p.yml", "promtool query instant http://p up"],
                 ["promtool tsdb create-blocks-from x", "promtool push metrics x"]),
    "amtool": (["amtool alert query", "amtool silence", "amtool --alertmanager.url=http://a "
                "silence query -q"], ["amtool silence add a=b", "amtool silence expire x"]),
    "knife": (["knife node show n -a fqdn", "knife search node 'role:x' -a name",
               "knife node list", "knife vault show b i -z"],
              ["knife ssh 'role:x' uptime", "knife node delete n", "knife bootstrap x"]),
    # -- kubernetes
    "kubectl": (["kubectl get pods -o jsonpath='{.items[*].metadata.name}'",
                 "kubectl -n ns get pods -l app=x -o wide", "kubectl --all-namespaces get po",
                 "kubectl describe node n", "kubectl logs --tail=100 p -c c --previous",
                 "kubectl top pod --containers", "kubectl auth can-i get pods --as=x -n ns",
                 "kubectl rollout status deploy/x", "kubectl get --raw /metrics",
                 "kubectl config view --minify", "kubectl exec p -- cat /etc/hosts",
                 "kubectl api-resources --verbs=list", "kubectl get events --sort-by=.metadata"
                 ".creationTimestamp"],
                ["kubectl delete pod x", "kubectl apply -f x.yaml", "kubectl scale deploy x "
                 "--replicas=0", "kubectl rollout restart deploy/x", "kubectl cordon n",
                 "kubectl config use-context x", "kubectl exec p -- rm -rf /",
                 "kubectl get pods --profile=cpu", "kubectl cluster-info dump "
                 "--output-directory=/tmp/x", "!kubectl logs -f p", "!kubectl get pods -w",
                 "!kubectl exec -it p -- sh", "!kubectl port-forward p 80",
                 "!kubectl exec p ls"]),
    "oc": (["oc get clusterversion", "oc adm top nodes", "oc whoami", "oc project",
            "oc adm node-logs n -u kubelet"],
           ["oc project other", "oc adm drain n", "oc adm must-gather", "!oc rsh p",
            "!oc debug node/n", "!oc debug node/n --image=x -q",
            # a command given: run in a debug pod that `oc debug` starts, never read-only
            "oc debug node/n -- chroot /host crictl ps", "kubectl debug node/n --image=b -- ls",
            "!kubectl debug node/n -it --image=b"]),
    "virtctl": (["virtctl version"], ["virtctl migrate vm", "virtctl stop vm",
                                      "!virtctl console vm"]),
    "helm": (["helm list -A", "helm status r -n ns", "helm get values r --all", "helm history r",
              "helm template r ./chart -f v.yaml"],
             ["helm upgrade r c", "helm install r c", "helm uninstall r", "helm rollback r 1",
              "helm template r c --output-dir /tmp/x", "helm template r c --post-renderer x"]),
    # -- clouds
    "gcloud": (["gcloud compute disks list --format=json", "gcloud --project p compute "
                "instances describe x --zone z", "gcloud config get-value project",
                "gcloud container node-pools list --cluster c", "gcloud auth list"],
               ["gcloud compute instances stop x", "gcloud container clusters get-credentials c",
                "gcloud config set project p", "gcloud compute ssh x", "!gcloud auth login",
                "gcloud compute instances delete list"]),
    "az": (["az storage account show --name st --query sku", "az monitor metrics list "
            "--resource r", "az aks nodepool list --cluster-name c -g rg", "az group exists -n rg"],
           ["az storage account failover --name st --yes", "az vm restart -n vm -g rg",
            "az vm delete list", "az aks get-credentials -n c -g rg", "az --debug vm list",
            "!az login"]),
    "aws": (["aws ec2 describe-vpcs", "aws --region us-east-1 s3 ls s3://b",
             "aws sts get-caller-identity"],
            ["aws s3 cp a s3://b", "aws iam create-service-linked-role --x y",
             "aws ssm start-session --target i"]),
    "gsutil": (["gsutil ls gs://b", "gsutil -m ls -l gs://b", "gsutil cat gs://b/o"],
               ["gsutil cp a gs://b", "gsutil mv a b", "gsutil rm gs://b/o"]),
}


def _cases(kind: int) -> list[tuple[str, str]]:
    return [(tool, line) for tool, pair in sorted(CASES.items()) for line in pair[kind]]


def test_every_row_of_the_table_has_cases():
    assert sorted(set(TABLE) - set(CASES)) == []
    assert sorted(set(CASES) - set(TABLE)) == []


@pytest.mark.parametrize("tool, line", _cases(0))
def test_read_forms_read(tool, line):
    verdict = classify(shlex.split(line))
    assert verdict.effect == "read", verdict.reason


@pytest.mark.parametrize("tool, line", _cases(1))
def test_ways_to_write_or_to_need_a_person_are_not_read(tool, line):
    person = line.startswith("!")
    verdict = classify(shlex.split(line.lstrip("!")))
    assert verdict.effect == ("interactive" if person else "mutate"), verdict
    assert verdict.reason  # every refusal says why
