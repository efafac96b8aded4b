#compdef mon

autoload -U is-at-least

_mon() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon_commands" \
"*::: :->mon" \
&& ret=0
    case $state in
    (mon)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-command-$line[1]:"
        case $line[1] in
            (count)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(depth)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(topology)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--dot[Print Graphviz dot]' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(avg)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':res -- Resource:_default' \
&& ret=0
;;
(top)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':n -- How many:_default' \
':res -- Resource:_default' \
&& ret=0
;;
(histo)
_arguments "${_arguments_options[@]}" : \
'--buckets=[Number of equal-width buckets]:BUCKETS:_default' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':res -- Resource:_default' \
&& ret=0
;;
(filter)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::args -- RES OP VALUE, or grep WORD FILE:_default' \
&& ret=0
;;
(exec)
_arguments "${_arguments_options[@]}" : \
'--cmd-timeout=[Per-node timeout, seconds]:CMD_TIMEOUT:_default' \
'*--where=[Run only where RES OP VALUE holds (given twice\: the last one)]:RES:_default:RES:_default:RES:_default' \
'--ok-exit=[Exit statuses that count as success, e.g. 0,1 or 0-2,127; any other status, a signal or a timeout makes the node failed (exit code 1)]:LIST:_default' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--shell[Run through /bin/sh -c (default\: no shell)]' \
'--raw[Write the commands'\'' output as they wrote it even on a terminal. By default it is written as is when stdout is a pipe or file, and with control characters and bidirectional overrides escaped (\`\\u{1b}\`) on a terminal; node names and reasons are always escaped]' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::argv -- The command and its arguments:_default' \
&& ret=0
;;
(shell)
_arguments "${_arguments_options[@]}" : \
'--class=[The operation class the session is signed for\: commands outside it are denied by every node (query\: status queries; read\: also \`filter grep\`; exec\: also exec)]:CLASS:((query\:"Status queries (\`mon-query@mon\`)"
read\:"Queries and \`filter grep\` (\`mon-read@mon\`)"
exec\:"Queries, reads and exec (\`mon-exec@mon\`)"))' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(members)
_arguments "${_arguments_options[@]}" : \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(push)
_arguments "${_arguments_options[@]}" : \
'--mode=[Mode of the landed file, octal]:MODE:_default' \
'--block-size=[Block size, 4K–512K (e.g. 64K, 256K; default\: about 1024 blocks, 32K–512K; files up to 6000 blocks of 512K, about 2.9 GiB)]:SIZE:_default' \
'*--where=[Land the file only where RES OP VALUE holds (OP\: G L GE LE EQ NE > < >= <= == !=); the other nodes still relay blocks and are reported as skipped]:RES:_default:RES:_default:RES:_default' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':file -- The file to push:_files' \
':dest -- Absolute destination path on every node; `{node}` stands for the node'\''s name:_default' \
&& ret=0
;;
(web)
_arguments "${_arguments_options[@]}" : \
'--listen=[Address to serve the console on\: loopback, or any other one address with \`--tls-cert\` and \`--tls-key\` (browsers then reach it by that address)]:ADDR:PORT:_default' \
'--tls-cert=[Serve HTTPS with this certificate chain (PEM); needs \`--tls-key\`]:FILE:_files' \
'--tls-key=[The private key of \`--tls-cert\` (PEM)]:FILE:_files' \
'*--allow=[Actions the console may sign besides queries (none by default)]:LIST:((exec\:"Run commands on the nodes (\`exec\`)"
push\:"Push files to the nodes (\`push\`)"))' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(policy)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon__subcmd__policy_commands" \
"*::: :->policy" \
&& ret=0

    case $state in
    (policy)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-policy-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
'--at=[Check validity windows at this time instead of now (@UNIX, YYYYMMDD\[HHMM\[SS\]\]\[Z\] or RFC 3339)]:TIME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::paths -- Slice directories, directories of slices, or policy files:_files' \
&& ret=0
;;
(explain)
_arguments "${_arguments_options[@]}" : \
'--slice-dir=[The slice directory (allowed_signers, mon_policy, revoked_keys)]:DIR:_files' \
'--key=[The user'\''s public key (an OpenSSH ssh-ed25519 .pub file)]:KEY.pub:_files' \
'--principal=[The principal the session names (default\: found by key, as ssh-keygen -Y find-principals does)]:P:_default' \
'--from=[The client address, as the entry node sees it (checked against from=)]:IP:_default' \
'--node=[The node deciding (checked against nodes=; default\: this host'\''s name)]:NAME:_default' \
'--at=[Decide at this time instead of now (@UNIX, YYYYMMDD\[HHMM\[SS\]\]\[Z\] or RFC 3339)]:TIME:_default' \
'--namespace=[The namespace the session is signed with (default\: the class OP needs)]:NS:_default' \
'--fanout=[The session'\''s fanout (checked against max-fanout=)]:N:_default' \
'--lifetime=[The session'\''s lifetime in seconds (checked against max-lifetime=)]:SECONDS:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::op -- The operation and its arguments:_default' \
&& ret=0
;;
(add-user)
_arguments "${_arguments_options[@]}" : \
'*--ops=[The capability classes granted (comma-separated). The client signs each session with the least class it needs, so a user who runs queries needs \`query\` besides \`exec\`]:CLASS,…:((query\:"Queries\: count, depth, topology, members, avg, top, histo, filter on resources"
read\:"Queries plus \`filter grep\` (reads files)"
exec\:"Queries, grep and exec"
push\:"Push, plus queries"))' \
'--config-dir=[The config dir holding slices/]:DIR:_files' \
'--valid-after=[The key is valid from this time on (YYYYMMDD\[HHMM\[SS\]\]Z, as ssh-keygen)]:TIME:_default' \
'--valid-before=[The key is valid until this time (YYYYMMDD\[HHMM\[SS\]\]Z, as ssh-keygen)]:TIME:_default' \
'--from=[Client addresses allowed at the entry node]:CIDR,…:_default' \
'--nodes=[Node name patterns where operations may run]:PATTERN,…:_default' \
'--command=[Exec only\: a glob over the command line]:PATTERN:_default' \
'--grep-paths=[Grep only\: files or directories it may read]:PATH,…:_default' \
'--push-dirs=[Push only\: directories a push may land below]:DIR,…:_default' \
'--max-fanout=[Largest overlay fanout a session may ask for]:N:_default' \
'--max-lifetime=[Longest session lifetime]:SECONDS:_default' \
'--run-as=[The user exec, grep and push run as on a root server]:USER:_default' \
'--allow-setid[A push may land setuid, setgid or sticky bits]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':slice -- The slice; its files are CONFIG_DIR/slices/SLICE/ (created if missing):_default' \
':principal -- The user'\''s principal name, e.g. alice@lab (one name, no patterns):_default' \
':key -- The user'\''s public key (an OpenSSH ssh-ed25519 .pub file):_files' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__policy__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-policy-help-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(explain)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(add-user)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(known-nodes)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon__subcmd__known-nodes_commands" \
"*::: :->known-nodes" \
&& ret=0

    case $state in
    (known-nodes)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-known-nodes-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'--config-dir=[The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)]:DIR:_files' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- The node'\''s name (as `mon server init` printed it; its `--name`):_default' \
':host -- The node'\''s address or host name:_default' \
':key -- The node'\''s key `ssh-ed25519 AAAA…`, or a file holding it (`-` for stdin):_default' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--config-dir=[The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- The node'\''s name:_default' \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
'--config-dir=[The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- The node'\''s name:_default' \
'::key -- The key to revoke (default\: every key the node'\''s lines pin), or a file holding it:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__known-nodes__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-known-nodes-help-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(audit)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon__subcmd__audit_commands" \
"*::: :->audit" \
&& ret=0

    case $state in
    (audit)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-audit-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
'--since=[Only records at or after this time\: a duration back from now (\`90s\`, \`15m\`, \`1h\`, \`2d\`, \`1w\`) or an RFC 3339 time (\`2025-03-01T12\:00\:00Z\`)]:AGO|TIME:_default' \
'--slice=[Only records of this slice]:S:_default' \
'--principal=[Only records of this principal]:P:_default' \
'--key=[Only records of this key fingerprint (\`SHA256\:…\`; the prefix may be left out)]:FP:_default' \
'--event=[Only this event (\`session.deny\`), or a whole category without a dot (\`session\`)]:E:_default' \
'--session=[Only records of this session id (hex; a prefix is enough)]:ID:_default' \
'--denied[Only refusals\: result \`deny\`, \`*.deny\` and \`*.reject\` events]' \
'--json[Print the matching records as JSON lines, unchanged]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::path -- The log file, or a state dir (its audit.jsonl and rotated files, oldest first) \[default\: ./audit.jsonl\]:_files' \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::paths -- A state dir (its audit.jsonl and rotated audit.jsonl.NNNNNNNNNN files, checked as one chain), or log files, oldest first (e.g. files copied off the node, then the state dir):_files' \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
'--log=[The log file, or a state dir (its audit.jsonl and rotated files) \[default\: ./audit.jsonl\]]:FILE:_files' \
'--out=[Directory to write session.cbor and session.sig into (created if missing)]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':session_id -- The session id (hex, as `mon audit show` prints it; a unique prefix of 8+ digits is enough):_default' \
&& ret=0
;;
(fleet)
_arguments "${_arguments_options[@]}" : \
'--since=[Only records at or after this time\: a duration back from now (\`90s\`, \`15m\`, \`1h\`, \`2d\`, \`1w\`) or an RFC 3339 time (\`2025-03-01T12\:00\:00Z\`)]:AGO|TIME:_default' \
'--event=[Only this event (\`session.deny\`), or a whole category without a dot (\`session\`)]:E:_default' \
'--limit=[How many of the newest matching records to show (1 to 100)]:N:_default' \
'--key=[Ed25519 private key file, or FILE.pub to sign through ssh-agent \[env\: MON_KEY; default\: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519\]]:FILE:_files' \
'--server=[Entry server\: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or \[ADDR\]\:PORT. known_nodes pins its key by the name as typed and by the address \[env\: MON_SERVER; default\: 127.0.0.1\]]:HOST[:PORT]:_default' \
'--slice=[Slice whose policy decides \[env\: MON_SLICE; default\: the entry server'\''s only slice\]]:SLICE:_default' \
'--principal=[Principal to claim (servers find it from the key otherwise)]:PRINCIPAL:_default' \
'--known-nodes=[known_nodes file used to check the entry server'\''s key \[env\: MON_KNOWN_NODES; default\: ~/.mon/known_nodes, else /etc/mon/known_nodes\]]:FILE:_files' \
'--overlay=[Overlay algorithm \[default\: random\]]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'--fanout=[Children per node \[default\: adapts to the system'\''s size\]]:FANOUT:_default' \
'--max-parents=[Parents per node in a DAG \[default\: 1 for queries, 3 for push\]]:MAX_PARENTS:_default' \
'--timeout=[Seconds to wait for the answer \[default\: 10; 600 for push\]]:TIMEOUT:_default' \
'*--targets=[Only matching nodes execute; others relay \[default\: *\]. Patterns (\`web*\`, \`!web13\`), node sets as clush -w takes them (\`n\[1-20\],!n\[5-7\]\`) and ClusterShell groups (\`@web\`); repeatable, the lists are joined (a comma inside brackets stays in its node set)]:LIST:_default' \
'--denied[Only refusals\: result \`deny\`, \`*.deny\` and \`*.reject\` events]' \
'--json[Print one JSON object (documented in docs/operations.md)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__audit__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-audit-help-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(fleet)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(key)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon__subcmd__key_commands" \
"*::: :->key" \
&& ret=0

    case $state in
    (key)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-key-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
'--key=[An OpenSSH Ed25519 private key, or its public key (FILE.pub) to sign through ssh-agent]:FILE:_files' \
'--json[Print one JSON object instead of text]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__key__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-key-help-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(server)
_arguments "${_arguments_options[@]}" : \
'--config=[Settings file (\`KEY VALUE\` lines named like these flags; flags given here win). Default\: CONFIG_DIR/server.conf when it exists]:FILE:_files' \
'--config-dir=[Directory with the node key, known_nodes and slices/<slice>/ policy files]:DIR:_files' \
'--state-dir=[Directory for audit.jsonl and the replay journal (created 0700)]:DIR:_files' \
'--listen=[UDP and TCP address to listen on\: an IP or a host name (its first address), the port optional; IPv6 as \`\[ADDR\]\:PORT\` or \`ADDR\`]:HOST[:PORT]:_default' \
'--advertise=[Address other nodes reach this one at, when not the listen address (port\: the listen port). Default with an unspecified listen IP\: this node'\''s address in known_nodes, else the source address its peers see]:HOST[:PORT]:_default' \
'*--join=[Nodes to join through (comma-separated; repeatable)\: IPs or host names, the port optional \[default port\: 7460\]. Names are looked up at start and every 30 s]:HOST[:PORT],…:_default' \
'--name=[This node'\''s name as listed in known_nodes (default\: the host name)]:NAME:_default' \
'*--resource=[Operator-defined resource\: NAME=COMMAND, run by /bin/sh -c, stdout parsed as a number]:NAME=COMMAND:_default' \
'--skew=[Allowed clock skew in seconds]:SKEW:_default' \
'--push-policy=[Block scheduling of pushes\: rarest-first (default) or first-fit (the paper'\''s)]:POLICY:_default' \
'--push-primary-first=[Push downloads ask their first parent for every block it holds and the other parents only for blocks the first one lacks (\`false\` only for benchmarks)]:PUSH_PRIMARY_FIRST:(true false)' \
'*--run-as-users=[Run-as users a slice'\''s policy may name on this node, when the server runs as root\: \`SLICE USER,USER…\` (repeat for each slice). A session that would exec, grep or push as a user not listed for its slice is refused (\`run-as-not-allowed\`); root only if listed]:SLICE USER,…:_default' \
'--max-sessions=[Sessions this node runs at once (beyond\: refused with \`busy\`, retry later)]:MAX_SESSIONS:_default' \
'--max-sessions-per-key=[Running sessions one key may have on this node, its share of the table (beyond\: \`busy-key\`)]:MAX_SESSIONS_PER_KEY:_default' \
'--max-sessions-per-slice=[Running sessions one slice may have on this node (beyond\: \`busy-slice\`)]:MAX_SESSIONS_PER_SLICE:_default' \
'--max-runs=[Execs, greps and audit reads this node runs at once across all sessions (one more is denied on this node\: \`node-runs-busy\`), 1 to 1024]:MAX_RUNS:_default' \
'--max-interactive-per-key=[Interactive sessions (\`mon shell\`) one key may hold on this node, between commands or not (beyond\: \`busy-interactive\`, retry later), 1 to 1024]:MAX_INTERACTIVE_PER_KEY:_default' \
'--max-interactive-lifetime-s=[Longest signed lifetime, in seconds, of an interactive session this node accepts (beyond\: \`interactive-lifetime-too-long\`), 60 to 3600. \`mon shell\` signs 900\: below that, this node refuses \`mon shell\`]:MAX_INTERACTIVE_LIFETIME_S:_default' \
'--go-wait-ms=[Milliseconds a session waits for its parent'\''s go (first sealed frame) before it is dropped (sooner when its signed join window is shorter)]:GO_WAIT_MS:_default' \
'--ping-interval-ms=[Mean gossip interval in milliseconds (each Ping carries 3 view entries and 1 hint; the default keeps gossip under 500 B/s per node)]:PING_INTERVAL_MS:_default' \
'--audit-rotate-size=[Rotate the audit log once its file holds this much\: \`64M\`, \`512K\`, \`1G\` or bytes; \`off\` (or 0)\: never by size. The next file begins with a \`log.rotate\` record that continues the hash chain]:SIZE:_default' \
'--audit-rotate-age=[Rotate the audit log once its file'\''s first record is this old\: \`90s\`, \`15m\`, \`1h\`, \`2d\`, \`1w\`; \`off\` (or 0, the default)\: never by age]:AGE:_default' \
'--audit-keep=[Rotated audit log files kept (the oldest beyond are removed, each after a \`log.retention\` record naming it); \`all\`\: never remove]:N|all:_default' \
'--journal-compact-lines=[Replay-journal lines appended before it is compacted in the background (at least as many as it held after its last compaction); for tests]:JOURNAL_COMPACT_LINES:_default' \
'--log-format=[Log lines on stderr\: text, or one JSON object a line (levels by \`RUST_LOG\`)]:FORMAT:((text\:"\`TIMESTAMP LEVEL target\: message key=value…\`"
json\:"One JSON object a line\: \`timestamp\`, \`level\`, \`message\`, the event'\''s fields, \`target\`"))' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mon__subcmd__server_commands" \
"*::: :->server" \
&& ret=0

    case $state in
    (server)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-server-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
'--config-dir=[Directory that will hold the node key (\`node_ed25519_key\`)]:DIR:_files' \
'--name=[Node name (default\: the host name)]:NAME:_default' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__server__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-server-help-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(testbed)
_arguments "${_arguments_options[@]}" : \
'--nodes=[Number of servers]:NODES:_default' \
'--dir=[Directory for keys, policies, state and logs \[default\: a temporary directory, removed at exit\]]:DIR:_files' \
'--port=[Port every server listens on (each has its own 127.0.0.x address)]:PORT:_default' \
'--settle-timeout=[Seconds to wait for membership to settle]:SETTLE_TIMEOUT:_default' \
'*--resource=[Extra \`--resource NAME=COMMAND\` for every server]:NAME=COMMAND:_default' \
'--prepare-only[Only write the keys, known_nodes and policies into --dir, start nothing (for scripts and tests that start the servers themselves)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::command -- Command to run through the first server (e.g. `avg load`), then exit with its status:_default' \
&& ret=0
;;
(sim)
_arguments "${_arguments_options[@]}" : \
'--nodes=[Number of servers]:NODES:_default' \
'*--overlay=[Overlay algorithm(s), comma-separated; sessions alternate between the configurations]:OVERLAY:((random\:"Random tree"
twostage\:"Random first hops, then local neighbours"
dag\:"DAG with several parents per node"))' \
'*--fanout=[Children per node, comma-separated for several columns; \`auto\` is the servers'\'' adaptive default, from their estimate of the system'\''s size \[default\: auto\]]:K|auto:_default' \
'--dead=[Fraction of nodes that die just before the first session]:DEAD:_default' \
'--stragglers=[Fraction of slow nodes (median 50 ms per packet instead of 0.3 ms)]:STRAGGLERS:_default' \
'--sessions=[Sessions per configuration]:SESSIONS:_default' \
'--seed=[Seed\: the same seed gives the same output]:SEED:_default' \
'--settle=[Virtual seconds of membership gossip before the first session]:SETTLE:_default' \
'--timeout=[The client'\''s timeout, seconds]:TIMEOUT:_default' \
'--loss=[Packet loss rate between nodes]:LOSS:_default' \
'--latency=[Latency model\: PlanetLab-like sites, or one LAN (to compare with \`mon testbed\`)]:LATENCY:((planetlab\:"Sites on a PlanetLab-like map\: RTT median ~140 ms, a few hundred ms at the far end"
lan\:"One LAN or loopback\: tens of µs"))' \
'--cdf=[Write the count-time CDF here (CSV\: overlay,fanout,count_ms,cdf)]:FILE.csv:_files' \
'--json[Print one JSON object per configuration (one per line)]' \
'--per-session[With --json, include every session]' \
'-q[No progress on stderr]' \
'--quiet[No progress on stderr]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':shell -- The shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--dir=[Write mon.1 and one page per subcommand (mon-server.1, mon-policy-check.1, …) into DIR instead of printing mon.1]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-command-$line[1]:"
        case $line[1] in
            (count)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(depth)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(topology)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(avg)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(top)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(histo)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(filter)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(exec)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(shell)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(members)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(push)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(web)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(policy)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help__subcmd__policy_commands" \
"*::: :->policy" \
&& ret=0

    case $state in
    (policy)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-policy-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(explain)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(add-user)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(known-nodes)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help__subcmd__known-nodes_commands" \
"*::: :->known-nodes" \
&& ret=0

    case $state in
    (known-nodes)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-known-nodes-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(audit)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help__subcmd__audit_commands" \
"*::: :->audit" \
&& ret=0

    case $state in
    (audit)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-audit-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(fleet)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(key)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help__subcmd__key_commands" \
"*::: :->key" \
&& ret=0

    case $state in
    (key)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-key-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(server)
_arguments "${_arguments_options[@]}" : \
":: :_mon__subcmd__help__subcmd__server_commands" \
"*::: :->server" \
&& ret=0

    case $state in
    (server)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mon-help-server-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(testbed)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sim)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_mon_commands] )) ||
_mon_commands() {
    local commands; commands=(
'count:Number of nodes that answered' \
'depth:Depth of the overlay' \
'topology:Edges of the overlay' \
'avg:Mean of a resource (the resources and their units are listed below)' \
'top:The N nodes with the largest values of a resource (listed below)' \
'histo:Histogram of a resource (listed below)' \
'filter:Nodes where RES OP VALUE holds (OP, any case\: G L GE LE EQ NE > < >= <= == !=), or \`filter grep WORD FILE\`\: nodes whose FILE contains WORD' \
'exec:Run a command on every node; identical outcomes are grouped. Everything from the command'\''s first word on is the command (\`mon exec uname -r\`); put \`--\` before it when it starts with \`-\`' \
'shell:An interactive session\: the overlay is built once, then each command typed (or piped, one per line) runs over it as a follow-up Command signed by the session'\''s command key. \`help\` lists the commands; \`.json on|off\`; Ctrl-C cancels the running command, not the session. Exit code\: the highest of the commands'\'' (1 if one had missing, denied or failed nodes or was cancelled; 2 if a line did not parse)' \
'members:The entry server'\''s partial view\: name, address, age, RTT' \
'push:Push a file to every node (multi-parent DAG; \`--max-parents\` defaults to 3, 1 makes a chain/tree); lands atomically at DEST where the policy'\''s push-dirs allow it' \
'web:Serve the web console on loopback (elsewhere only over TLS)\: fleet, queries with charts, topology (and exec, push when \`--allow\` names them), signed with your key as the CLI does. Prints a login URL with its secret token; the URL logs in once. Press Enter in its terminal (a line on its stdin) for a new URL, which replaces the last' \
'policy:Slice policy tools for admins\: check files, explain a decision, add a user' \
'known-nodes:Edit known_nodes\: pin a node'\''s key (add), remove a node, revoke a key' \
'audit:Audit log tools for operators\: show, verify, export; fleet reviews every node'\''s log' \
'key:User key tools\: show which key MON would sign with' \
'server:Run the MON server (\`mon server init\` creates its node key first)' \
'testbed:Start N real servers on 127.0.0.2… with keys and a policy, then run a command' \
'sim:Simulate N servers under virtual time (deterministic)\: coverage and timing of sessions, as the paper'\''s Table 1' \
'completions:Print the shell completion script for bash, zsh or fish (also elvish, powershell), e.g. \`mon completions bash > ~/.local/share/bash-completion/completions/mon\` (the Debian package installs them)' \
'man:Print the man page mon(1) as roff (\`mon man | man -l -\`), or write every page with \`--dir\` (the Debian package installs them)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit_commands] )) ||
_mon__subcmd__audit_commands() {
    local commands; commands=(
'show:Print audit records as a table (or JSON lines), filtered' \
'verify:Check the hash chain and seq of a log, across its rotated files\: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)' \
'export:Write a recorded session'\''s body and signature (session.cbor, session.sig) so that \`ssh-keygen -Y verify\` can check it; prints the command. Exit 0, 1 not found, 2 error' \
'fleet:Review every node'\''s audit records through the overlay\: counts by event, principal and node, the newest matching records with their node names, and whether each node'\''s hash chain verified. Needs a key granted \`mon-audit@mon\` in the slice; nodes return only that slice'\''s records, and the read is itself audited. Exit codes as for queries (1 also when a node'\''s chain did not verify)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon audit commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__export_commands] )) ||
_mon__subcmd__audit__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit export commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__fleet_commands] )) ||
_mon__subcmd__audit__subcmd__fleet_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit fleet commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help_commands] )) ||
_mon__subcmd__audit__subcmd__help_commands() {
    local commands; commands=(
'show:Print audit records as a table (or JSON lines), filtered' \
'verify:Check the hash chain and seq of a log, across its rotated files\: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)' \
'export:Write a recorded session'\''s body and signature (session.cbor, session.sig) so that \`ssh-keygen -Y verify\` can check it; prints the command. Exit 0, 1 not found, 2 error' \
'fleet:Review every node'\''s audit records through the overlay\: counts by event, principal and node, the newest matching records with their node names, and whether each node'\''s hash chain verified. Needs a key granted \`mon-audit@mon\` in the slice; nodes return only that slice'\''s records, and the read is itself audited. Exit codes as for queries (1 also when a node'\''s chain did not verify)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon audit help commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help__subcmd__export_commands] )) ||
_mon__subcmd__audit__subcmd__help__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit help export commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help__subcmd__fleet_commands] )) ||
_mon__subcmd__audit__subcmd__help__subcmd__fleet_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit help fleet commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__audit__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help__subcmd__show_commands] )) ||
_mon__subcmd__audit__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit help show commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__help__subcmd__verify_commands] )) ||
_mon__subcmd__audit__subcmd__help__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit help verify commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__show_commands] )) ||
_mon__subcmd__audit__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit show commands' commands "$@"
}
(( $+functions[_mon__subcmd__audit__subcmd__verify_commands] )) ||
_mon__subcmd__audit__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'mon audit verify commands' commands "$@"
}
(( $+functions[_mon__subcmd__avg_commands] )) ||
_mon__subcmd__avg_commands() {
    local commands; commands=()
    _describe -t commands 'mon avg commands' commands "$@"
}
(( $+functions[_mon__subcmd__completions_commands] )) ||
_mon__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'mon completions commands' commands "$@"
}
(( $+functions[_mon__subcmd__count_commands] )) ||
_mon__subcmd__count_commands() {
    local commands; commands=()
    _describe -t commands 'mon count commands' commands "$@"
}
(( $+functions[_mon__subcmd__depth_commands] )) ||
_mon__subcmd__depth_commands() {
    local commands; commands=()
    _describe -t commands 'mon depth commands' commands "$@"
}
(( $+functions[_mon__subcmd__exec_commands] )) ||
_mon__subcmd__exec_commands() {
    local commands; commands=()
    _describe -t commands 'mon exec commands' commands "$@"
}
(( $+functions[_mon__subcmd__filter_commands] )) ||
_mon__subcmd__filter_commands() {
    local commands; commands=()
    _describe -t commands 'mon filter commands' commands "$@"
}
(( $+functions[_mon__subcmd__help_commands] )) ||
_mon__subcmd__help_commands() {
    local commands; commands=(
'count:Number of nodes that answered' \
'depth:Depth of the overlay' \
'topology:Edges of the overlay' \
'avg:Mean of a resource (the resources and their units are listed below)' \
'top:The N nodes with the largest values of a resource (listed below)' \
'histo:Histogram of a resource (listed below)' \
'filter:Nodes where RES OP VALUE holds (OP, any case\: G L GE LE EQ NE > < >= <= == !=), or \`filter grep WORD FILE\`\: nodes whose FILE contains WORD' \
'exec:Run a command on every node; identical outcomes are grouped. Everything from the command'\''s first word on is the command (\`mon exec uname -r\`); put \`--\` before it when it starts with \`-\`' \
'shell:An interactive session\: the overlay is built once, then each command typed (or piped, one per line) runs over it as a follow-up Command signed by the session'\''s command key. \`help\` lists the commands; \`.json on|off\`; Ctrl-C cancels the running command, not the session. Exit code\: the highest of the commands'\'' (1 if one had missing, denied or failed nodes or was cancelled; 2 if a line did not parse)' \
'members:The entry server'\''s partial view\: name, address, age, RTT' \
'push:Push a file to every node (multi-parent DAG; \`--max-parents\` defaults to 3, 1 makes a chain/tree); lands atomically at DEST where the policy'\''s push-dirs allow it' \
'web:Serve the web console on loopback (elsewhere only over TLS)\: fleet, queries with charts, topology (and exec, push when \`--allow\` names them), signed with your key as the CLI does. Prints a login URL with its secret token; the URL logs in once. Press Enter in its terminal (a line on its stdin) for a new URL, which replaces the last' \
'policy:Slice policy tools for admins\: check files, explain a decision, add a user' \
'known-nodes:Edit known_nodes\: pin a node'\''s key (add), remove a node, revoke a key' \
'audit:Audit log tools for operators\: show, verify, export; fleet reviews every node'\''s log' \
'key:User key tools\: show which key MON would sign with' \
'server:Run the MON server (\`mon server init\` creates its node key first)' \
'testbed:Start N real servers on 127.0.0.2… with keys and a policy, then run a command' \
'sim:Simulate N servers under virtual time (deterministic)\: coverage and timing of sessions, as the paper'\''s Table 1' \
'completions:Print the shell completion script for bash, zsh or fish (also elvish, powershell), e.g. \`mon completions bash > ~/.local/share/bash-completion/completions/mon\` (the Debian package installs them)' \
'man:Print the man page mon(1) as roff (\`mon man | man -l -\`), or write every page with \`--dir\` (the Debian package installs them)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon help commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__audit_commands] )) ||
_mon__subcmd__help__subcmd__audit_commands() {
    local commands; commands=(
'show:Print audit records as a table (or JSON lines), filtered' \
'verify:Check the hash chain and seq of a log, across its rotated files\: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)' \
'export:Write a recorded session'\''s body and signature (session.cbor, session.sig) so that \`ssh-keygen -Y verify\` can check it; prints the command. Exit 0, 1 not found, 2 error' \
'fleet:Review every node'\''s audit records through the overlay\: counts by event, principal and node, the newest matching records with their node names, and whether each node'\''s hash chain verified. Needs a key granted \`mon-audit@mon\` in the slice; nodes return only that slice'\''s records, and the read is itself audited. Exit codes as for queries (1 also when a node'\''s chain did not verify)' \
    )
    _describe -t commands 'mon help audit commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__audit__subcmd__export_commands] )) ||
_mon__subcmd__help__subcmd__audit__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'mon help audit export commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__audit__subcmd__fleet_commands] )) ||
_mon__subcmd__help__subcmd__audit__subcmd__fleet_commands() {
    local commands; commands=()
    _describe -t commands 'mon help audit fleet commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__audit__subcmd__show_commands] )) ||
_mon__subcmd__help__subcmd__audit__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon help audit show commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__audit__subcmd__verify_commands] )) ||
_mon__subcmd__help__subcmd__audit__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'mon help audit verify commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__avg_commands] )) ||
_mon__subcmd__help__subcmd__avg_commands() {
    local commands; commands=()
    _describe -t commands 'mon help avg commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__completions_commands] )) ||
_mon__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'mon help completions commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__count_commands] )) ||
_mon__subcmd__help__subcmd__count_commands() {
    local commands; commands=()
    _describe -t commands 'mon help count commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__depth_commands] )) ||
_mon__subcmd__help__subcmd__depth_commands() {
    local commands; commands=()
    _describe -t commands 'mon help depth commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__exec_commands] )) ||
_mon__subcmd__help__subcmd__exec_commands() {
    local commands; commands=()
    _describe -t commands 'mon help exec commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__filter_commands] )) ||
_mon__subcmd__help__subcmd__filter_commands() {
    local commands; commands=()
    _describe -t commands 'mon help filter commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__histo_commands] )) ||
_mon__subcmd__help__subcmd__histo_commands() {
    local commands; commands=()
    _describe -t commands 'mon help histo commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__key_commands] )) ||
_mon__subcmd__help__subcmd__key_commands() {
    local commands; commands=(
'show:Show which key MON would sign with\: fingerprint, type, comment and where it comes from' \
    )
    _describe -t commands 'mon help key commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__key__subcmd__show_commands] )) ||
_mon__subcmd__help__subcmd__key__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon help key show commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__known-nodes_commands] )) ||
_mon__subcmd__help__subcmd__known-nodes_commands() {
    local commands; commands=(
'add:Pin a node'\''s key\: adds the line \`NAME,HOST ssh-ed25519 KEY\`' \
'remove:Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)' \
'revoke:Revoke a node'\''s key\: the lines pinning it become \`@revoked …\`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)' \
    )
    _describe -t commands 'mon help known-nodes commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__known-nodes__subcmd__add_commands] )) ||
_mon__subcmd__help__subcmd__known-nodes__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'mon help known-nodes add commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__known-nodes__subcmd__remove_commands] )) ||
_mon__subcmd__help__subcmd__known-nodes__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'mon help known-nodes remove commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__known-nodes__subcmd__revoke_commands] )) ||
_mon__subcmd__help__subcmd__known-nodes__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'mon help known-nodes revoke commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__man_commands] )) ||
_mon__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'mon help man commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__members_commands] )) ||
_mon__subcmd__help__subcmd__members_commands() {
    local commands; commands=()
    _describe -t commands 'mon help members commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__policy_commands] )) ||
_mon__subcmd__help__subcmd__policy_commands() {
    local commands; commands=(
'check:Check slice directories and policy files\: errors and warnings as file\:line\:col' \
'explain:Explain what a slice'\''s policy decides for a key and an operation' \
'add-user:Grant a user'\''s key capability classes in a slice, without editing files by hand' \
    )
    _describe -t commands 'mon help policy commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__policy__subcmd__add-user_commands] )) ||
_mon__subcmd__help__subcmd__policy__subcmd__add-user_commands() {
    local commands; commands=()
    _describe -t commands 'mon help policy add-user commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__policy__subcmd__check_commands] )) ||
_mon__subcmd__help__subcmd__policy__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'mon help policy check commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__policy__subcmd__explain_commands] )) ||
_mon__subcmd__help__subcmd__policy__subcmd__explain_commands() {
    local commands; commands=()
    _describe -t commands 'mon help policy explain commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__push_commands] )) ||
_mon__subcmd__help__subcmd__push_commands() {
    local commands; commands=()
    _describe -t commands 'mon help push commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__server_commands] )) ||
_mon__subcmd__help__subcmd__server_commands() {
    local commands; commands=(
'init:Create this node'\''s key and print its known_nodes line' \
    )
    _describe -t commands 'mon help server commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__server__subcmd__init_commands] )) ||
_mon__subcmd__help__subcmd__server__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'mon help server init commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__shell_commands] )) ||
_mon__subcmd__help__subcmd__shell_commands() {
    local commands; commands=()
    _describe -t commands 'mon help shell commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__sim_commands] )) ||
_mon__subcmd__help__subcmd__sim_commands() {
    local commands; commands=()
    _describe -t commands 'mon help sim commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__testbed_commands] )) ||
_mon__subcmd__help__subcmd__testbed_commands() {
    local commands; commands=()
    _describe -t commands 'mon help testbed commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__top_commands] )) ||
_mon__subcmd__help__subcmd__top_commands() {
    local commands; commands=()
    _describe -t commands 'mon help top commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__topology_commands] )) ||
_mon__subcmd__help__subcmd__topology_commands() {
    local commands; commands=()
    _describe -t commands 'mon help topology commands' commands "$@"
}
(( $+functions[_mon__subcmd__help__subcmd__web_commands] )) ||
_mon__subcmd__help__subcmd__web_commands() {
    local commands; commands=()
    _describe -t commands 'mon help web commands' commands "$@"
}
(( $+functions[_mon__subcmd__histo_commands] )) ||
_mon__subcmd__histo_commands() {
    local commands; commands=()
    _describe -t commands 'mon histo commands' commands "$@"
}
(( $+functions[_mon__subcmd__key_commands] )) ||
_mon__subcmd__key_commands() {
    local commands; commands=(
'show:Show which key MON would sign with\: fingerprint, type, comment and where it comes from' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon key commands' commands "$@"
}
(( $+functions[_mon__subcmd__key__subcmd__help_commands] )) ||
_mon__subcmd__key__subcmd__help_commands() {
    local commands; commands=(
'show:Show which key MON would sign with\: fingerprint, type, comment and where it comes from' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon key help commands' commands "$@"
}
(( $+functions[_mon__subcmd__key__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__key__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon key help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__key__subcmd__help__subcmd__show_commands] )) ||
_mon__subcmd__key__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon key help show commands' commands "$@"
}
(( $+functions[_mon__subcmd__key__subcmd__show_commands] )) ||
_mon__subcmd__key__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'mon key show commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes_commands] )) ||
_mon__subcmd__known-nodes_commands() {
    local commands; commands=(
'add:Pin a node'\''s key\: adds the line \`NAME,HOST ssh-ed25519 KEY\`' \
'remove:Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)' \
'revoke:Revoke a node'\''s key\: the lines pinning it become \`@revoked …\`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon known-nodes commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__add_commands] )) ||
_mon__subcmd__known-nodes__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes add commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__help_commands] )) ||
_mon__subcmd__known-nodes__subcmd__help_commands() {
    local commands; commands=(
'add:Pin a node'\''s key\: adds the line \`NAME,HOST ssh-ed25519 KEY\`' \
'remove:Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)' \
'revoke:Revoke a node'\''s key\: the lines pinning it become \`@revoked …\`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon known-nodes help commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__help__subcmd__add_commands] )) ||
_mon__subcmd__known-nodes__subcmd__help__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes help add commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__known-nodes__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__help__subcmd__remove_commands] )) ||
_mon__subcmd__known-nodes__subcmd__help__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes help remove commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__help__subcmd__revoke_commands] )) ||
_mon__subcmd__known-nodes__subcmd__help__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes help revoke commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__remove_commands] )) ||
_mon__subcmd__known-nodes__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes remove commands' commands "$@"
}
(( $+functions[_mon__subcmd__known-nodes__subcmd__revoke_commands] )) ||
_mon__subcmd__known-nodes__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'mon known-nodes revoke commands' commands "$@"
}
(( $+functions[_mon__subcmd__man_commands] )) ||
_mon__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'mon man commands' commands "$@"
}
(( $+functions[_mon__subcmd__members_commands] )) ||
_mon__subcmd__members_commands() {
    local commands; commands=()
    _describe -t commands 'mon members commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy_commands] )) ||
_mon__subcmd__policy_commands() {
    local commands; commands=(
'check:Check slice directories and policy files\: errors and warnings as file\:line\:col' \
'explain:Explain what a slice'\''s policy decides for a key and an operation' \
'add-user:Grant a user'\''s key capability classes in a slice, without editing files by hand' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon policy commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__add-user_commands] )) ||
_mon__subcmd__policy__subcmd__add-user_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy add-user commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__check_commands] )) ||
_mon__subcmd__policy__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy check commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__explain_commands] )) ||
_mon__subcmd__policy__subcmd__explain_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy explain commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__help_commands] )) ||
_mon__subcmd__policy__subcmd__help_commands() {
    local commands; commands=(
'check:Check slice directories and policy files\: errors and warnings as file\:line\:col' \
'explain:Explain what a slice'\''s policy decides for a key and an operation' \
'add-user:Grant a user'\''s key capability classes in a slice, without editing files by hand' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon policy help commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__help__subcmd__add-user_commands] )) ||
_mon__subcmd__policy__subcmd__help__subcmd__add-user_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy help add-user commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__help__subcmd__check_commands] )) ||
_mon__subcmd__policy__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy help check commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__help__subcmd__explain_commands] )) ||
_mon__subcmd__policy__subcmd__help__subcmd__explain_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy help explain commands' commands "$@"
}
(( $+functions[_mon__subcmd__policy__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__policy__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon policy help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__push_commands] )) ||
_mon__subcmd__push_commands() {
    local commands; commands=()
    _describe -t commands 'mon push commands' commands "$@"
}
(( $+functions[_mon__subcmd__server_commands] )) ||
_mon__subcmd__server_commands() {
    local commands; commands=(
'init:Create this node'\''s key and print its known_nodes line' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon server commands' commands "$@"
}
(( $+functions[_mon__subcmd__server__subcmd__help_commands] )) ||
_mon__subcmd__server__subcmd__help_commands() {
    local commands; commands=(
'init:Create this node'\''s key and print its known_nodes line' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mon server help commands' commands "$@"
}
(( $+functions[_mon__subcmd__server__subcmd__help__subcmd__help_commands] )) ||
_mon__subcmd__server__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mon server help help commands' commands "$@"
}
(( $+functions[_mon__subcmd__server__subcmd__help__subcmd__init_commands] )) ||
_mon__subcmd__server__subcmd__help__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'mon server help init commands' commands "$@"
}
(( $+functions[_mon__subcmd__server__subcmd__init_commands] )) ||
_mon__subcmd__server__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'mon server init commands' commands "$@"
}
(( $+functions[_mon__subcmd__shell_commands] )) ||
_mon__subcmd__shell_commands() {
    local commands; commands=()
    _describe -t commands 'mon shell commands' commands "$@"
}
(( $+functions[_mon__subcmd__sim_commands] )) ||
_mon__subcmd__sim_commands() {
    local commands; commands=()
    _describe -t commands 'mon sim commands' commands "$@"
}
(( $+functions[_mon__subcmd__testbed_commands] )) ||
_mon__subcmd__testbed_commands() {
    local commands; commands=()
    _describe -t commands 'mon testbed commands' commands "$@"
}
(( $+functions[_mon__subcmd__top_commands] )) ||
_mon__subcmd__top_commands() {
    local commands; commands=()
    _describe -t commands 'mon top commands' commands "$@"
}
(( $+functions[_mon__subcmd__topology_commands] )) ||
_mon__subcmd__topology_commands() {
    local commands; commands=()
    _describe -t commands 'mon topology commands' commands "$@"
}
(( $+functions[_mon__subcmd__web_commands] )) ||
_mon__subcmd__web_commands() {
    local commands; commands=()
    _describe -t commands 'mon web commands' commands "$@"
}

if [ "$funcstack[1]" = "_mon" ]; then
    _mon "$@"
else
    compdef _mon mon
fi
