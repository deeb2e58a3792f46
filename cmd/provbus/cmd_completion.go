package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

func init() {
	commands["completion"] = command{
		summary:     "print a shell completion script (bash, zsh or fish)",
		example:     "provbus completion bash > ~/.local/share/bash-completion/completions/provbus\nprovbus completion zsh > \"${fpath[1]}/_provbus\"\nprovbus completion fish > ~/.config/fish/completions/provbus.fish",
		subcommands: []string{"bash", "zsh", "fish"},
		run:         runCompletion,
	}
}

const completionUsage = `usage: provbus completion bash|zsh|fish

Prints a completion script for the shell, generated from the command table
and each command's flags: commands, their subcommands and their flags.

flags:
`

func runCompletion(ctx context.Context, _ *globals, args []string) error {
	shell := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		shell, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(strings.TrimSpace("completion "+shell), flag.ContinueOnError)
	if err := parseFlags(fs, completionUsage, args); err != nil {
		return err
	}
	write := map[string]func(io.Writer, []cmdSpec) error{"bash": writeBash, "zsh": writeZsh, "fish": writeFish}[shell]
	if write == nil {
		return fmt.Errorf("%w: provbus completion bash|zsh|fish", errUsage)
	}
	spec, err := describeCommands(ctx)
	if err != nil {
		return err
	}
	return write(stdout, spec)
}

// cmdSpec is what completion knows of one command line: "dlq list" or
// "replay".
type cmdSpec struct {
	name, sub string
	summary   string
	flags     []flagSpec
}

type flagSpec struct {
	name, usage string
	valued      bool // takes a value (not a bool flag)
}

// describeCommands asks every command (and each of its subcommands) for
// its FlagSet, in describe mode: nothing runs.
func describeCommands(ctx context.Context) ([]cmdSpec, error) {
	ctx, cancel := context.WithCancel(ctx)
	cancel() // a command that tried to do work would stop at once
	saved, savedCLI := describe, cli
	defer func() { describe, cli = saved, savedCLI }()
	var out []cmdSpec
	for _, name := range commandNames() {
		cmd := commands[name]
		subs := cmd.subcommands
		if len(subs) == 0 {
			subs = []string{""}
		}
		for _, sub := range subs {
			var got *flag.FlagSet
			describe = func(fs *flag.FlagSet) { got = fs }
			cli = &globals{}
			var args []string
			if sub != "" {
				args = []string{sub}
			}
			err := cmd.run(ctx, cli, args)
			if got == nil {
				return nil, fmt.Errorf("completion: %s %s does not parse its flags with parseFlags (%v)", name, sub, err)
			}
			if !errors.Is(err, flag.ErrHelp) {
				return nil, fmt.Errorf("completion: %s %s: %v", name, sub, err)
			}
			s := cmdSpec{name: name, sub: sub, summary: cmd.summary}
			got.VisitAll(func(f *flag.Flag) {
				b, ok := f.Value.(interface{ IsBoolFlag() bool })
				_, usage := flag.UnquoteUsage(f)
				s.flags = append(s.flags, flagSpec{name: f.Name, usage: usage, valued: !ok || !b.IsBoolFlag()})
			})
			out = append(out, s)
		}
	}
	return out, nil
}

// flagWords is "--a --b" for s's flags, all of them or only the valued.
func flagWords(flags []flagSpec, valuedOnly bool) string {
	var w []string
	for _, f := range flags {
		if !valuedOnly || f.valued {
			w = append(w, "--"+f.name)
		}
	}
	return strings.Join(w, " ")
}

// lines groups spec by command line for the scripts: key is "dlq list";
// a command whose subcommands all share one FlagSet (catalog's words) also
// gets its name alone as a key, so its flags complete before a word too.
func lines(spec []cmdSpec) (keys []string, byKey map[string][]flagSpec) {
	byKey = map[string][]flagSpec{}
	first := map[string][]flagSpec{}
	shared := map[string]bool{}
	for _, s := range spec {
		key := strings.TrimSpace(s.name + " " + s.sub)
		keys = append(keys, key)
		byKey[key] = s.flags
		if f, ok := first[s.name]; !ok {
			first[s.name], shared[s.name] = s.flags, true
		} else if flagWords(f, false) != flagWords(s.flags, false) {
			shared[s.name] = false
		}
	}
	for _, s := range spec {
		if s.sub != "" && shared[s.name] && byKey[s.name] == nil {
			keys = append(keys, s.name)
			byKey[s.name] = s.flags
		}
	}
	return keys, byKey
}

// shellTables writes the case bodies the bash and zsh scripts share: the
// subcommands of each command, the flags and the valued flags of each
// command line.
func shellTables(spec []cmdSpec) (subs, flags, valued []string) {
	for _, n := range commandNames() {
		if s := commands[n].subcommands; len(s) > 0 {
			subs = append(subs, fmt.Sprintf("        %q) echo %q ;;", n, strings.Join(s, " ")))
		}
	}
	keys, byKey := lines(spec)
	for _, k := range keys {
		flags = append(flags, fmt.Sprintf("        %q) echo %q ;;", k, flagWords(byKey[k], false)))
		valued = append(valued, fmt.Sprintf("        %q) echo %q ;;", k, flagWords(byKey[k], true)))
	}
	return subs, flags, valued
}

func globalWords() string {
	var w []string
	for _, f := range globalFlags {
		w = append(w, "--"+f.name)
	}
	return strings.Join(w, " ") + " --help"
}

// The bash and zsh scripts walk the words typed so far the same way: the
// first word that is no flag (nor a flag's value) is the command, the next
// one its subcommand when it has subcommands.
const shellFunctions = `_provbus_subs() {
    case "$1" in
%s
    esac
}
_provbus_flags() {
    case "$1" in
%s
    esac
}
_provbus_valued() {
    case "$1" in
%s
    esac
}
# _provbus_context sets cmd and sub from the words before the current one.
_provbus_context() {
    local w skip=
    cmd= sub=
    shift # provbus; the last argument is the word being completed
    while (( $# > 1 )); do
        w=$1
        shift
        if [[ -n $skip ]]; then skip=; continue; fi
        case $w in
        -*=*) ;;
        -*)
            local key=$cmd${sub:+ $sub}
            [[ -z $cmd ]] && key=provbus
            local name=${w#-}
            name=${name#-}
            [[ " $(_provbus_valued "$key") " == *" --$name "* ]] && skip=1 ;;
        *)
            if [[ -z $cmd ]]; then cmd=$w
            elif [[ -z $sub && -n $(_provbus_subs "$cmd") ]]; then sub=$w
            fi ;;
        esac
    done
}
# _provbus_words prints the candidates for the word cur.
_provbus_words() {
    local cur=$1 key=$cmd${sub:+ $sub}
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then _provbus_flags provbus; else echo %q; fi
    elif [[ -z $sub && -n $(_provbus_subs "$cmd") && $cur != -* ]]; then
        _provbus_subs "$cmd"
    elif [[ $cur == -* ]]; then
        _provbus_flags "$key"
    fi
}
`

func writeShellFunctions(w io.Writer, spec []cmdSpec) error {
	subs, flags, valued := shellTables(spec)
	cmds := strings.Join(commandNames(), " ")
	flags = append(flags, fmt.Sprintf("        provbus) echo %q ;;", globalWords()))
	valued = append(valued, fmt.Sprintf("        provbus) echo %q ;;", flagWords(globalSpecs(), true)))
	_, err := fmt.Fprintf(w, shellFunctions, strings.Join(subs, "\n"), strings.Join(flags, "\n"), strings.Join(valued, "\n"), cmds)
	return err
}

func globalSpecs() []flagSpec {
	var out []flagSpec
	for _, f := range globalFlags {
		out = append(out, flagSpec{name: f.name, usage: strings.ReplaceAll(f.usage, "`", ""), valued: true})
	}
	return out
}

func writeBash(w io.Writer, spec []cmdSpec) error {
	fmt.Fprint(w, "# bash completion for provbus, generated by `provbus completion bash`.\n# Load it with: source <(provbus completion bash)\n\n")
	if err := writeShellFunctions(w, spec); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, `_provbus() {
    local cmd sub cur=${COMP_WORDS[COMP_CWORD]}
    _provbus_context "${COMP_WORDS[@]:0:COMP_CWORD+1}"
    local words
    words=$(_provbus_words "$cur")
    # No candidate (a flag's value, a FILE): bash completes file names.
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _provbus provbus
`)
	return err
}

func writeZsh(w io.Writer, spec []cmdSpec) error {
	fmt.Fprint(w, "#compdef provbus\n# zsh completion for provbus, generated by `provbus completion zsh`.\n# Put it in a directory of $fpath as _provbus, or: source <(provbus completion zsh)\n\n")
	if err := writeShellFunctions(w, spec); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, `_provbus() {
    local cmd sub cur=${words[CURRENT]}
    _provbus_context "${(@)words[1,CURRENT]}"
    local -a cand
    cand=(${=$(_provbus_words "$cur")})
    if (( ${#cand} )); then
        compadd -- $cand
    else
        _files
    fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _provbus "$@"
else
    compdef _provbus provbus
fi
`)
	return err
}

func writeFish(w io.Writer, spec []cmdSpec) error {
	keys, byKey := lines(spec)
	var valued, withSubs []string
	seen := map[string]bool{}
	for _, f := range globalSpecs() {
		valued, seen[f.name] = append(valued, f.name), true
	}
	for _, k := range keys {
		for _, f := range byKey[k] {
			if f.valued && !seen[f.name] {
				valued, seen[f.name] = append(valued, f.name), true
			}
		}
	}
	for _, n := range commandNames() {
		if len(commands[n].subcommands) > 0 {
			withSubs = append(withSubs, n)
		}
	}
	fmt.Fprintf(w, fishFunctions, strings.Join(valued, " "), strings.Join(withSubs, " "))
	for _, f := range globalSpecs() {
		fmt.Fprintf(w, "complete -c provbus -n '__provbus_at \"\"' -l %s -r -F -d %s\n", f.name, fishQuote(f.usage))
	}
	for _, n := range commandNames() {
		fmt.Fprintf(w, "complete -c provbus -n '__provbus_at \"\"' -a %s -d %s\n", n, fishQuote(commands[n].summary))
		if subs := commands[n].subcommands; len(subs) > 0 {
			fmt.Fprintf(w, "complete -c provbus -n '__provbus_at %s' -a '%s'\n", n, strings.Join(subs, " "))
		}
	}
	for _, k := range keys {
		cond := "__provbus_at '" + k + "'"
		name, _, sub := strings.Cut(k, " ")
		switch {
		case sub && byKey[name] != nil:
			continue // shared by every subcommand: declared once, under the name
		case !sub:
			cond = "__provbus_in " + k
		}
		for _, f := range byKey[k] {
			arg := ""
			if f.valued {
				arg = " -r -F"
			}
			fmt.Fprintf(w, "complete -c provbus -n \"%s\" -l %s%s -d %s\n", cond, f.name, arg, fishQuote(f.usage))
		}
	}
	return nil
}

// fishFunctions find the command line typed so far ("dlq list"), skipping
// flags and the values of the flags that take one.
const fishFunctions = `# fish completion for provbus, generated by ` + "`provbus completion fish`" + `.
# Save it as ~/.config/fish/completions/provbus.fish

set -g __provbus_valued %s
set -g __provbus_with_subs %s

function __provbus_line
    set -l toks (commandline -opc)
    set -e toks[1]
    set -l words
    set -l skip 0
    for t in $toks
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case '-*=*'
            case '-*'
                if contains -- (string replace -r '^--?' '' -- $t) $__provbus_valued
                    set skip 1
                end
            case '*'
                set -a words $t
        end
    end
    if set -q words[2]; and contains -- $words[1] $__provbus_with_subs
        echo "$words[1] $words[2]"
    else if set -q words[1]
        echo $words[1]
    end
end

# __provbus_at LINE: exactly LINE typed so far ("" for nothing yet).
function __provbus_at
    set -l line (__provbus_line)
    test "$line" = "$argv[1]"
end

# __provbus_in CMD: the command typed is CMD, with or without subcommand.
function __provbus_in
    set -l line (__provbus_line)
    test (string split ' ' -- "$line")[1] = "$argv[1]"
end

complete -c provbus -f
`

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
