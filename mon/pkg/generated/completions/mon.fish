# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mon_global_optspecs
    string join \n key= server= slice= principal= known-nodes= overlay= fanout= max-parents= timeout= targets= json h/help V/version
end

function __fish_mon_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mon_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mon_using_subcommand
    set -l cmd (__fish_mon_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mon -n "__fish_mon_needs_command" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_needs_command" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_needs_command" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_needs_command" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_needs_command" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_needs_command" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_needs_command" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_needs_command" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_needs_command" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_needs_command" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_needs_command" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_needs_command" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_needs_command" -f -a "count" -d 'Number of nodes that answered'
complete -c mon -n "__fish_mon_needs_command" -f -a "depth" -d 'Depth of the overlay'
complete -c mon -n "__fish_mon_needs_command" -f -a "topology" -d 'Edges of the overlay'
complete -c mon -n "__fish_mon_needs_command" -f -a "avg" -d 'Mean of a resource (the resources and their units are listed below)'
complete -c mon -n "__fish_mon_needs_command" -f -a "top" -d 'The N nodes with the largest values of a resource (listed below)'
complete -c mon -n "__fish_mon_needs_command" -f -a "histo" -d 'Histogram of a resource (listed below)'
complete -c mon -n "__fish_mon_needs_command" -f -a "filter" -d 'Nodes where RES OP VALUE holds (OP, any case: G L GE LE EQ NE > < >= <= == !=), or `filter grep WORD FILE`: nodes whose FILE contains WORD'
complete -c mon -n "__fish_mon_needs_command" -f -a "exec" -d 'Run a command on every node; identical outcomes are grouped. Everything from the command\'s first word on is the command (`mon exec uname -r`); put `--` before it when it starts with `-`'
complete -c mon -n "__fish_mon_needs_command" -f -a "shell" -d 'An interactive session: the overlay is built once, then each command typed (or piped, one per line) runs over it as a follow-up Command signed by the session\'s command key. `help` lists the commands; `.json on|off`; Ctrl-C cancels the running command, not the session. Exit code: the highest of the commands\' (1 if one had missing, denied or failed nodes or was cancelled; 2 if a line did not parse)'
complete -c mon -n "__fish_mon_needs_command" -f -a "members" -d 'The entry server\'s partial view: name, address, age, RTT'
complete -c mon -n "__fish_mon_needs_command" -f -a "push" -d 'Push a file to every node (multi-parent DAG; `--max-parents` defaults to 3, 1 makes a chain/tree); lands atomically at DEST where the policy\'s push-dirs allow it'
complete -c mon -n "__fish_mon_needs_command" -f -a "web" -d 'Serve the web console on loopback (elsewhere only over TLS): fleet, queries with charts, topology (and exec, push when `--allow` names them), signed with your key as the CLI does. Prints a login URL with its secret token; the URL logs in once. Press Enter in its terminal (a line on its stdin) for a new URL, which replaces the last'
complete -c mon -n "__fish_mon_needs_command" -f -a "policy" -d 'Slice policy tools for admins: check files, explain a decision, add a user'
complete -c mon -n "__fish_mon_needs_command" -f -a "known-nodes" -d 'Edit known_nodes: pin a node\'s key (add), remove a node, revoke a key'
complete -c mon -n "__fish_mon_needs_command" -f -a "audit" -d 'Audit log tools for operators: show, verify, export; fleet reviews every node\'s log'
complete -c mon -n "__fish_mon_needs_command" -f -a "key" -d 'User key tools: show which key MON would sign with'
complete -c mon -n "__fish_mon_needs_command" -f -a "server" -d 'Run the MON server (`mon server init` creates its node key first)'
complete -c mon -n "__fish_mon_needs_command" -f -a "testbed" -d 'Start N real servers on 127.0.0.2… with keys and a policy, then run a command'
complete -c mon -n "__fish_mon_needs_command" -f -a "sim" -d 'Simulate N servers under virtual time (deterministic): coverage and timing of sessions, as the paper\'s Table 1'
complete -c mon -n "__fish_mon_needs_command" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish (also elvish, powershell), e.g. `mon completions bash > ~/.local/share/bash-completion/completions/mon` (the Debian package installs them)'
complete -c mon -n "__fish_mon_needs_command" -f -a "man" -d 'Print the man page mon(1) as roff (`mon man | man -l -`), or write every page with `--dir` (the Debian package installs them)'
complete -c mon -n "__fish_mon_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand count" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand count" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand count" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand count" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand count" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand count" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand count" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand depth" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand depth" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand depth" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand depth" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand depth" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand depth" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand depth" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand topology" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand topology" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand topology" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand topology" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand topology" -l dot -d 'Print Graphviz dot'
complete -c mon -n "__fish_mon_using_subcommand topology" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand topology" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand topology" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand avg" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand avg" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand avg" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand avg" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand avg" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand avg" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand avg" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand top" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand top" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand top" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand top" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand top" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand top" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand histo" -l buckets -d 'Number of equal-width buckets' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand histo" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand histo" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand histo" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand histo" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand histo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand histo" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand filter" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand filter" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand filter" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand filter" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand filter" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand filter" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand filter" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand exec" -l cmd-timeout -d 'Per-node timeout, seconds' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l where -d 'Run only where RES OP VALUE holds (given twice: the last one)' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l ok-exit -d 'Exit statuses that count as success, e.g. 0,1 or 0-2,127; any other status, a signal or a timeout makes the node failed (exit code 1)' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand exec" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand exec" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand exec" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand exec" -l shell -d 'Run through /bin/sh -c (default: no shell)'
complete -c mon -n "__fish_mon_using_subcommand exec" -l raw -d 'Write the commands\' output as they wrote it even on a terminal. By default it is written as is when stdout is a pipe or file, and with control characters and bidirectional overrides escaped (`\\u{1b}`) on a terminal; node names and reasons are always escaped'
complete -c mon -n "__fish_mon_using_subcommand exec" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand exec" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand shell" -l class -d 'The operation class the session is signed for: commands outside it are denied by every node (query: status queries; read: also `filter grep`; exec: also exec)' -r -f -a "query\t'Status queries (`mon-query@mon`)'
read\t'Queries and `filter grep` (`mon-read@mon`)'
exec\t'Queries, reads and exec (`mon-exec@mon`)'"
complete -c mon -n "__fish_mon_using_subcommand shell" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand shell" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand shell" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand shell" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand shell" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand shell" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand shell" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand members" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand members" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand members" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand members" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand members" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand members" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand members" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand push" -l mode -d 'Mode of the landed file, octal' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l block-size -d 'Block size, 4K–512K (e.g. 64K, 256K; default: about 1024 blocks, 32K–512K; files up to 6000 blocks of 512K, about 2.9 GiB)' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l where -d 'Land the file only where RES OP VALUE holds (OP: G L GE LE EQ NE > < >= <= == !=); the other nodes still relay blocks and are reported as skipped' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand push" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand push" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand push" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand push" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand push" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand web" -l listen -d 'Address to serve the console on: loopback, or any other one address with `--tls-cert` and `--tls-key` (browsers then reach it by that address)' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l tls-cert -d 'Serve HTTPS with this certificate chain (PEM); needs `--tls-key`' -r -F
complete -c mon -n "__fish_mon_using_subcommand web" -l tls-key -d 'The private key of `--tls-cert` (PEM)' -r -F
complete -c mon -n "__fish_mon_using_subcommand web" -l allow -d 'Actions the console may sign besides queries (none by default)' -r -f -a "exec\t'Run commands on the nodes (`exec`)'
push\t'Push files to the nodes (`push`)'"
complete -c mon -n "__fish_mon_using_subcommand web" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand web" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand web" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand web" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand web" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand web" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand web" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -f -a "check" -d 'Check slice directories and policy files: errors and warnings as file:line:col'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -f -a "explain" -d 'Explain what a slice\'s policy decides for a key and an operation'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -f -a "add-user" -d 'Grant a user\'s key capability classes in a slice, without editing files by hand'
complete -c mon -n "__fish_mon_using_subcommand policy; and not __fish_seen_subcommand_from check explain add-user help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from check" -l at -d 'Check validity windows at this time instead of now (@UNIX, YYYYMMDD[HHMM[SS]][Z] or RFC 3339)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l slice-dir -d 'The slice directory (allowed_signers, mon_policy, revoked_keys)' -r -F
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l key -d 'The user\'s public key (an OpenSSH ssh-ed25519 .pub file)' -r -F
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l principal -d 'The principal the session names (default: found by key, as ssh-keygen -Y find-principals does)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l from -d 'The client address, as the entry node sees it (checked against from=)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l node -d 'The node deciding (checked against nodes=; default: this host\'s name)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l at -d 'Decide at this time instead of now (@UNIX, YYYYMMDD[HHMM[SS]][Z] or RFC 3339)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l namespace -d 'The namespace the session is signed with (default: the class OP needs)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l fanout -d 'The session\'s fanout (checked against max-fanout=)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -l lifetime -d 'The session\'s lifetime in seconds (checked against max-lifetime=)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from explain" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l ops -d 'The capability classes granted (comma-separated). The client signs each session with the least class it needs, so a user who runs queries needs `query` besides `exec`' -r -f -a "query\t'Queries: count, depth, topology, members, avg, top, histo, filter on resources'
read\t'Queries plus `filter grep` (reads files)'
exec\t'Queries, grep and exec'
push\t'Push, plus queries'"
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l config-dir -d 'The config dir holding slices/' -r -F
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l valid-after -d 'The key is valid from this time on (YYYYMMDD[HHMM[SS]]Z, as ssh-keygen)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l valid-before -d 'The key is valid until this time (YYYYMMDD[HHMM[SS]]Z, as ssh-keygen)' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l from -d 'Client addresses allowed at the entry node' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l nodes -d 'Node name patterns where operations may run' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l command -d 'Exec only: a glob over the command line' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l grep-paths -d 'Grep only: files or directories it may read' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l push-dirs -d 'Push only: directories a push may land below' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l max-fanout -d 'Largest overlay fanout a session may ask for' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l max-lifetime -d 'Longest session lifetime' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l run-as -d 'The user exec, grep and push run as on a root server' -r
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -l allow-setid -d 'A push may land setuid, setgid or sticky bits'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from add-user" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check slice directories and policy files: errors and warnings as file:line:col'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Explain what a slice\'s policy decides for a key and an operation'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "add-user" -d 'Grant a user\'s key capability classes in a slice, without editing files by hand'
complete -c mon -n "__fish_mon_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -f -a "add" -d 'Pin a node\'s key: adds the line `NAME,HOST ssh-ed25519 KEY`'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -f -a "remove" -d 'Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -f -a "revoke" -d 'Revoke a node\'s key: the lines pinning it become `@revoked …`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and not __fish_seen_subcommand_from add remove revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from add" -l config-dir -d 'The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)' -r -F
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from remove" -l config-dir -d 'The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)' -r -F
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from revoke" -l config-dir -d 'The config dir whose known_nodes is edited (the global --known-nodes FILE names another file)' -r -F
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from help" -f -a "add" -d 'Pin a node\'s key: adds the line `NAME,HOST ssh-ed25519 KEY`'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a node\'s key: the lines pinning it become `@revoked …`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)'
complete -c mon -n "__fish_mon_using_subcommand known-nodes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -f -a "show" -d 'Print audit records as a table (or JSON lines), filtered'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -f -a "verify" -d 'Check the hash chain and seq of a log, across its rotated files: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -f -a "export" -d 'Write a recorded session\'s body and signature (session.cbor, session.sig) so that `ssh-keygen -Y verify` can check it; prints the command. Exit 0, 1 not found, 2 error'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -f -a "fleet" -d 'Review every node\'s audit records through the overlay: counts by event, principal and node, the newest matching records with their node names, and whether each node\'s hash chain verified. Needs a key granted `mon-audit@mon` in the slice; nodes return only that slice\'s records, and the read is itself audited. Exit codes as for queries (1 also when a node\'s chain did not verify)'
complete -c mon -n "__fish_mon_using_subcommand audit; and not __fish_seen_subcommand_from show verify export fleet help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only records at or after this time: a duration back from now (`90s`, `15m`, `1h`, `2d`, `1w`) or an RFC 3339 time (`2025-03-01T12:00:00Z`)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l slice -d 'Only records of this slice' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l principal -d 'Only records of this principal' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l key -d 'Only records of this key fingerprint (`SHA256:…`; the prefix may be left out)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l event -d 'Only this event (`session.deny`), or a whole category without a dot (`session`)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l session -d 'Only records of this session id (hex; a prefix is enough)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l denied -d 'Only refusals: result `deny`, `*.deny` and `*.reject` events'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -l json -d 'Print the matching records as JSON lines, unchanged'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from export" -l log -d 'The log file, or a state dir (its audit.jsonl and rotated files) [default: ./audit.jsonl]' -r -F
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from export" -l out -d 'Directory to write session.cbor and session.sig into (created if missing)' -r -F
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l since -d 'Only records at or after this time: a duration back from now (`90s`, `15m`, `1h`, `2d`, `1w`) or an RFC 3339 time (`2025-03-01T12:00:00Z`)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l event -d 'Only this event (`session.deny`), or a whole category without a dot (`session`)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l limit -d 'How many of the newest matching records to show (1 to 100)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l key -d 'Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY; default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519]' -r -F
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l server -d 'Entry server: a host name, a known_nodes name or an IP, the port optional (7460); IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the address [env: MON_SERVER; default: 127.0.0.1]' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l slice -d 'Slice whose policy decides [env: MON_SLICE; default: the entry server\'s only slice]' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l principal -d 'Principal to claim (servers find it from the key otherwise)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l known-nodes -d 'known_nodes file used to check the entry server\'s key [env: MON_KNOWN_NODES; default: ~/.mon/known_nodes, else /etc/mon/known_nodes]' -r -F
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l overlay -d 'Overlay algorithm [default: random]' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l fanout -d 'Children per node [default: adapts to the system\'s size]' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l max-parents -d 'Parents per node in a DAG [default: 1 for queries, 3 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l timeout -d 'Seconds to wait for the answer [default: 10; 600 for push]' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l targets -d 'Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`), node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`); repeatable, the lists are joined (a comma inside brackets stays in its node set)' -r
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l denied -d 'Only refusals: result `deny`, `*.deny` and `*.reject` events'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -l json -d 'Print one JSON object (documented in docs/operations.md)'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from fleet" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print audit records as a table (or JSON lines), filtered'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain and seq of a log, across its rotated files: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write a recorded session\'s body and signature (session.cbor, session.sig) so that `ssh-keygen -Y verify` can check it; prints the command. Exit 0, 1 not found, 2 error'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "fleet" -d 'Review every node\'s audit records through the overlay: counts by event, principal and node, the newest matching records with their node names, and whether each node\'s hash chain verified. Needs a key granted `mon-audit@mon` in the slice; nodes return only that slice\'s records, and the read is itself audited. Exit codes as for queries (1 also when a node\'s chain did not verify)'
complete -c mon -n "__fish_mon_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand key; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand key; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand key; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Show which key MON would sign with: fingerprint, type, comment and where it comes from'
complete -c mon -n "__fish_mon_using_subcommand key; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from show" -l key -d 'An OpenSSH Ed25519 private key, or its public key (FILE.pub) to sign through ssh-agent' -r -F
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object instead of text'
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show which key MON would sign with: fingerprint, type, comment and where it comes from'
complete -c mon -n "__fish_mon_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l config -d 'Settings file (`KEY VALUE` lines named like these flags; flags given here win). Default: CONFIG_DIR/server.conf when it exists' -r -F
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l config-dir -d 'Directory with the node key, known_nodes and slices/<slice>/ policy files' -r -F
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l state-dir -d 'Directory for audit.jsonl and the replay journal (created 0700)' -r -F
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l listen -d 'UDP and TCP address to listen on: an IP or a host name (its first address), the port optional; IPv6 as `[ADDR]:PORT` or `ADDR`' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l advertise -d 'Address other nodes reach this one at, when not the listen address (port: the listen port). Default with an unspecified listen IP: this node\'s address in known_nodes, else the source address its peers see' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l join -d 'Nodes to join through (comma-separated; repeatable): IPs or host names, the port optional [default port: 7460]. Names are looked up at start and every 30 s' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l name -d 'This node\'s name as listed in known_nodes (default: the host name)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l resource -d 'Operator-defined resource: NAME=COMMAND, run by /bin/sh -c, stdout parsed as a number' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l skew -d 'Allowed clock skew in seconds' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l push-policy -d 'Block scheduling of pushes: rarest-first (default) or first-fit (the paper\'s)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l push-primary-first -d 'Push downloads ask their first parent for every block it holds and the other parents only for blocks the first one lacks (`false` only for benchmarks)' -r -f -a "true\t''
false\t''"
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l run-as-users -d 'Run-as users a slice\'s policy may name on this node, when the server runs as root: `SLICE USER,USER…` (repeat for each slice). A session that would exec, grep or push as a user not listed for its slice is refused (`run-as-not-allowed`); root only if listed' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-sessions -d 'Sessions this node runs at once (beyond: refused with `busy`, retry later)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-sessions-per-key -d 'Running sessions one key may have on this node, its share of the table (beyond: `busy-key`)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-sessions-per-slice -d 'Running sessions one slice may have on this node (beyond: `busy-slice`)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-runs -d 'Execs, greps and audit reads this node runs at once across all sessions (one more is denied on this node: `node-runs-busy`), 1 to 1024' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-interactive-per-key -d 'Interactive sessions (`mon shell`) one key may hold on this node, between commands or not (beyond: `busy-interactive`, retry later), 1 to 1024' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l max-interactive-lifetime-s -d 'Longest signed lifetime, in seconds, of an interactive session this node accepts (beyond: `interactive-lifetime-too-long`), 60 to 3600. `mon shell` signs 900: below that, this node refuses `mon shell`' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l go-wait-ms -d 'Milliseconds a session waits for its parent\'s go (first sealed frame) before it is dropped (sooner when its signed join window is shorter)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l ping-interval-ms -d 'Mean gossip interval in milliseconds (each Ping carries 3 view entries and 1 hint; the default keeps gossip under 500 B/s per node)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l audit-rotate-size -d 'Rotate the audit log once its file holds this much: `64M`, `512K`, `1G` or bytes; `off` (or 0): never by size. The next file begins with a `log.rotate` record that continues the hash chain' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l audit-rotate-age -d 'Rotate the audit log once its file\'s first record is this old: `90s`, `15m`, `1h`, `2d`, `1w`; `off` (or 0, the default): never by age' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l audit-keep -d 'Rotated audit log files kept (the oldest beyond are removed, each after a `log.retention` record naming it); `all`: never remove' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l journal-compact-lines -d 'Replay-journal lines appended before it is compacted in the background (at least as many as it held after its last compaction); for tests' -r
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -l log-format -d 'Log lines on stderr: text, or one JSON object a line (levels by `RUST_LOG`)' -r -f -a "text\t'`TIMESTAMP LEVEL target: message key=value…`'
json\t'One JSON object a line: `timestamp`, `level`, `message`, the event\'s fields, `target`'"
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -f -a "init" -d 'Create this node\'s key and print its known_nodes line'
complete -c mon -n "__fish_mon_using_subcommand server; and not __fish_seen_subcommand_from init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from init" -l config-dir -d 'Directory that will hold the node key (`node_ed25519_key`)' -r -F
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from init" -l name -d 'Node name (default: the host name)' -r
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create this node\'s key and print its known_nodes line'
complete -c mon -n "__fish_mon_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand testbed" -l nodes -d 'Number of servers' -r
complete -c mon -n "__fish_mon_using_subcommand testbed" -l dir -d 'Directory for keys, policies, state and logs [default: a temporary directory, removed at exit]' -r -F
complete -c mon -n "__fish_mon_using_subcommand testbed" -l port -d 'Port every server listens on (each has its own 127.0.0.x address)' -r
complete -c mon -n "__fish_mon_using_subcommand testbed" -l settle-timeout -d 'Seconds to wait for membership to settle' -r
complete -c mon -n "__fish_mon_using_subcommand testbed" -l resource -d 'Extra `--resource NAME=COMMAND` for every server' -r
complete -c mon -n "__fish_mon_using_subcommand testbed" -l prepare-only -d 'Only write the keys, known_nodes and policies into --dir, start nothing (for scripts and tests that start the servers themselves)'
complete -c mon -n "__fish_mon_using_subcommand testbed" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand testbed" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand sim" -l nodes -d 'Number of servers' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l overlay -d 'Overlay algorithm(s), comma-separated; sessions alternate between the configurations' -r -f -a "random\t'Random tree'
twostage\t'Random first hops, then local neighbours'
dag\t'DAG with several parents per node'"
complete -c mon -n "__fish_mon_using_subcommand sim" -l fanout -d 'Children per node, comma-separated for several columns; `auto` is the servers\' adaptive default, from their estimate of the system\'s size [default: auto]' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l dead -d 'Fraction of nodes that die just before the first session' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l stragglers -d 'Fraction of slow nodes (median 50 ms per packet instead of 0.3 ms)' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l sessions -d 'Sessions per configuration' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l seed -d 'Seed: the same seed gives the same output' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l settle -d 'Virtual seconds of membership gossip before the first session' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l timeout -d 'The client\'s timeout, seconds' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l loss -d 'Packet loss rate between nodes' -r
complete -c mon -n "__fish_mon_using_subcommand sim" -l latency -d 'Latency model: PlanetLab-like sites, or one LAN (to compare with `mon testbed`)' -r -f -a "planetlab\t'Sites on a PlanetLab-like map: RTT median ~140 ms, a few hundred ms at the far end'
lan\t'One LAN or loopback: tens of µs'"
complete -c mon -n "__fish_mon_using_subcommand sim" -l cdf -d 'Write the count-time CDF here (CSV: overlay,fanout,count_ms,cdf)' -r -F
complete -c mon -n "__fish_mon_using_subcommand sim" -l json -d 'Print one JSON object per configuration (one per line)'
complete -c mon -n "__fish_mon_using_subcommand sim" -l per-session -d 'With --json, include every session'
complete -c mon -n "__fish_mon_using_subcommand sim" -s q -l quiet -d 'No progress on stderr'
complete -c mon -n "__fish_mon_using_subcommand sim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mon -n "__fish_mon_using_subcommand sim" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand man" -l dir -d 'Write mon.1 and one page per subcommand (mon-server.1, mon-policy-check.1, …) into DIR instead of printing mon.1' -r -F
complete -c mon -n "__fish_mon_using_subcommand man" -s h -l help -d 'Print help'
complete -c mon -n "__fish_mon_using_subcommand man" -s V -l version -d 'Print version'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "count" -d 'Number of nodes that answered'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "depth" -d 'Depth of the overlay'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "topology" -d 'Edges of the overlay'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "avg" -d 'Mean of a resource (the resources and their units are listed below)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "top" -d 'The N nodes with the largest values of a resource (listed below)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "histo" -d 'Histogram of a resource (listed below)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "filter" -d 'Nodes where RES OP VALUE holds (OP, any case: G L GE LE EQ NE > < >= <= == !=), or `filter grep WORD FILE`: nodes whose FILE contains WORD'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "exec" -d 'Run a command on every node; identical outcomes are grouped. Everything from the command\'s first word on is the command (`mon exec uname -r`); put `--` before it when it starts with `-`'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "shell" -d 'An interactive session: the overlay is built once, then each command typed (or piped, one per line) runs over it as a follow-up Command signed by the session\'s command key. `help` lists the commands; `.json on|off`; Ctrl-C cancels the running command, not the session. Exit code: the highest of the commands\' (1 if one had missing, denied or failed nodes or was cancelled; 2 if a line did not parse)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "members" -d 'The entry server\'s partial view: name, address, age, RTT'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "push" -d 'Push a file to every node (multi-parent DAG; `--max-parents` defaults to 3, 1 makes a chain/tree); lands atomically at DEST where the policy\'s push-dirs allow it'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "web" -d 'Serve the web console on loopback (elsewhere only over TLS): fleet, queries with charts, topology (and exec, push when `--allow` names them), signed with your key as the CLI does. Prints a login URL with its secret token; the URL logs in once. Press Enter in its terminal (a line on its stdin) for a new URL, which replaces the last'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "policy" -d 'Slice policy tools for admins: check files, explain a decision, add a user'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "known-nodes" -d 'Edit known_nodes: pin a node\'s key (add), remove a node, revoke a key'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "audit" -d 'Audit log tools for operators: show, verify, export; fleet reviews every node\'s log'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "key" -d 'User key tools: show which key MON would sign with'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "server" -d 'Run the MON server (`mon server init` creates its node key first)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "testbed" -d 'Start N real servers on 127.0.0.2… with keys and a policy, then run a command'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "sim" -d 'Simulate N servers under virtual time (deterministic): coverage and timing of sessions, as the paper\'s Table 1'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish (also elvish, powershell), e.g. `mon completions bash > ~/.local/share/bash-completion/completions/mon` (the Debian package installs them)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "man" -d 'Print the man page mon(1) as roff (`mon man | man -l -`), or write every page with `--dir` (the Debian package installs them)'
complete -c mon -n "__fish_mon_using_subcommand help; and not __fish_seen_subcommand_from count depth topology avg top histo filter exec shell members push web policy known-nodes audit key server testbed sim completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Check slice directories and policy files: errors and warnings as file:line:col'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Explain what a slice\'s policy decides for a key and an operation'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "add-user" -d 'Grant a user\'s key capability classes in a slice, without editing files by hand'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from known-nodes" -f -a "add" -d 'Pin a node\'s key: adds the line `NAME,HOST ssh-ed25519 KEY`'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from known-nodes" -f -a "remove" -d 'Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays refused)'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from known-nodes" -f -a "revoke" -d 'Revoke a node\'s key: the lines pinning it become `@revoked …`, refused under every name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line pins it)'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print audit records as a table (or JSON lines), filtered'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the hash chain and seq of a log, across its rotated files: exit 0 intact, 1 broken (naming the file and the first bad line), 2 unreadable. Removing only the newest records cannot be detected (that needs signed checkpoints)'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Write a recorded session\'s body and signature (session.cbor, session.sig) so that `ssh-keygen -Y verify` can check it; prints the command. Exit 0, 1 not found, 2 error'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "fleet" -d 'Review every node\'s audit records through the overlay: counts by event, principal and node, the newest matching records with their node names, and whether each node\'s hash chain verified. Needs a key granted `mon-audit@mon` in the slice; nodes return only that slice\'s records, and the read is itself audited. Exit codes as for queries (1 also when a node\'s chain did not verify)'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "show" -d 'Show which key MON would sign with: fingerprint, type, comment and where it comes from'
complete -c mon -n "__fish_mon_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "init" -d 'Create this node\'s key and print its known_nodes line'
