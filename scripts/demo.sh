#!/usr/bin/env bash
# The main job on a local cluster of real processes (all on 127.0.0.1):
#   cc-sim (the Cloud Controller stand-in), one gateway per service type, and
#   two nodes per service type that run real servers.
# It creates instances and bindings through the CC, makes orphans the ways they
# arise in production, has the gateway find them (double check), purges them
# with purge-orphan from a saved /varz, shows that the orphans are really gone
# and the live instances still work, and stops everything it started.
set -euo pipefail
umask 077  # the cluster's configs and data hold secrets
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh
export PATH="$HOME/.local/bin:$PATH"

echo "== building"
cargo build --workspace --bins -q
bin="$root/target/debug"

run="$root/.cluster"
if [ -d "$run" ]; then
  # A previous run's servers would still hold their ports.
  pkill -f "$run/" 2>/dev/null || true
  sleep 0.5
  rm -rf "$run"
fi
mkdir -p "$run/logs"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if pgrep -f "$run/" >/dev/null; then
    echo "demo: servers still running under $run; killing them" >&2
    pkill -KILL -f "$run/" || true
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secret() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

cc_port=$(free_port)
nats_port=$(free_port)
nats="nats://127.0.0.1:$nats_port"
cc_token=$(secret)
cc="http://127.0.0.1:$cc_port"

# --- configs ---------------------------------------------------------------
services=(redis mongodb)
ferretdb="$HOME/.local/bin/ferretdb"
declare -A gw_port status_port gw_token broker_pw status_pw
cat > "$run/cc-sim.yml" <<YAML
listen: 127.0.0.1:$cc_port
db: $run/cc.db
token: $cc_token
brokers:
YAML
range=21000
for svc in "${services[@]}"; do
  gw_port[$svc]=$(free_port); status_port[$svc]=$(free_port)
  gw_token[$svc]=$(secret); broker_pw[$svc]=$(secret); status_pw[$svc]=$(secret)
  cat >> "$run/cc-sim.yml" <<YAML
  - name: $svc
    url: http://127.0.0.1:${gw_port[$svc]}
    user: broker
    password: ${broker_pw[$svc]}
YAML
  nodes_yaml=""
  for i in 0 1; do
    id="${svc}_node_$i"
    port=$(free_port)
    node_token=$(secret)
    cat > "$run/$id.yml" <<YAML
node_id: $id
listen: 127.0.0.1:$port
token: $node_token
base_dir: $run/$id
port_range: {first: $range, last: $((range + 49))}
capacity: 10
plans: [dedicated]
nats: {url: "$nats"}
YAML
    if [ "$svc" = mongodb ]; then
      # FerretDB stands in for mongod, which no package registry here serves.
      cat >> "$run/$id.yml" <<YAML
server:
  binary: $ferretdb
  args: [--handler=sqlite, "--sqlite-url=file:{dir}/data/", "--state-dir={dir}",
         "--listen-addr={bind_host}:{port}", --debug-addr=-, --telemetry=disable,
         --test-enable-new-auth, --setup-database=admin, "--setup-username={admin}",
         --log-level=info, --log-format=text]
  env: {FERRETDB_SETUP_PASSWORD: "{adminpass}"}
YAML
    fi
    range=$((range + 50))
    nodes_yaml+="  - {id: $id, address: \"http://127.0.0.1:$port\", token: $node_token}"$'\n'
  done
  cat > "$run/gateway-$svc.yml" <<YAML
service:
  name: $svc
  description: "$svc, one dedicated server per instance"
  plans:
    - {id: $svc-dedicated, name: dedicated, description: "a dedicated $svc server"}
listen: 127.0.0.1:${gw_port[$svc]}
broker: {user: broker, password: ${broker_pw[$svc]}}
token: ${gw_token[$svc]}
status: {port: ${status_port[$svc]}, user: status, password: ${status_pw[$svc]}}
check_orphan_interval: -1
# Short for the demo; the default (and the original's) is 300.
double_check_orphan_interval: 3
# The demo's orphans are seconds old; production keeps the default 60.
orphan_grace: 0
node_timeout: 10
cc: {url: "$cc", token: $cc_token, per_page: 2}
nats: {url: "$nats"}
nodes:
$nodes_yaml
YAML
  cat > "$run/purge-orphan-$svc.yml" <<YAML
gateway_uri: 127.0.0.1:${gw_port[$svc]}
token: ${gw_token[$svc]}
timeout: 120
YAML
done

# --- start the cluster -----------------------------------------------------
start() { # name, command...
  local name=$1; shift
  "$@" >"$run/logs/$name.log" 2>&1 &
  pids+=($!)
}
wait_http() { # url, curl args...
  local url=$1; shift
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$@" "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "demo: $url did not come up; see $run/logs" >&2; return 1
}
echo "== starting cluster in $run"
start nats nats-server -a 127.0.0.1 -p "$nats_port"
for svc in "${services[@]}"; do
  for i in 0 1; do start "${svc}_node_$i" "$bin/node-$svc" -c "$run/${svc}_node_$i.yml"; done
  start "gateway-$svc" "$bin/gateway" -c "$run/gateway-$svc.yml"
done
start cc-sim "$bin/cc-sim" -c "$run/cc-sim.yml"
wait_http "$cc/sim/health"
for svc in "${services[@]}"; do
  wait_http "http://127.0.0.1:${status_port[$svc]}/healthz" -u "status:${status_pw[$svc]}"
done

# The CC token goes to curl through a private file, not its command line.
printf 'Authorization: bearer %s\n' "$cc_token" > "$run/cc-auth.header"
ccapi() { # method path [json]
  local args=(-sS -X "$1" -H @"$run/cc-auth.header" -H 'Content-Type: application/json')
  [ $# -ge 3 ] && args+=(-d "$3")
  curl "${args[@]}" "$cc$2"
}
create_instance() { # svc name -> guid
  ccapi POST /v3/service_instances \
    "{\"type\":\"managed\",\"name\":\"$2\",\"relationships\":{\"service_plan\":{\"data\":{\"guid\":\"$1-dedicated\"}}}}" | jq -r .guid
}
create_binding() { # instance name -> guid
  ccapi POST /v3/service_credential_bindings \
    "{\"type\":\"key\",\"name\":\"$2\",\"relationships\":{\"service_instance\":{\"data\":{\"guid\":\"$1\"}}}}" | jq -r .guid
}
creds() { ccapi GET "/v3/service_credential_bindings/$1/details" | jq -c .credentials; }
# Does a binding's credential work? Passwords go through the environment.
works_redis() {
  local c=$1
  REDISCLI_AUTH=$(jq -r .password <<<"$c") redis-cli --no-auth-warning \
    -h "$(jq -r .host <<<"$c")" -p "$(jq -r .port <<<"$c")" --user "$(jq -r .username <<<"$c")" \
    SET demo-key ok 2>/dev/null | grep -q '^OK$'
}
# The same for MongoDB: log in with the binding's user and write a document.
works_mongodb() {
  "$bin/mongo-check" <<<"$1" >/dev/null 2>&1
}
works() { "works_$1" "$2"; }

declare -A live_keys orphan_creds
for svc in "${services[@]}"; do
  echo "== $svc: creating instances and bindings through the CC"
  live=()
  for n in a b c; do live+=("$(create_instance "$svc" "$svc-$n")"); done
  keys=()
  for inst in "${live[@]}"; do keys+=("$(create_binding "$inst" key)"); done
  live_keys[$svc]="${keys[*]}"
  doomed_binding=$(create_binding "${live[0]}" doomed)
  doomed_creds=$(creds "$doomed_binding")
  works "$svc" "$doomed_creds" || { echo "demo: a new binding does not work" >&2; exit 1; }
  purged=$(create_instance "$svc" "$svc-purged")
  purged_creds=$(creds "$(create_binding "$purged" key)")

  echo "== $svc: making orphans the real way"
  ccapi DELETE "/v3/service_instances/$purged?purge=true"
  echo "   instance $purged: CC record purged (purge=true), the broker was not called"
  ccapi DELETE "/v3/service_credential_bindings/$doomed_binding?purge=true"
  echo "   binding  $doomed_binding: CC record purged (purge=true)"
  ccapi PUT /sim/faults '{"skip_save_next_instance": true}' >/dev/null
  lost_reply=$(ccapi POST /v3/service_instances \
    "{\"type\":\"managed\",\"name\":\"$svc-lost\",\"relationships\":{\"service_plan\":{\"data\":{\"guid\":\"$svc-dedicated\"}}}}")
  echo "   one more instance: the broker succeeded, the CC lost the record ($(jq -r '.errors[0].detail' <<<"$lost_reply"))"
  orphan_creds[$svc]="$purged_creds $doomed_creds"

  echo "== $svc: purge-orphan -k --wait (two looks, ${svc} double_check_orphan_interval apart)"
  "$bin/purge-orphan" -c "$run/purge-orphan-$svc.yml" -k --wait
  curl -fsS -u "status:${status_pw[$svc]}" "http://127.0.0.1:${status_port[$svc]}/varz" > "$run/varz-$svc.json"
  echo "   /varz saved to $run/varz-$svc.json"
  found_instances=$(jq -r '[.orphan_instances[][]] | sort | join(" ")' "$run/varz-$svc.json")
  found_bindings=$(jq -r '[.orphan_bindings[][].binding_id] | sort | join(" ")' "$run/varz-$svc.json")
  lost=$(jq -r --arg p "$purged" '[.orphan_instances[][] | select(. != $p)] | join(" ")' "$run/varz-$svc.json")
  [ "$(wc -w <<<"$found_instances")" -eq 2 ] && grep -qw "$purged" <<<"$found_instances" \
    || { echo "demo: expected 2 orphan instances including $purged, got: $found_instances" >&2; exit 1; }
  [ "$found_bindings" = "$doomed_binding" ] \
    || { echo "demo: expected orphan binding $doomed_binding, got: $found_bindings" >&2; exit 1; }

  echo "== $svc: purge-orphan $run/varz-$svc.json"
  "$bin/purge-orphan" -c "$run/purge-orphan-$svc.yml" "$run/varz-$svc.json"

  echo "== $svc: checking the result"
  for inst in $purged $lost; do
    if pgrep -f "$run/${svc}_node_[01]/instances/$inst/" >/dev/null; then
      echo "demo: a server for orphan $inst still runs" >&2; exit 1
    fi
    for i in 0 1; do
      [ ! -e "$run/${svc}_node_$i/instances/$inst" ] || { echo "demo: $inst still has a data dir" >&2; exit 1; }
    done
    echo "   orphan instance $inst: server stopped, data dir and log removed"
  done
  if works "$svc" "$doomed_creds"; then echo "demo: orphan binding still works" >&2; exit 1; fi
  echo "   orphan binding $doomed_binding: its user removed (its credentials are refused)"
  for k in ${live_keys[$svc]}; do
    works "$svc" "$(creds "$k")" || { echo "demo: live binding $k does not work" >&2; exit 1; }
  done
  echo "   all $(wc -w <<<"${live_keys[$svc]}") live instances answer with their credentials"
done

echo
echo "== summary"
for svc in "${services[@]}"; do
  v="$run/varz-$svc.json"
  echo "   $svc: $(jq '[.nodes[] | select(.announced_at != null)] | length' "$v") of $(jq '.nodes | length' "$v") nodes announced on NATS; found $(jq '[.orphan_instances[][]] | length' "$v") orphan instances and $(jq '[.orphan_bindings[][]] | length' "$v") orphan bindings; purged them all; live instances intact"
done
echo "   logs: $run/logs   (stopping the cluster now)"
